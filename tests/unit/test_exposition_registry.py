"""Both formats over a real Registry: every family kind, composites, defaults, races."""

from __future__ import annotations

import threading

import prometheus_client
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from atomicmetrics import (
    REGISTRY,
    Registry,
    generate_openmetrics,
    generate_text,
    make_wsgi_app,
    start_http_server,
)
from atomicmetrics.formatting import render_labels
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import THREADS, StaticCollector, http_get, promtool_check, run_threads


def populated() -> Registry:
    r = Registry()
    requests = r.counter("app_requests", 'Requests "served".', ["path"])
    requests.labels('a"b\\c\nd').inc(3)
    requests.labels("/x").inc(0.5)
    r.gauge("app_in_flight", "In flight.").set(-2)
    latency = r.histogram("app_latency_seconds", "Latency.", ["m"], buckets=[0.1, 1.0])
    latency.labels("GET").observe(0.05)
    latency.labels("GET").observe(5)
    r.counter("app_unused", "Never used.", ["x"])
    rule = r.rule_execution("app_rule", "Rule runs.", ["rule"], buckets=[1_000, 1_000_000])
    rule.labels("r1").record(500)
    rule.labels("r1").record(2_000_000, error=True)
    rule.labels("r2")
    return r


GOLDEN_TEXT = b"""\
# HELP app_requests_total Requests "served".
# TYPE app_requests_total counter
app_requests_total{path="a\\"b\\\\c\\nd"} 3
app_requests_total{path="/x"} 0.5
# HELP app_in_flight In flight.
# TYPE app_in_flight gauge
app_in_flight -2.0
# HELP app_latency_seconds Latency.
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{m="GET",le="0.1"} 1
app_latency_seconds_bucket{m="GET",le="1.0"} 1
app_latency_seconds_bucket{m="GET",le="+Inf"} 2
app_latency_seconds_count{m="GET"} 2
app_latency_seconds_sum{m="GET"} 5.05
# HELP app_unused_total Never used.
# TYPE app_unused_total counter
# HELP app_rule_executions_total Rule runs. (executions)
# TYPE app_rule_executions_total counter
app_rule_executions_total{rule="r1"} 2
app_rule_executions_total{rule="r2"} 0
# HELP app_rule_errors_total Rule runs. (executions that failed)
# TYPE app_rule_errors_total counter
app_rule_errors_total{rule="r1"} 1
app_rule_errors_total{rule="r2"} 0
# HELP app_rule_duration_seconds Rule runs. (duration in seconds)
# TYPE app_rule_duration_seconds histogram
app_rule_duration_seconds_bucket{rule="r1",le="1e-06"} 1
app_rule_duration_seconds_bucket{rule="r1",le="0.001"} 1
app_rule_duration_seconds_bucket{rule="r1",le="+Inf"} 2
app_rule_duration_seconds_count{rule="r1"} 2
app_rule_duration_seconds_sum{rule="r1"} 0.0020005
app_rule_duration_seconds_bucket{rule="r2",le="1e-06"} 0
app_rule_duration_seconds_bucket{rule="r2",le="0.001"} 0
app_rule_duration_seconds_bucket{rule="r2",le="+Inf"} 0
app_rule_duration_seconds_count{rule="r2"} 0
app_rule_duration_seconds_sum{rule="r2"} 0.0
# HELP app_rule_duration_min_seconds Rule runs. (shortest duration)
# TYPE app_rule_duration_min_seconds gauge
app_rule_duration_min_seconds{rule="r1"} 5e-07
# HELP app_rule_duration_max_seconds Rule runs. (longest duration)
# TYPE app_rule_duration_max_seconds gauge
app_rule_duration_max_seconds{rule="r1"} 0.002
"""

GOLDEN_OPENMETRICS = b"""\
# TYPE app_requests counter
# HELP app_requests Requests \\"served\\".
app_requests_total{path="a\\"b\\\\c\\nd"} 3
app_requests_total{path="/x"} 0.5
# TYPE app_in_flight gauge
# HELP app_in_flight In flight.
app_in_flight -2.0
# TYPE app_latency_seconds histogram
# HELP app_latency_seconds Latency.
app_latency_seconds_bucket{m="GET",le="0.1"} 1
app_latency_seconds_bucket{m="GET",le="1.0"} 1
app_latency_seconds_bucket{m="GET",le="+Inf"} 2
app_latency_seconds_count{m="GET"} 2
app_latency_seconds_sum{m="GET"} 5.05
# TYPE app_unused counter
# HELP app_unused Never used.
# TYPE app_rule_executions counter
# HELP app_rule_executions Rule runs. (executions)
app_rule_executions_total{rule="r1"} 2
app_rule_executions_total{rule="r2"} 0
# TYPE app_rule_errors counter
# HELP app_rule_errors Rule runs. (executions that failed)
app_rule_errors_total{rule="r1"} 1
app_rule_errors_total{rule="r2"} 0
# TYPE app_rule_duration_seconds histogram
# HELP app_rule_duration_seconds Rule runs. (duration in seconds)
app_rule_duration_seconds_bucket{rule="r1",le="1e-06"} 1
app_rule_duration_seconds_bucket{rule="r1",le="0.001"} 1
app_rule_duration_seconds_bucket{rule="r1",le="+Inf"} 2
app_rule_duration_seconds_count{rule="r1"} 2
app_rule_duration_seconds_sum{rule="r1"} 0.0020005
app_rule_duration_seconds_bucket{rule="r2",le="1e-06"} 0
app_rule_duration_seconds_bucket{rule="r2",le="0.001"} 0
app_rule_duration_seconds_bucket{rule="r2",le="+Inf"} 0
app_rule_duration_seconds_count{rule="r2"} 0
app_rule_duration_seconds_sum{rule="r2"} 0.0
# TYPE app_rule_duration_min_seconds gauge
# HELP app_rule_duration_min_seconds Rule runs. (shortest duration)
app_rule_duration_min_seconds{rule="r1"} 5e-07
# TYPE app_rule_duration_max_seconds gauge
# HELP app_rule_duration_max_seconds Rule runs. (longest duration)
app_rule_duration_max_seconds{rule="r1"} 0.002
# EOF
"""


def test_registry_text_golden() -> None:
    assert generate_text(populated()) == GOLDEN_TEXT


def test_registry_openmetrics_golden() -> None:
    assert generate_openmetrics(populated()) == GOLDEN_OPENMETRICS


def with_throughput() -> Registry:
    r = populated()
    ingest = r.throughput("app_ingest", "Ingest.", ["src"], window_s=60, resolution_s=1, sla_ns=1)
    ingest.labels("k").record(10, latency_ns=5)
    ingest.labels("k").record(2)
    return r


def test_throughput_family_exposed_names_types_and_counts() -> None:
    families = {
        f.name: f for f in parse_openmetrics(generate_openmetrics(with_throughput()).decode())
    }
    kinds = {
        "app_ingest_events": "counter",
        "app_ingest_samples": "counter",
        "app_ingest_sla_violations": "counter",
        "app_ingest_events_per_second": "gauge",
        "app_ingest_peak_events_per_second": "gauge",
    }
    assert {n: families[n].type for n in kinds} == kinds
    counts = {n: families[n].samples[0].value for n in kinds if kinds[n] == "counter"}
    assert counts == {
        "app_ingest_events": 12,
        "app_ingest_samples": 2,
        "app_ingest_sla_violations": 1,
    }
    rate = families["app_ingest_events_per_second"].samples[0].value
    assert 0 < rate <= 12.0
    assert families["app_ingest_peak_events_per_second"].samples[0].value >= rate


def test_registry_output_passes_both_parsers_and_promtool() -> None:
    r = with_throughput()
    text = generate_text(r)
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr
    text_names = [f.name for f in parse_text(text.decode())]
    om_names = [f.name for f in parse_openmetrics(generate_openmetrics(r).decode())]
    assert text_names == om_names
    assert "app_rule_duration_seconds" in om_names


@pytest.mark.parametrize(
    ("buckets", "observations"),
    [((0.5, 1.0), (-5.0, 0.2)), ((-1.0, 0.0, 1.0), (0.5, 0.7))],
    ids=["negative-sum", "negative-bound"],
)
def test_openmetrics_histogram_without_sum(
    buckets: tuple[float, ...], observations: tuple[float, ...]
) -> None:
    r = Registry()
    h = r.histogram("offset_seconds", "Offsets.", buckets=buckets)
    for x in observations:
        h.observe(x)
    om = generate_openmetrics(r).decode()
    assert "offset_seconds_sum" not in om
    assert "offset_seconds_count" not in om
    assert 'offset_seconds_bucket{le="+Inf"} 2\n' in om
    list(parse_openmetrics(om))
    text = generate_text(r).decode()
    assert "offset_seconds_sum" in text
    assert "offset_seconds_count 2\n" in text


def test_every_default_is_the_global_registry() -> None:
    marker = StaticCollector(
        [MetricFamily("default_probe", "gauge", "Probe.", (Sample("default_probe", (), 1),))]
    )
    REGISTRY.register(marker)
    try:
        assert b"default_probe 1\n" in generate_text()
        assert b"default_probe 1\n" in generate_openmetrics()
        with start_http_server(0) as server:
            _, _, body = http_get(f"http://127.0.0.1:{server.port}/metrics")
            assert b"default_probe 1\n" in body
        seen: list[str] = []
        body = b"".join(
            make_wsgi_app()(
                {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics"},
                lambda status, headers: seen.append(status),
            )
        )
        assert seen == ["200 OK"]
        assert b"default_probe 1\n" in body
    finally:
        REGISTRY.unregister(marker)


def test_as_prometheus_collector_serves_registry_families() -> None:
    ours = populated()
    theirs = prometheus_client.CollectorRegistry()
    theirs.register(ours.as_prometheus_collector())
    families = {f.name: f for f in parse_text(prometheus_client.generate_latest(theirs).decode())}
    assert families["app_rule_executions"].samples[0].value == 2.0
    assert families["app_latency_seconds"].type == "histogram"
    assert families["app_requests"].samples[0].labels == {"path": 'a"b\\c\nd'}


def test_scrapes_while_threads_record_are_consistent_and_exact(switch_fast: object) -> None:
    r = Registry()
    jobs = r.counter("race_jobs", "Jobs.", ["worker"])
    latency = r.histogram("race_seconds", "Latency.", buckets=[0.25, 0.5, 0.75])
    per_thread = 2_000
    done = threading.Event()
    problems: list[str] = []
    scrapes = 0

    def reader() -> None:
        nonlocal scrapes
        last_count = 0
        try:
            while not done.is_set():
                # The OpenMetrics parser itself checks each histogram:
                # cumulative buckets, +Inf == _count.
                text = generate_openmetrics(r).decode()
                families = {f.name: f for f in parse_openmetrics(text)}
                count = next(
                    s.value for s in families["race_seconds"].samples if s.name.endswith("_count")
                )
                if count < last_count:
                    problems.append(f"count went back from {last_count} to {count}")
                last_count = count
                scrapes += 1
        except Exception as e:  # reported by the test thread below
            problems.append(repr(e))

    def writer(i: int) -> None:
        child = jobs.labels(f"w{i % 2}")
        for n in range(per_thread):
            child.inc()
            latency.observe((n % 4) / 4)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        run_threads(THREADS, writer)
    finally:
        done.set()
        thread.join(60)
    assert not problems
    assert scrapes > 0
    final = {f.name: f for f in parse_text(generate_text(r).decode())}
    assert sum(s.value for s in final["race_jobs"].samples) == THREADS * per_thread
    count = next(s.value for s in final["race_seconds"].samples if s.name.endswith("_count"))
    assert count == THREADS * per_thread


def test_registry_samples_carry_exactly_the_rendered_labels() -> None:
    r = with_throughput()
    samples = [s for fam in r.collect() for s in fam.samples]
    assert samples
    for s in samples:
        assert s.rendered_labels == render_labels(s.labels)
    # Label texts are rendered once per label set: the counters, gauges and
    # histograms keep theirs in the child (render_labels is never called
    # again), the composite families reuse the previous scrape's objects.
    again = [s for fam in r.collect() for s in fam.samples]
    assert [s.rendered_labels for s in samples] == [s.rendered_labels for s in again]
    composite = ("app_rule_", "app_ingest_")
    assert all(
        a.rendered_labels is b.rendered_labels
        for a, b in zip(samples, again, strict=True)
        if a.name.startswith(composite)
    )


def test_rendered_families_never_render_label_texts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Registry()
    r.counter("c", "", ["a", "b"]).labels('x"', "\\y\n").inc(2)
    r.gauge("g", "").labels().set(1.5)
    r.histogram("h", "", ["k"], buckets=[1]).labels("v").observe(3)
    before = generate_text(r), generate_openmetrics(r), list(r.collect())

    def refuse(labels: object) -> str:
        raise AssertionError(f"labels rendered again: {labels!r}")

    monkeypatch.setattr("atomicmetrics.family.render_labels", refuse)
    monkeypatch.setattr("atomicmetrics.formatting.render_labels", refuse)
    after = generate_text(r), generate_openmetrics(r), list(r.collect())
    assert after == before
    assert [s.rendered_labels for f in after[2] for s in f.samples] == [
        s.rendered_labels for f in before[2] for s in f.samples
    ]
