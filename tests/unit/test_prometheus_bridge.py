"""PrometheusCollector: our families served by a prometheus_client registry."""

from __future__ import annotations

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_latest_om
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from atomicmetrics.prometheus_bridge import PrometheusCollector
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import StaticCollector, histogram_samples


def ours() -> StaticCollector:
    return StaticCollector(
        [
            MetricFamily(
                "am_jobs", "counter", "Jobs.", (Sample("am_jobs_total", (("q", 'a"\\\n'),), 5),)
            ),
            MetricFamily("am_depth", "gauge", "Depth.", (Sample("am_depth", (), 2.5),)),
            MetricFamily(
                "am_latency_seconds",
                "histogram",
                "Latency.",
                tuple(histogram_samples("am_latency_seconds", (), (0.1, 1.0), [1, 2, 3], 9.5)),
            ),
            MetricFamily("am_other", "unknown", "Other.", (Sample("am_other", (), 1),)),
        ]
    )


def test_our_families_appear_beside_prometheus_client_metrics() -> None:
    registry = CollectorRegistry()
    theirs = prometheus_client.Counter("pc_requests", "Theirs.", registry=registry)
    theirs.inc(3)
    registry.register(PrometheusCollector(ours()))

    families = {f.name: f for f in parse_text(generate_latest(registry).decode())}
    assert families["pc_requests"].samples[0].value == 3.0
    jobs = families["am_jobs"]
    assert (jobs.type, jobs.documentation) == ("counter", "Jobs.")
    assert [(s.name, s.labels, s.value) for s in jobs.samples] == [
        ("am_jobs_total", {"q": 'a"\\\n'}, 5.0)
    ]
    assert families["am_depth"].samples[0].value == 2.5
    assert families["am_other"].type == "unknown"
    latency = families["am_latency_seconds"]
    assert latency.type == "histogram"
    assert [(s.name, s.labels.get("le"), s.value) for s in latency.samples] == [
        ("am_latency_seconds_bucket", "0.1", 1.0),
        ("am_latency_seconds_bucket", "1.0", 3.0),
        ("am_latency_seconds_bucket", "+Inf", 6.0),
        ("am_latency_seconds_count", None, 6.0),
        ("am_latency_seconds_sum", None, 9.5),
    ]


def test_prometheus_client_openmetrics_output_parses() -> None:
    registry = CollectorRegistry()
    registry.register(PrometheusCollector(ours()))
    names = [f.name for f in parse_openmetrics(generate_latest_om(registry).decode())]
    assert names == ["am_jobs", "am_depth", "am_latency_seconds", "am_other"]


def test_collect_reads_the_registry_at_every_call() -> None:
    source = StaticCollector([])
    bridge = PrometheusCollector(source)
    assert list(bridge.collect()) == []
    source.families = (MetricFamily("late", "gauge", "Late.", (Sample("late", (), 1),)),)
    assert [m.name for m in bridge.collect()] == ["late"]
    assert "PrometheusCollector(" in repr(bridge)


def test_auto_describe_registry_sees_our_names_at_register() -> None:
    registry = CollectorRegistry(auto_describe=True)
    prometheus_client.Gauge("am_depth", "Clash.", registry=registry)
    with pytest.raises(ValueError, match="am_depth"):
        registry.register(PrometheusCollector(ours()))
