"""A real Prometheus server scrapes our endpoints; its query API must see our values.

Two scrape jobs, one per format: ``om`` scrapes ``start_http_server`` (Prometheus
asks for OpenMetrics first, so it gets OpenMetrics), ``text`` scrapes the WSGI
app behind a wrapper that drops ``Accept`` (so it gets text 0.0.4). Needs the
``prometheus`` binary (Debian package ``prometheus``): skipped locally without
it, a failure in CI.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from atomicmetrics import Registry, make_wsgi_app, start_http_server
from atomicmetrics.samples import Collector, MetricFamily, Sample
from atomicmetrics.wsgi import StartResponse
from tests.helpers import (
    StaticCollector,
    histogram_samples,
    prometheus_server,
    query,
    wait_until,
)

pytestmark = pytest.mark.integration

TRICKY = 'a"b\\c\nd'


def families() -> Collector:
    """A real Registry (rule family, counter) plus hand-made edge cases."""
    registry = Registry()
    rules = registry.rule_execution("it_rule", "Rule runs.", ["rule"], buckets=[1_000, 1_000_000])
    rules.labels("r1").record(500)
    rules.labels("r1").record(2_000_000, error=True)
    registry.counter("it_events", "Events.").inc(41)
    registry.register(edge_cases())
    return registry


def edge_cases() -> Collector:
    return StaticCollector(
        [
            MetricFamily(
                "it_jobs",
                "counter",
                'Jobs "done" \\ so far.',
                (
                    Sample("it_jobs_total", (("queue", TRICKY),), 5),
                    Sample("it_jobs_total", (("queue", "plain"),), 2.5),
                ),
            ),
            MetricFamily(
                "it_temperature_celsius",
                "gauge",
                "Temperature.",
                (
                    Sample("it_temperature_celsius", (("sensor", "hot"),), float("inf")),
                    Sample("it_temperature_celsius", (("sensor", "odd"),), float("nan")),
                    Sample("it_temperature_celsius", (("sensor", "cold"),), -40),
                ),
            ),
            MetricFamily(
                "it_latency_seconds",
                "histogram",
                "Latency.",
                tuple(
                    histogram_samples(
                        "it_latency_seconds", (("m", "GET"),), (0.1, 1.0, 1e6), [1, 2, 0, 4], 42.5
                    )
                ),
            ),
            MetricFamily(
                "it_offset_seconds",
                "histogram",
                "Negative sum: no _sum/_count in OpenMetrics.",
                tuple(histogram_samples("it_offset_seconds", (), (0.0, 1.0), [2, 0, 0], -3.0)),
            ),
        ]
    )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def text_server() -> Iterator[int]:
    """Our WSGI app on wsgiref, with ``Accept`` dropped: always text 0.0.4."""
    app = make_wsgi_app(families())

    def text_only(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ.pop("HTTP_ACCEPT", None)
        return app(environ, start_response)

    server: WSGIServer = make_server("127.0.0.1", 0, text_only, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def values(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def test_real_prometheus_scrapes_both_formats(tmp_path: Path, text_server: int) -> None:
    with start_http_server(0, registry=families()) as om_server:
        jobs = {"om": f"127.0.0.1:{om_server.port}", "text": f"127.0.0.1:{text_server}"}
        with prometheus_server(tmp_path, jobs) as (base, proc):
            # Both jobs scraped at least once, successfully.
            up = wait_until(
                lambda: r if (r := query(base, "up == 1")) and len(r) == 2 else None,
                "both targets up",
                proc=proc,
            )
            assert sorted(r["metric"]["job"] for r in up) == ["om", "text"]
            wait_until(
                lambda: r if (r := query(base, "it_latency_seconds_sum")) and len(r) == 2 else None,
                "histogram sums from both jobs",
                proc=proc,
            )

            for job in ("om", "text"):
                sel = f'{{job="{job}"}}'
                jobs = query(base, f"it_jobs_total{sel}")
                assert jobs is not None
                assert values(jobs, "queue") == {TRICKY: 5.0, "plain": 2.5}
                temps = query(base, f"it_temperature_celsius{sel}")
                assert temps is not None
                got = values(temps, "sensor")
                assert got["hot"] == math.inf
                assert math.isnan(got["odd"])
                assert got["cold"] == -40.0
                buckets = query(base, f"it_latency_seconds_bucket{sel}")
                assert buckets is not None
                assert values(buckets, "le") == {"0.1": 1, "1.0": 3, "1e+06": 3, "+Inf": 7}
                offset = query(base, f"it_offset_seconds_bucket{sel}")
                assert offset is not None
                assert values(offset, "le") == {"0.0": 2, "1.0": 2, "+Inf": 2}

                executions = query(base, f"it_rule_executions_total{sel}")
                assert executions is not None
                assert values(executions, "rule") == {"r1": 2}
                errors = query(base, f"it_rule_errors_total{sel}")
                assert errors is not None
                assert values(errors, "rule") == {"r1": 1}
                durations = query(base, f"it_rule_duration_seconds_bucket{sel}")
                assert durations is not None
                assert values(durations, "le") == {"1e-06": 1, "0.001": 1, "+Inf": 2}
                events = query(base, f"it_events_total{sel}")
                assert events is not None
                assert values(events, "job") == {job: 41}

            # OpenMetrics forbids a negative _sum: only the text job has it.
            offset_sum = query(base, "it_offset_seconds_sum")
            assert offset_sum is not None
            assert values(offset_sum, "job") == {"text": -3.0}
            latency_sum = query(base, "it_latency_seconds_sum")
            assert latency_sum is not None
            assert values(latency_sum, "job") == {"om": 42.5, "text": 42.5}
            assert proc.poll() is None
