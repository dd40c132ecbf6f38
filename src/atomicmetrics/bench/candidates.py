"""The candidates of ``atomicmetrics bench``: what is measured, group by group.

Groups, each answering one question (docs/benchmarks.md shows the tables):

``shared``      idiomatic code on one object that every thread shares, written
                as users write it (``REQUESTS.inc()``, ``hist.observe(x)``,
                ``rule.record(d)``, ``with rule.time(): ...``): the headline
                of a multi-thread run, and on a free-threaded build the
                figure that says whether recording scales with cores
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

In every group but ``shared``, each thread binds the method it calls itself
(``op = c.inc``, in that thread) on the object all threads share, and the
statement is ``op()``: the cost of the call, the same shape as the floor's.

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
from collections.abc import Callable
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
from atomicmetrics.bench.harness import Bind, Candidate, Namespace, Unavailable
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


def _collected(metric: Any, suffix: str) -> int:
    """The value of ``metric``'s first collected sample named ``*suffix``: how
    prometheus_client's API (the library and the facade) reads a total."""
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                return int(sample.value)
    raise LookupError(f"no sample ending in {suffix!r}")


def _bound(**methods: str) -> Bind:
    """A bind giving each thread ``name = shared[key].attr`` for each
    ``name="key.attr"``, bound in that thread, plus the shared values whose
    keys are neither such a ``key`` nor private (``_...``)."""
    pairs = {name: tuple(path.split(".")) for name, path in methods.items()}
    used = {key for key, _ in pairs.values()}

    def bind(shared: Namespace) -> Namespace:
        own = {k: v for k, v in shared.items() if k not in used and not k.startswith("_")}
        for name, (key, attr) in pairs.items():
            own[name] = getattr(shared[key], attr)
        return own

    return bind


# --- shared: idiomatic code on one shared object -------------------------------


def _shared_registry() -> Namespace:
    reg = Registry()
    return {
        "REQUESTS": reg.counter("bench_requests", "Requests."),
        "family": reg.counter("bench_hits", "Hits.", ["method"]),
        "hist": reg.histogram("bench_latency_seconds", "Latency.", buckets=BUCKETS_S),
        "rule": reg.rule_execution("bench_rule", "Rule.", buckets=BUCKETS_NS),
        "throughput": reg.throughput("bench_events", "Events.", sla_ns=SLA_NS),
        "x": OBSERVED_S,
        "d": OBSERVED_NS,
        "lat": OBSERVED_NS,
    }


def _requests_total(ns: Namespace) -> int:
    return int(ns["REQUESTS"].value())


def _get_total(ns: Namespace) -> int:
    return int(ns["family"].labels("GET").value())


def _hist_total(ns: Namespace) -> int:
    return int(ns["hist"].snapshot().count)


def _rule_total(ns: Namespace) -> int:
    return int(ns["rule"].execution_count())


def _throughput_total(ns: Namespace) -> int:
    return int(ns["throughput"].events_processed())


def _shared_counter(cls: type[AtomicCounter] | type[StripedCounter]) -> Callable[[], Namespace]:
    return lambda: {"counter": cls()}


def _counter_total(ns: Namespace) -> int:
    return int(ns["counter"].load())


# --- counter -----------------------------------------------------------------


def _atomic_counter() -> Namespace:
    return {"c": AtomicCounter()}


def _striped_counter() -> Namespace:
    return {"c": StripedCounter()}


def _registry_counter() -> Namespace:
    return {"c": Registry().counter("bench_requests", "Requests.")}


def _mutex_counter() -> Namespace:
    return {"c": MutexCounter()}


def _prom_counter() -> Namespace:
    return {"c": _prom().Counter("bench_requests", "Requests.", registry=None)}


def _facade_counter() -> Namespace:
    return {"c": _facade().Counter("bench_requests", "Requests.", registry=None)}


def _otel_counter() -> Namespace:
    return {"c": _otel_meter().create_counter("bench_requests"), "one": 1}


def _loaded(ns: Namespace) -> int:
    return int(ns["c"].load())


def _valued(ns: Namespace) -> int:
    return int(ns["c"].value())


def _total_sample(ns: Namespace) -> int:
    return _collected(ns["c"], "_total")


# --- reads -------------------------------------------------------------------


def _atomic_load() -> Namespace:
    return {"c": AtomicCounter(42)}


def _striped_load() -> Namespace:
    return {"c": StripedCounter(42)}


def _mutex_load() -> Namespace:
    return {"c": MutexCounter(42)}


def _prom_get() -> Namespace:
    c = _prom().Counter("bench_reads", "Reads.", registry=None)
    c.inc(42)
    return {"v": c._value}


# --- rule metric ---------------------------------------------------------------


def _rule_metric() -> Namespace:
    return {"r": RuleExecutionMetric(BUCKETS_NS), "d": OBSERVED_NS, "e": False}


def _mutex_rule_metric() -> Namespace:
    return {"r": MutexRuleExecutionMetric(BUCKETS_NS), "d": OBSERVED_NS, "e": False}


def _executions(ns: Namespace) -> int:
    return int(ns["r"].execution_count())


def _prom_rule_metric() -> Namespace:
    prom = _prom()
    h = prom.Histogram("bench_rule_seconds", "Rule.", registry=None, buckets=BUCKETS_S)
    c = prom.Counter("bench_rule_executions", "Rule.", registry=None)
    return {"h": h, "c": c, "x": OBSERVED_S}


# --- histogram -----------------------------------------------------------------


def _atomic_histogram() -> Namespace:
    return {"h": AtomicHistogram(BUCKETS_S), "x": OBSERVED_S}


def _registry_histogram() -> Namespace:
    fam = Registry().histogram("bench_latency_seconds", "Latency.", buckets=BUCKETS_S)
    return {"h": fam, "x": OBSERVED_S}


def _mutex_histogram() -> Namespace:
    return {"h": MutexHistogram(BUCKETS_S), "x": OBSERVED_S}


def _observed(ns: Namespace) -> int:
    return int(ns["h"].snapshot().count)


def _prom_histogram() -> Namespace:
    h = _prom().Histogram("bench_latency_seconds", "Latency.", registry=None, buckets=BUCKETS_S)
    return {"h": h, "x": OBSERVED_S}


def _facade_histogram() -> Namespace:
    h = _facade().Histogram("bench_latency_seconds", "Latency.", registry=None, buckets=BUCKETS_S)
    return {"h": h, "x": OBSERVED_S}


def _count_sample(ns: Namespace) -> int:
    return _collected(ns["h"], "_count")


def _otel_histogram() -> Namespace:
    meter = _otel_meter()
    try:
        h = meter.create_histogram(
            "bench_latency_seconds", explicit_bucket_boundaries_advisory=list(BUCKETS_S)
        )
    except TypeError:  # older SDKs: default boundaries
        h = meter.create_histogram("bench_latency_seconds")
    return {"h": h, "x": OBSERVED_S}


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


def _child_valued(ns: Namespace) -> int:
    return int(ns["fam"].labels(ns["v"]).value())


def _child_total_sample(ns: Namespace) -> int:
    return _collected(ns["fam"].labels(ns["v"]), "_total")


def _otel_labels() -> Namespace:
    return {
        "c": _otel_meter().create_counter("bench_rule_hits"),
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
    return {"rec": recorder, "fn": target.add, "one": 1, "_target": target}


def _null_recorder() -> Namespace:
    level = MetricsLevel.OFF
    recorder = make_recorder(MetricsConfig(level=level))
    target = AtomicCounter()
    return {"rec": recorder, "fn": target.add, "one": 1}


def _flush(ns: Namespace) -> None:
    recorder = ns["rec"]
    recorder.flush()
    if recorder.stats().dropped:
        # The figure would mix in the cheaper drop path: refuse to report it.
        raise RuntimeError(f"the recorder dropped calls; raise RECORDER_BUFFER ({RECORDER_BUFFER})")


def _applied(ns: Namespace) -> int:
    return int(ns["_target"].load())


def _close(ns: Namespace) -> None:
    ns["rec"].close()


def _plain_queue() -> Namespace:
    q: queue.Queue[object] = queue.Queue()
    target = AtomicCounter()
    return {"q": q, "item": (target.add, 1)}


def _clear_queue(ns: Namespace) -> None:
    q = ns["q"]
    with q.mutex:
        q.queue.clear()


# --- throughput ------------------------------------------------------------------


def _throughput() -> Namespace:
    return {"t": ThroughputMetric(sla_ns=SLA_NS), "one": 1, "lat": OBSERVED_NS}


def _events(ns: Namespace) -> int:
    return int(ns["t"].events_processed())


def _prom_throughput() -> Namespace:
    prom = _prom()
    events = prom.Counter("bench_events", "Events.", registry=None)
    samples = prom.Counter("bench_samples", "Samples.", registry=None)
    return {"ev": events, "sa": samples}


def _prom_events(ns: Namespace) -> int:
    return _collected(ns["ev"], "_total")


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
    return {"generate_text": generate_text, "reg": reg}


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
    return {"generate_latest": prom.generate_latest, "reg": reg}


def _shared(name: str, stmt: str, total: Callable[[Namespace], int]) -> Candidate:
    return Candidate(name, "shared", stmt, _shared_registry, total=total)


CANDIDATES: tuple[Candidate, ...] = (
    # shared: idiomatic code on one shared object (statements as users write them)
    _shared("REQUESTS.inc() (registry counter)", "REQUESTS.inc()", _requests_total),
    _shared('family.labels("GET").inc()', 'family.labels("GET").inc()', _get_total),
    _shared("hist.observe(x) (registry histogram)", "hist.observe(x)", _hist_total),
    _shared("rule.record(d) (registry rule metric)", "rule.record(d)", _rule_total),
    _shared("with rule.time(): pass", "with rule.time(): pass", _rule_total),
    _shared(
        "throughput.record(1, lat) (registry throughput)",
        "throughput.record(1, lat)",
        _throughput_total,
    ),
    Candidate(
        "counter.inc() (AtomicCounter)",
        "shared",
        "counter.inc()",
        _shared_counter(AtomicCounter),
        total=_counter_total,
    ),
    Candidate(
        "counter.inc() (StripedCounter)",
        "shared",
        "counter.inc()",
        _shared_counter(StripedCounter),
        total=_counter_total,
    ),
    # counter
    Candidate(
        "AtomicCounter.inc()",
        "counter",
        "op()",
        _atomic_counter,
        bind=_bound(op="c.inc"),
        total=_loaded,
    ),
    Candidate(
        "StripedCounter.inc()",
        "counter",
        "op()",
        _striped_counter,
        bind=_bound(op="c.inc"),
        total=_loaded,
    ),
    Candidate(
        "registry Counter.inc()",
        "counter",
        "op()",
        _registry_counter,
        bind=_bound(op="c.inc"),
        total=_valued,
    ),
    Candidate(
        "MutexCounter.inc()",
        "counter",
        "op()",
        _mutex_counter,
        "baseline",
        "MutexCounter",
        bind=_bound(op="c.inc"),
        total=_loaded,
    ),
    Candidate(
        "prometheus_client Counter.inc()",
        "counter",
        "op()",
        _prom_counter,
        "baseline",
        "prometheus_client",
        bind=_bound(op="c.inc"),
        total=_total_sample,
    ),
    Candidate(
        "facade Counter.inc()",
        "counter",
        "op()",
        _facade_counter,
        bind=_bound(op="c.inc"),
        total=_total_sample,
    ),
    Candidate(
        "OpenTelemetry counter.add(1)",
        "counter",
        "op(one)",
        _otel_counter,
        "baseline",
        "OpenTelemetry",
        bind=_bound(op="c.add"),
    ),
    # reads
    Candidate("AtomicCounter.load()", "reads", "op()", _atomic_load, bind=_bound(op="c.load")),
    Candidate("StripedCounter.load()", "reads", "op()", _striped_load, bind=_bound(op="c.load")),
    Candidate(
        "MutexCounter.load()",
        "reads",
        "op()",
        _mutex_load,
        "baseline",
        "MutexCounter",
        bind=_bound(op="c.load"),
    ),
    Candidate(
        "prometheus_client Counter._value.get()",
        "reads",
        "op()",
        _prom_get,
        "baseline",
        "prometheus_client",
        bind=_bound(op="v.get"),
    ),
    # rule metric
    Candidate(
        "RuleExecutionMetric.record(d, False)",
        "rule",
        "op(d, e)",
        _rule_metric,
        bind=_bound(op="r.record"),
        total=_executions,
    ),
    Candidate(
        "MutexRuleExecutionMetric.record(d, False)",
        "rule",
        "op(d, e)",
        _mutex_rule_metric,
        "baseline",
        "MutexRuleExecutionMetric",
        bind=_bound(op="r.record"),
        total=_executions,
    ),
    Candidate(
        "prometheus_client Histogram.observe + Counter.inc",
        "rule",
        "obs(x); inc()",
        _prom_rule_metric,
        "baseline",
        "prometheus_client",
        bind=_bound(obs="h.observe", inc="c.inc"),
        total=_total_sample,
    ),
    # histogram
    Candidate(
        "AtomicHistogram.observe(x)",
        "histogram",
        "op(x)",
        _atomic_histogram,
        bind=_bound(op="h.observe"),
        total=_observed,
    ),
    Candidate(
        "registry Histogram.observe(x)",
        "histogram",
        "op(x)",
        _registry_histogram,
        bind=_bound(op="h.observe"),
        total=_observed,
    ),
    Candidate(
        "MutexHistogram.observe(x)",
        "histogram",
        "op(x)",
        _mutex_histogram,
        "baseline",
        "MutexHistogram",
        bind=_bound(op="h.observe"),
        total=_observed,
    ),
    Candidate(
        "prometheus_client Histogram.observe(x)",
        "histogram",
        "op(x)",
        _prom_histogram,
        "baseline",
        "prometheus_client",
        bind=_bound(op="h.observe"),
        total=_count_sample,
    ),
    Candidate(
        "facade Histogram.observe(x)",
        "histogram",
        "op(x)",
        _facade_histogram,
        bind=_bound(op="h.observe"),
        total=_count_sample,
    ),
    Candidate(
        "OpenTelemetry histogram.record(x)",
        "histogram",
        "op(x)",
        _otel_histogram,
        "baseline",
        "OpenTelemetry",
        bind=_bound(op="h.record"),
    ),
    # labels: the statement is already the idiom (the lookup is what is timed)
    Candidate(
        'family.labels("rule-7").inc()',
        "labels",
        "fam.labels(v).inc()",
        _registry_labels,
        total=_child_valued,
    ),
    Candidate(
        'prometheus_client .labels("rule-7").inc()',
        "labels",
        "fam.labels(v).inc()",
        _prom_labels,
        "baseline",
        "prometheus_client",
        total=_child_total_sample,
    ),
    Candidate(
        'facade .labels("rule-7").inc()',
        "labels",
        "fam.labels(v).inc()",
        _facade_labels,
        total=_child_total_sample,
    ),
    Candidate(
        'OpenTelemetry counter.add(1, {"rule": "rule-7"})',
        "labels",
        "op(one, attrs)",
        _otel_labels,
        "baseline",
        "OpenTelemetry",
        bind=_bound(op="c.add"),
    ),
    # recorder
    Candidate(
        "AsyncMetricRecorder.record(fn, 1)",
        "recorder",
        "op(fn, one)",
        _async_recorder,
        between=_flush,
        teardown=_close,
        bind=_bound(op="rec.record"),
        total=_applied,
    ),
    Candidate(
        "NullRecorder.record(fn, 1) (level OFF)",
        "recorder",
        "op(fn, one)",
        _null_recorder,
        teardown=_close,
        bind=_bound(op="rec.record"),
    ),
    Candidate(
        "queue.Queue.put_nowait(item)",
        "recorder",
        "op(item)",
        _plain_queue,
        "baseline",
        "queue.Queue",
        between=_clear_queue,
        bind=_bound(op="q.put_nowait"),
    ),
    # throughput
    Candidate(
        "ThroughputMetric.record(1, latency)",
        "throughput",
        "op(one, lat)",
        _throughput,
        bind=_bound(op="t.record"),
        total=_events,
    ),
    Candidate(
        "prometheus_client 2x Counter.inc()",
        "throughput",
        "ev(); sa()",
        _prom_throughput,
        "baseline",
        "prometheus_client",
        bind=_bound(ev="ev.inc", sa="sa.inc"),
        total=_prom_events,
    ),
    # exposition
    Candidate(
        "generate_text(registry), 200 series",
        "exposition",
        "generate_text(reg)",
        _registry_scrape,
        unroll=1,
        max_threads=1,
    ),
    Candidate(
        "facade generate_latest, 200 series",
        "exposition",
        "generate_latest(reg)",
        _facade_scrape,
        unroll=1,
        max_threads=1,
    ),
    Candidate(
        "prometheus_client generate_latest, 200 series",
        "exposition",
        "generate_latest(reg)",
        _prom_scrape,
        "baseline",
        "prometheus_client",
        unroll=1,
        max_threads=1,
    ),
)

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in CANDIDATES))
