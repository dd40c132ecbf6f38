"""The facade's servers, textfile and Pushgateway client against real components.

``start_http_server`` answers real HTTP clients (content negotiation, gzip,
``name[]`` filtering) with text that ``promtool`` accepts;
``write_to_textfile`` replaces the file atomically; ``push_to_gateway``,
``pushadd_to_gateway`` and ``delete_from_gateway`` talk to a real
Pushgateway (Debian ``prometheus-pushgateway``), whose own ``/metrics`` then
shows (or no longer shows) the pushed series.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import prometheus_client.openmetrics.parser as upstream_om_parser
import prometheus_client.parser as upstream_parser
import pytest

import atomicmetrics.prometheus_client as pc
from tests.helpers import (
    answers,
    free_port,
    http_get,
    promtool_check,
    require_tool,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


def instrumented() -> pc.CollectorRegistry:
    reg = pc.CollectorRegistry()
    jobs = pc.Counter("jobs", "Jobs done.", ["queue"], registry=reg)
    jobs.labels("fast").inc(3)
    jobs.labels('we"ird\\q').inc(exemplar={"trace_id": "t1"})
    pc.Gauge("temperature_celsius", "Temperature.", registry=reg).set(21.5)
    h = pc.Histogram("latency_seconds", "Latency.", buckets=[0.1, 1], registry=reg)
    h.observe(0.05)
    h.observe(3)
    pc.Summary("size_bytes", "Sizes.", registry=reg).observe(512)
    pc.Info("build", "Build.", registry=reg).info({"version": "1.0"})
    pc.Enum("state", "State.", states=["up", "down"], registry=reg)
    return reg


@pytest.fixture
def server() -> Iterator[str]:
    httpd, thread = pc.start_http_server(0, addr="127.0.0.1", registry=instrumented())
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_http_server_text_passes_promtool(server: str) -> None:
    status, headers, body = http_get(server + "/metrics")
    assert status == 200
    assert headers["Content-Type"] == pc.CONTENT_TYPE_LATEST
    assert b'jobs_total{queue="fast"} 3.0\n' in body
    check = promtool_check(body)
    assert check.returncode == 0, check.stdout + check.stderr
    names = {m.name for m in upstream_parser.text_string_to_metric_families(body.decode())}
    assert {"jobs", "temperature_celsius", "latency_seconds", "size_bytes"} <= names


def test_http_server_openmetrics_and_gzip(server: str) -> None:
    status, headers, body = http_get(
        server + "/metrics",
        {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n")
    assert '# {trace_id="t1"} 1.0' in text
    families = {m.name: m for m in upstream_om_parser.text_string_to_metric_families(text)}
    assert families["jobs"].type == "counter"
    assert families["state"].type == "stateset"


def test_http_server_name_filter(server: str) -> None:
    status, _, body = http_get(server + "/metrics?name[]=jobs_total&name[]=latency_seconds_count")
    assert status == 200
    text = body.decode()
    assert "jobs_total" in text
    assert "latency_seconds_count" in text
    assert "temperature" not in text
    assert "latency_seconds_bucket" not in text
    assert "jobs_created" not in text


def test_write_to_textfile(tmp_path: Path) -> None:
    path = tmp_path / "app.prom"
    path.write_text("stale\n")
    pc.write_to_textfile(str(path), instrumented())
    body = path.read_bytes()
    assert b'jobs_total{queue="fast"} 3.0\n' in body
    assert b"temperature_celsius 21.5\n" in body
    check = promtool_check(body)
    assert check.returncode == 0, check.stdout + check.stderr
    assert os.listdir(tmp_path) == ["app.prom"]  # no temporary file left behind


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    binary = require_tool("prometheus-pushgateway")
    port = free_port()
    argv = [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--persistence.file={tmp_path / 'pushgateway.data'}",
    ]
    base = f"http://127.0.0.1:{port}"
    with running(argv) as proc:
        wait_until(lambda: answers(base + "/-/ready"), "the Pushgateway", proc=proc)
        yield base


def _gateway_series(base: str) -> dict[str, float]:
    _, _, body = http_get(base + "/metrics")
    found = {}
    for family in upstream_parser.text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.labels.get("job") == "batch":
                key = s.name + "," + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                found[key] = s.value
    return found


def test_real_pushgateway(pushgateway: str) -> None:
    reg = pc.CollectorRegistry()
    done = pc.Counter("batch_records", "Records processed.", registry=reg)
    done.inc(1234)
    last = pc.Gauge("batch_last_success_unixtime", "Last success.", registry=reg)
    last.set(1_700_000_000)
    pc.push_to_gateway(pushgateway, "batch", reg, grouping_key={"shard": "a/b"})
    series = _gateway_series(pushgateway)
    assert series["batch_records_total,instance=,job=batch,shard=a/b"] == 1234
    assert series["batch_last_success_unixtime,instance=,job=batch,shard=a/b"] == 1.7e9

    extra = pc.CollectorRegistry()
    pc.Gauge("batch_duration_seconds", "Duration.", registry=extra).set(12.5)
    pc.pushadd_to_gateway(pushgateway, "batch", extra, grouping_key={"shard": "a/b"})
    series = _gateway_series(pushgateway)
    assert series["batch_duration_seconds,instance=,job=batch,shard=a/b"] == 12.5
    assert "batch_records_total,instance=,job=batch,shard=a/b" in series  # POST kept it

    pc.push_to_gateway(pushgateway, "batch", extra, grouping_key={"shard": "a/b"})
    series = _gateway_series(pushgateway)
    assert "batch_records_total,instance=,job=batch,shard=a/b" not in series  # PUT replaced

    pc.delete_from_gateway(pushgateway, "batch", grouping_key={"shard": "a/b"})
    assert _gateway_series(pushgateway) == {}


def test_pushgateway_error_is_raised(pushgateway: str) -> None:
    gauge = pc.CollectorRegistry()
    pc.Gauge("clash_total", "Clash.", registry=gauge).set(1)
    pc.push_to_gateway(pushgateway, "batch", gauge, grouping_key={"shard": "a"})
    counter = pc.CollectorRegistry()
    pc.Counter("clash", "Clash.", registry=counter).inc()
    # The gateway refuses a family whose type differs from one pushed before.
    with pytest.raises(OSError, match="400"):
        pc.push_to_gateway(pushgateway, "batch", counter, grouping_key={"shard": "b"})
