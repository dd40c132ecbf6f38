"""The candidates of ``atomicmetrics bench``: what is measured, group by group.

Groups, each answering one question (docs/benchmarks.md shows the tables):

``counter``     one increment: AtomicCounter, StripedCounter, the registry Counter,
                MutexCounter, prometheus_client, OpenTelemetry
``reads``       one read of a counter: load() (atomic, striped) vs a mutex load vs
                prometheus_client's ``_value.get()``
``rule``        one rule execution recorded: RuleExecutionMetric.record vs its
                mutex twin vs prometheus_client Histogram.observe + Counter.inc
``histogram``   one observation into 12 buckets
``labels``      ``family.labels("rule-7").inc()``: the child lookup included
``recorder``    one asynchronous record() vs ``queue.Queue.put_nowait``
``throughput``  one ThroughputMetric.record vs two prometheus_client counters
``exposition``  one scrape of 200 series (one thread only)

Each group that prometheus_client has a candidate in also times the same
call on ``atomicmetrics.prometheus_client`` (the facade: prometheus_client's
API on this project's cells), so one run gives the facade's figures against
prometheus_client itself.

Optional libraries are imported inside setups through ``importlib`` (so the
core never depends on them); a missing one makes its candidates "skipped".
"""

from __future__ import annotations

import importlib
import queue
from typing import Any

from atomicmetrics import (
    AsyncMetricRecorder,
    AsyncMetricsConfig,
    AtomicCounter,
    AtomicHistogram,
    MetricsConfig,
    MetricsLevel,
    Registry,
    RuleExecutionMetric,
    StripedCounter,
    ThroughputMetric,
    generate_text,
    make_recorder,
)
from atomicmetrics.bench.harness import Candidate, Namespace, Unavailable
from atomicmetrics.reference import MutexCounter, MutexHistogram, MutexRuleExecutionMetric

__all__ = ["CANDIDATES", "GROUPS"]

#: Twelve upper bounds in seconds (and x1e9 in ns for the rule metric).
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BUCKETS_NS = tuple(round(b * 1e9) for b in BUCKETS_S)
OBSERVED_S = 0.03  # lands in a middle bucket
OBSERVED_NS = 30_000_000
SLA_NS = 50_000_000


def _lib(module: str, dist: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"{dist} is not installed (pip install 'atomicmetrics[bench]')") from None


def _prom() -> Any:
    return _lib("prometheus_client", "prometheus_client")


def _facade() -> Any:
    """atomicmetrics.prometheus_client: imported here, so the core never loads it."""
    return importlib.import_module("atomicmetrics.prometheus_client")


def _otel_meter() -> Any:
    """An OpenTelemetry SDK meter with an in-memory reader (so measurements are aggregated)."""
    sdk = _lib("opentelemetry.sdk.metrics", "opentelemetry-sdk")
    export = _lib("opentelemetry.sdk.metrics.export", "opentelemetry-sdk")
    provider = sdk.MeterProvider(metric_readers=[export.InMemoryMetricReader()])
    return provider.get_meter("atomicmetrics.bench")


# --- counter -----------------------------------------------------------------


def _atomic_counter() -> Namespace:
    return {"op": AtomicCounter().inc}


def _striped_counter() -> Namespace:
    return {"op": StripedCounter().inc}


def _registry_counter() -> Namespace:
    return {"op": Registry().counter("bench_requests", "Requests.").inc}


def _mutex_counter() -> Namespace:
    return {"op": MutexCounter().inc}


def _prom_counter() -> Namespace:
    return {"op": _prom().Counter("bench_requests", "Requests.", registry=None).inc}


def _facade_counter() -> Namespace:
    return {"op": _facade().Counter("bench_requests", "Requests.", registry=None).inc}


def _otel_counter() -> Namespace:
    return {"op": _otel_meter().create_counter("bench_requests").add, "one": 1}


# --- reads -------------------------------------------------------------------


def _atomic_load() -> Namespace:
    return {"op": AtomicCounter(42).load}


def _striped_load() -> Namespace:
    return {"op": StripedCounter(42).load}


def _mutex_load() -> Namespace:
    return {"op": MutexCounter(42).load}


def _prom_get() -> Namespace:
    c = _prom().Counter("bench_reads", "Reads.", registry=None)
    c.inc(42)
    return {"op": c._value.get}


# --- rule metric ---------------------------------------------------------------


def _rule_metric() -> Namespace:
    return {"op": RuleExecutionMetric(BUCKETS_NS).record, "d": OBSERVED_NS, "e": False}


def _mutex_rule_metric() -> Namespace:
    m = MutexRuleExecutionMetric(BUCKETS_NS)
    return {"op": m.record, "d": OBSERVED_NS, "e": False}


def _prom_rule_metric() -> Namespace:
    prom = _prom()
    h = prom.Histogram("bench_rule_seconds", "Rule.", registry=None, buckets=BUCKETS_S)
    c = prom.Counter("bench_rule_executions", "Rule.", registry=None)
    return {"obs": h.observe, "inc": c.inc, "x": OBSERVED_S}


# --- histogram -----------------------------------------------------------------


def _atomic_histogram() -> Namespace:
    return {"op": AtomicHistogram(BUCKETS_S).observe, "x": OBSERVED_S}


def _registry_histogram() -> Namespace:
    fam = Registry().histogram("bench_latency_seconds", "Latency.", buckets=BUCKETS_S)
    return {"op": fam.observe, "x": OBSERVED_S}


def _mutex_histogram() -> Namespace:
    return {"op": MutexHistogram(BUCKETS_S).observe, "x": OBSERVED_S}


def _prom_histogram() -> Namespace:
    h = _prom().Histogram("bench_latency_seconds", "Latency.", registry=None, buckets=BUCKETS_S)
    return {"op": h.observe, "x": OBSERVED_S}


def _facade_histogram() -> Namespace:
    h = _facade().Histogram("bench_latency_seconds", "Latency.", registry=None, buckets=BUCKETS_S)
    return {"op": h.observe, "x": OBSERVED_S}


def _otel_histogram() -> Namespace:
    meter = _otel_meter()
    try:
        h = meter.create_histogram(
            "bench_latency_seconds", explicit_bucket_boundaries_advisory=list(BUCKETS_S)
        )
    except TypeError:  # older SDKs: default boundaries
        h = meter.create_histogram("bench_latency_seconds")
    return {"op": h.record, "x": OBSERVED_S}


# --- labels --------------------------------------------------------------------


def _registry_labels() -> Namespace:
    fam = Registry().counter("bench_rule_hits", "Hits.", ["rule"])
    return {"fam": fam, "v": "rule-7"}


def _prom_labels() -> Namespace:
    fam = _prom().Counter("bench_rule_hits", "Hits.", ["rule"], registry=None)
    return {"fam": fam, "v": "rule-7"}


def _facade_labels() -> Namespace:
    fam = _facade().Counter("bench_rule_hits", "Hits.", ["rule"], registry=None)
    return {"fam": fam, "v": "rule-7"}


def _otel_labels() -> Namespace:
    return {
        "op": _otel_meter().create_counter("bench_rule_hits").add,
        "one": 1,
        "attrs": {"rule": "rule-7"},
    }


# --- recorder ------------------------------------------------------------------

#: Large enough for one repetition of every thread: the figure is the enqueue,
#: not the drop path.
RECORDER_BUFFER = 1 << 20


def _async_recorder() -> Namespace:
    config = AsyncMetricsConfig(buffer_size=RECORDER_BUFFER, worker_count=1)
    recorder = AsyncMetricRecorder(config)
    target = AtomicCounter()
    return {"op": recorder.record, "fn": target.add, "one": 1, "_recorder": recorder}


def _null_recorder() -> Namespace:
    level = MetricsLevel.OFF
    recorder = make_recorder(MetricsConfig(level=level))
    target = AtomicCounter()
    return {"op": recorder.record, "fn": target.add, "one": 1, "_recorder": recorder}


def _flush(ns: Namespace) -> None:
    recorder = ns["_recorder"]
    recorder.flush()
    if recorder.stats().dropped:
        # The figure would mix in the cheaper drop path: refuse to report it.
        raise RuntimeError(f"the recorder dropped calls; raise RECORDER_BUFFER ({RECORDER_BUFFER})")


def _close(ns: Namespace) -> None:
    ns["_recorder"].close()


def _plain_queue() -> Namespace:
    q: queue.Queue[object] = queue.Queue()
    target = AtomicCounter()
    return {"op": q.put_nowait, "item": (target.add, 1), "_queue": q}


def _clear_queue(ns: Namespace) -> None:
    q = ns["_queue"]
    with q.mutex:
        q.queue.clear()


# --- throughput ------------------------------------------------------------------


def _throughput() -> Namespace:
    t = ThroughputMetric(sla_ns=SLA_NS)
    return {"op": t.record, "one": 1, "lat": OBSERVED_NS}


def _prom_throughput() -> Namespace:
    prom = _prom()
    events = prom.Counter("bench_events", "Events.", registry=None)
    samples = prom.Counter("bench_samples", "Samples.", registry=None)
    return {"ev": events.inc, "sa": samples.inc}


# --- exposition --------------------------------------------------------------------

#: 10 counter families and 10 histogram families with 10 children each:
#: 100 counter series and 100 histograms (1,500 lines).
FAMILIES, CHILDREN = 10, 10


def _registry_scrape() -> Namespace:
    reg = Registry()
    for f in range(FAMILIES):
        c = reg.counter(f"bench_c{f}", "A counter.", ["rule"])
        h = reg.histogram(f"bench_h{f}_seconds", "A histogram.", ["rule"], buckets=BUCKETS_S)
        for i in range(CHILDREN):
            c.labels(f"rule-{i}").inc(i)
            h.labels(f"rule-{i}").observe(i / 100)
    return {"op": generate_text, "reg": reg}


def _prom_scrape() -> Namespace:
    return _client_scrape(_prom())


def _facade_scrape() -> Namespace:
    return _client_scrape(_facade())


def _client_scrape(prom: Any) -> Namespace:
    """prometheus_client's API (the library or the facade): the 200 series."""
    reg = prom.CollectorRegistry()
    for f in range(FAMILIES):
        c = prom.Counter(f"bench_c{f}", "A counter.", ["rule"], registry=reg)
        h = prom.Histogram(
            f"bench_h{f}_seconds", "A histogram.", ["rule"], registry=reg, buckets=BUCKETS_S
        )
        for i in range(CHILDREN):
            c.labels(f"rule-{i}").inc(i)
            h.labels(f"rule-{i}").observe(i / 100)
    return {"op": prom.generate_latest, "reg": reg}


CANDIDATES: tuple[Candidate, ...] = (
    # counter
    Candidate("AtomicCounter.inc()", "counter", "op()", _atomic_counter),
    Candidate("StripedCounter.inc()", "counter", "op()", _striped_counter),
    Candidate("registry Counter.inc()", "counter", "op()", _registry_counter),
    Candidate("MutexCounter.inc()", "counter", "op()", _mutex_counter, "baseline", "MutexCounter"),
    Candidate(
        "prometheus_client Counter.inc()",
        "counter",
        "op()",
        _prom_counter,
        "baseline",
        "prometheus_client",
    ),
    Candidate("facade Counter.inc()", "counter", "op()", _facade_counter),
    Candidate(
        "OpenTelemetry counter.add(1)",
        "counter",
        "op(one)",
        _otel_counter,
        "baseline",
        "OpenTelemetry",
    ),
    # reads
    Candidate("AtomicCounter.load()", "reads", "op()", _atomic_load),
    Candidate("StripedCounter.load()", "reads", "op()", _striped_load),
    Candidate("MutexCounter.load()", "reads", "op()", _mutex_load, "baseline", "MutexCounter"),
    Candidate(
        "prometheus_client Counter._value.get()",
        "reads",
        "op()",
        _prom_get,
        "baseline",
        "prometheus_client",
    ),
    # rule metric
    Candidate("RuleExecutionMetric.record(d, False)", "rule", "op(d, e)", _rule_metric),
    Candidate(
        "MutexRuleExecutionMetric.record(d, False)",
        "rule",
        "op(d, e)",
        _mutex_rule_metric,
        "baseline",
        "MutexRuleExecutionMetric",
    ),
    Candidate(
        "prometheus_client Histogram.observe + Counter.inc",
        "rule",
        "obs(x); inc()",
        _prom_rule_metric,
        "baseline",
        "prometheus_client",
    ),
    # histogram
    Candidate("AtomicHistogram.observe(x)", "histogram", "op(x)", _atomic_histogram),
    Candidate("registry Histogram.observe(x)", "histogram", "op(x)", _registry_histogram),
    Candidate(
        "MutexHistogram.observe(x)",
        "histogram",
        "op(x)",
        _mutex_histogram,
        "baseline",
        "MutexHistogram",
    ),
    Candidate(
        "prometheus_client Histogram.observe(x)",
        "histogram",
        "op(x)",
        _prom_histogram,
        "baseline",
        "prometheus_client",
    ),
    Candidate("facade Histogram.observe(x)", "histogram", "op(x)", _facade_histogram),
    Candidate(
        "OpenTelemetry histogram.record(x)",
        "histogram",
        "op(x)",
        _otel_histogram,
        "baseline",
        "OpenTelemetry",
    ),
    # labels
    Candidate('family.labels("rule-7").inc()', "labels", "fam.labels(v).inc()", _registry_labels),
    Candidate(
        'prometheus_client .labels("rule-7").inc()',
        "labels",
        "fam.labels(v).inc()",
        _prom_labels,
        "baseline",
        "prometheus_client",
    ),
    Candidate('facade .labels("rule-7").inc()', "labels", "fam.labels(v).inc()", _facade_labels),
    Candidate(
        'OpenTelemetry counter.add(1, {"rule": "rule-7"})',
        "labels",
        "op(one, attrs)",
        _otel_labels,
        "baseline",
        "OpenTelemetry",
    ),
    # recorder
    Candidate(
        "AsyncMetricRecorder.record(fn, 1)",
        "recorder",
        "op(fn, one)",
        _async_recorder,
        between=_flush,
        teardown=_close,
    ),
    Candidate(
        "NullRecorder.record(fn, 1) (level OFF)",
        "recorder",
        "op(fn, one)",
        _null_recorder,
        teardown=_close,
    ),
    Candidate(
        "queue.Queue.put_nowait(item)",
        "recorder",
        "op(item)",
        _plain_queue,
        "baseline",
        "queue.Queue",
        between=_clear_queue,
    ),
    # throughput
    Candidate("ThroughputMetric.record(1, latency)", "throughput", "op(one, lat)", _throughput),
    Candidate(
        "prometheus_client 2x Counter.inc()",
        "throughput",
        "ev(); sa()",
        _prom_throughput,
        "baseline",
        "prometheus_client",
    ),
    # exposition
    Candidate(
        "generate_text(registry), 200 series",
        "exposition",
        "op(reg)",
        _registry_scrape,
        unroll=1,
        max_threads=1,
    ),
    Candidate(
        "facade generate_latest, 200 series",
        "exposition",
        "op(reg)",
        _facade_scrape,
        unroll=1,
        max_threads=1,
    ),
    Candidate(
        "prometheus_client generate_latest, 200 series",
        "exposition",
        "op(reg)",
        _prom_scrape,
        "baseline",
        "prometheus_client",
        unroll=1,
        max_threads=1,
    ),
)

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in CANDIDATES))
