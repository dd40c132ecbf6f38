"""A real Prometheus, started with --enable-feature=native-histograms and
exemplar-storage, scrapes our native histograms (in the protobuf format it
negotiates) and our exemplars, and its query API answers histogram_count,
histogram_sum, histogram_quantile and query_exemplars with our values.

Needs the ``prometheus`` binary (Debian package ``prometheus``): skipped
locally without it, a failure in CI.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from atomicmetrics import Registry, start_http_server
from tests.helpers import http_get, prometheus_server, query, wait_until

pytestmark = pytest.mark.integration

FEATURES = ("native-histograms", "exemplar-storage")
# Latencies from 20 microseconds to 3 seconds: five orders of magnitude.
VALUES = [2e-5 * 1.05**k for k in range(250)]


def registry() -> Registry:
    reg = Registry()
    native = reg.histogram("it_native_seconds", "Native only.", ["rule"], buckets=(), native=True)
    both = reg.histogram("it_both_seconds", "Classic and native.", native=True, native_schema=5)
    classic = reg.histogram("it_classic_seconds", "Classic only.", buckets=[0.01, 1.0])
    for v in VALUES:
        native.labels("r1").observe(v)
        both.observe(v)
        classic.observe(v)
    reg.counter("it_requests", "Requests.").inc(7, exemplar={"trace_id": "abc123"})
    classic.observe(0.005, exemplar={"trace_id": "def456"})
    return reg


def scalar(base: str, promql: str) -> float | None:
    got = query(base, promql)
    return None if got is None else float(got[0]["value"][1])


def exemplars(base: str, promql: str) -> list[dict[str, Any]] | None:
    now = time.time()
    params = {"query": promql, "start": str(now - 600), "end": str(now + 60)}
    status, _, body = http_get(f"{base}/api/v1/query_exemplars?" + urllib.parse.urlencode(params))
    if status != 200:
        return None
    found = [e for series in json.loads(body)["data"] for e in series["exemplars"]]
    return found or None


def test_real_prometheus_reads_native_histograms_and_exemplars(tmp_path: Path) -> None:
    with (
        start_http_server(0, registry=registry()) as server,
        prometheus_server(tmp_path, {"native": f"127.0.0.1:{server.port}"}, FEATURES) as (
            base,
            proc,
        ),
    ):
        count = wait_until(
            lambda: scalar(base, 'histogram_count(it_native_seconds{rule="r1"})'),
            "a native histogram count",
            proc=proc,
        )
        assert count == len(VALUES)
        total = scalar(base, 'histogram_sum(it_native_seconds{rule="r1"})')
        assert total is not None
        assert math.isclose(total, sum(VALUES), rel_tol=1e-9)
        # The 0.99 quantile lies in one bucket of schema 3; Prometheus
        # interpolates inside it, so its answer is within one bucket width
        # (a factor 2**(1/8)) of the true one.
        ranked = sorted(VALUES)
        true_q = ranked[math.ceil(0.99 * len(ranked)) - 1]
        got_q = scalar(base, 'histogram_quantile(0.99, it_native_seconds{rule="r1"})')
        assert got_q is not None
        assert abs(math.log2(got_q / true_q)) <= 1 / 8, (got_q, true_q)
        # Classic and native side by side: Prometheus keeps the native one.
        assert scalar(base, "histogram_count(it_both_seconds)") == len(VALUES)
        both_q = scalar(base, "histogram_quantile(0.99, it_both_seconds)")
        assert both_q is not None
        assert abs(math.log2(both_q / true_q)) <= 1 / 32  # schema 5
        # A classic-only histogram still arrives as classic series.
        assert scalar(base, 'it_classic_seconds_bucket{le="+Inf"}') == len(VALUES) + 1
        assert scalar(base, "it_requests_total") == 7
        # Exemplars, from the same protobuf scrapes.
        found = wait_until(
            lambda: exemplars(base, "it_requests_total"), "the counter's exemplar", proc=proc
        )
        assert [(e["labels"], float(e["value"])) for e in found] == [({"trace_id": "abc123"}, 7.0)]
        bucket = wait_until(
            lambda: exemplars(base, "it_classic_seconds_bucket"), "a bucket's exemplar", proc=proc
        )
        assert {e["labels"]["trace_id"] for e in bucket} == {"def456"}
        # The same server's OpenMetrics, parsed by prometheus_client.
        _, _, body = http_get(
            f"http://127.0.0.1:{server.port}/metrics",
            {"Accept": "application/openmetrics-text; version=1.0.0"},
        )
        parsed = {
            (s.name, s.labels.get("le")): s.exemplar
            for family in parse_om(body.decode())
            for s in family.samples
            if s.exemplar is not None
        }
        assert parsed[("it_requests_total", None)].labels == {"trace_id": "abc123"}
        assert parsed[("it_classic_seconds_bucket", "0.01")].value == 0.005
