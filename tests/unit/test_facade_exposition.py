"""The facade writes and reads what prometheus_client 0.21 writes and reads.

The same program runs against prometheus_client itself and against
atomicmetrics.prometheus_client (time frozen so ``_created`` agrees); both
text formats must come out byte for byte identical, and each library's
parsers must read the other's output into the same families.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import prometheus_client as upstream
import prometheus_client.core
import prometheus_client.openmetrics.exposition as upstream_om
import prometheus_client.openmetrics.parser as upstream_om_parser
import prometheus_client.parser as upstream_parser
import pytest

import atomicmetrics.prometheus_client as facade
import atomicmetrics.prometheus_client.core as facade_core
import atomicmetrics.prometheus_client.openmetrics.exposition as facade_om
import atomicmetrics.prometheus_client.openmetrics.parser as facade_om_parser
import atomicmetrics.prometheus_client.parser as facade_parser
from atomicmetrics.prometheus_client import metrics as facade_metrics


@pytest.fixture(autouse=True)
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.25)


def program(lib: ModuleType, negative: bool = True) -> Any:
    """A realistic instrumentation of every kind, on a fresh registry of ``lib``.

    ``negative`` adds a histogram with negative buckets, which both libraries
    expose with ``_count`` and without ``_sum``: text their OpenMetrics
    parsers refuse.
    """
    core = importlib.import_module(lib.__name__ + ".core")
    reg = lib.CollectorRegistry(target_info={"service": "api", "zone": 'eu"1'})
    requests = lib.Counter(
        "http_requests", "HTTP requests.", ["method", "code"], namespace="app", registry=reg
    )
    requests.labels("GET", "200").inc(41)
    requests.labels(method="POST", code="500").inc(exemplar={"trace_id": "abc"})
    requests.labels("GET", "200").inc(0.5)
    lib.Counter("jobs_total", "Jobs.\nSecond line \\ backslash", registry=reg).inc(3)
    lib.Counter("bytes", "Bytes.", unit="bytes", registry=reg).inc(2_000_000)
    lib.Counter("unused", "A labelled parent without children.", ["x"], registry=reg)
    lib.Summary("unused_summary", "No children either.", ["x"], registry=reg)
    temp = lib.Gauge("temperature", "Temperature.", ["room"], unit="celsius", registry=reg)
    temp.labels("kitchen").set(21.5)
    temp.labels('b"ath\\room\n').dec(3)
    lib.Gauge("big", "Big.", registry=reg).set(12345678901.0)
    lib.Gauge("inf", "Inf.", registry=reg).set(float("-inf"))
    lib.Gauge("fn", "Function.", registry=reg).set_function(lambda: 7)
    latency = lib.Histogram("latency_seconds", "Latency.", ["z_route", "a_method"], registry=reg)
    for i, x in enumerate((0.003, 0.02, 0.3, 4.0, 99.0)):
        latency.labels("/", "GET").observe(x, {"i": str(i)} if i % 2 else None)
    if negative:
        neg = lib.Histogram("neg", "Negative buckets.", buckets=[-1, 0, 1], registry=reg)
        neg.observe(-0.5)
    lib.Histogram("empty", "No observations.", buckets=[1e-5, 1e6, 5e10], registry=reg)
    size = lib.Summary("size_bytes", "Sizes.", ["kind"], registry=reg)
    size.labels("a").observe(10)
    size.labels("b").observe(2.5)
    lib.Info("build", "Build.", registry=reg).info({"version": "1.2", "commit": "abc"})
    lib.Enum("state", "State.", ["worker"], states=["idle", "busy"], registry=reg).labels(
        "w1"
    ).state("busy")

    class Custom:
        def collect(self) -> Iterator[Any]:
            yield core.GaugeHistogramMetricFamily(
                "queue", "Queue.", buckets=[("1.0", 4), ("+Inf", 5)], gsum_value=7
            )
            s = core.StateSetMetricFamily("flags", "Flags.", labels=["svc"])
            s.add_metric(["x"], {"on": True, "off": False})
            yield s
            u = core.UnknownMetricFamily("odd", "Odd.", labels=["k"])
            u.add_metric(["v"], 1.5, timestamp=12.5)
            yield u
            yield core.CounterMetricFamily("ext", "External.", value=9, created=100.0)

    reg.register(Custom())
    return reg


@pytest.mark.parametrize("created", [True, False])
def test_text_and_openmetrics_bytes_identical(
    created: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prometheus_client.metrics as upstream_metrics

    monkeypatch.setattr(upstream_metrics, "_use_created", created)
    monkeypatch.setattr(facade_metrics, "_use_created", created)
    ours, theirs = program(facade), program(upstream)
    assert facade.generate_latest(ours) == upstream.generate_latest(theirs)
    assert facade_om.generate_latest(ours) == upstream_om.generate_latest(theirs)


def _families(text: bytes) -> list[str]:
    """Exposition text split into families (a restricted registry's order is a set's)."""
    return sorted(f.strip() for f in ("\n" + text.decode()).split("\n# HELP "))


def test_restricted_registry_identical() -> None:
    ours, theirs = program(facade), program(upstream)
    names = ["app_http_requests_total", "latency_seconds_bucket", "target_info", "size_bytes_sum"]
    mine = facade.generate_latest(ours.restricted_registry(names))
    assert _families(mine) == _families(upstream.generate_latest(theirs.restricted_registry(names)))
    assert len(_families(mine)) == 5  # "" before the first, then one per family


def test_fast_path_matches_generic_path() -> None:
    """The facade's metrics render themselves; through collect() the bytes are the same."""

    class Generic(facade.CollectorRegistry):
        def collect(self) -> Iterator[Any]:  # a subclass's collect: the generic path
            yield from super().collect()

    fast = program(facade)
    generic = Generic(target_info={"service": "api", "zone": 'eu"1'})
    for collector in list(fast._collector_to_names):
        generic.register(collector)
    assert facade.generate_latest(fast) == facade.generate_latest(generic)
    assert facade_om.generate_latest(fast) == facade_om.generate_latest(generic)


def _shape(families: Any) -> list[Any]:
    """Parsed families as plain data, comparable across the two libraries."""
    out = []
    for m in families:
        samples = []
        for s in m.samples:
            ex = s.exemplar
            samples.append(
                (
                    s.name,
                    s.labels,
                    s.value,
                    None if s.timestamp is None else str(s.timestamp),
                    None if ex is None else (ex.labels, ex.value, str(ex.timestamp)),
                )
            )
        out.append((m.name, m.documentation, m.type, m.unit, samples))
    return out


def test_parsers_read_like_upstream() -> None:
    text = upstream.generate_latest(program(upstream, negative=False)).decode()
    assert _shape(facade_parser.text_string_to_metric_families(text)) == _shape(
        upstream_parser.text_string_to_metric_families(text)
    )
    om = upstream_om.generate_latest(program(upstream, negative=False)).decode()
    assert _shape(facade_om_parser.text_string_to_metric_families(om)) == _shape(
        upstream_om_parser.text_string_to_metric_families(om)
    )


def test_upstream_parsers_read_facade_output() -> None:
    reg = program(facade, negative=False)
    om = facade_om.generate_latest(reg).decode()
    assert _shape(upstream_om_parser.text_string_to_metric_families(om)) == _shape(
        facade_om_parser.text_string_to_metric_families(om)
    )
    text = facade.generate_latest(reg).decode()
    assert _shape(upstream_parser.text_string_to_metric_families(text)) == _shape(
        facade_parser.text_string_to_metric_families(text)
    )


@pytest.mark.parametrize(
    "text",
    [
        "a 1\n",  # no EOF
        "a 1\n\n# EOF\n",
        'a{a="1",} 1\n# EOF\n',
        "a  1\n# EOF\n",
        "a 1 NaN\n# EOF\n",
        "# TYPE a counter\na_total -1\n# EOF\n",
        '# TYPE a histogram\na_bucket{le="1"} 1\na_bucket{le="+Inf"} 0\n# EOF\n',
        '# TYPE a gauge\na 1 # {a="b"} 1\n# EOF\n',
        "# TYPE a gauge\na 0 1\na 0 0\n# EOF\n",
    ],
)
def test_openmetrics_parser_rejects_like_upstream(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        list(upstream_om_parser.text_string_to_metric_families(text))
    with pytest.raises(ValueError, match=r"."):
        list(facade_om_parser.text_string_to_metric_families(text))


def test_render_error_names_the_metric() -> None:
    reg = facade.CollectorRegistry()
    bad = facade_core.GaugeMetricFamily("bad", "Bad.")
    bad.add_metric([], "x")  # type: ignore[arg-type]

    class Bad:
        def collect(self) -> list[Any]:
            return [bad]

    reg.register(Bad())
    with pytest.raises(ValueError, match="could not convert") as info:
        facade.generate_latest(reg)
    assert info.value.args[-1] is bad


def _asgi_get(app: Any, query: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One GET through an ASGI app, driven by hand (no server)."""
    import asyncio

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/metrics", "query_string": query}
    asyncio.run(app({**scope, "headers": headers}, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_asgi_and_wsgi_apps_filter_by_name() -> None:
    reg = program(facade)
    status, body = _asgi_get(
        facade.make_asgi_app(reg),
        b"name[]=app_http_requests_total&name[]=temperature_celsius",
        [(b"accept", b"application/openmetrics-text")],
    )
    assert status == 200
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert 'app_http_requests_total{code="200",method="GET"} 41.5' in text
    assert "latency_seconds" not in text
    assert "temperature_celsius{" in text

    captured: list[Any] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "name[]=big"}
    (wsgi_body,) = facade.make_wsgi_app(reg)(environ, lambda *a: captured.append(a))
    assert captured[0][0] == "200 OK"
    assert wsgi_body == b"# HELP big Big.\n# TYPE big gauge\nbig 1.2345678901e+010\n"
