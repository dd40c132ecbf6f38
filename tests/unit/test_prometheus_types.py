"""Counter, Gauge, Histogram and the exposed samples of every family kind."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import Counter, Gauge, Histogram, Registry
from atomicmetrics.formatting import render_labels
from atomicmetrics.samples import MetricFamily, Sample
from tests.conftest import THREADS, run_threads

INT64_MAX = 2**63 - 1


@pytest.fixture
def reg() -> Registry:
    return Registry()


def exposed(reg: Registry) -> dict[str, MetricFamily]:
    """The collected families by name, samples without their rendered-label cache.

    Checks that cache on the way: every sample carries exactly
    ``render_labels(labels)``.
    """
    families = list(reg.collect())
    out = {f.name: plain(f) for f in families}
    assert len(out) == len(families), "duplicate family names"
    return out


def plain(family: MetricFamily) -> MetricFamily:
    for s in family.samples:
        assert s.rendered_labels == render_labels(s.labels)
    samples = tuple(Sample(s.name, s.labels, s.value) for s in family.samples)
    return MetricFamily(family.name, family.type, family.help, samples)


# ---- Counter -------------------------------------------------------------------


def test_counter_inc_int_and_float_paths(reg: Registry) -> None:
    c = reg.counter("c", "").labels()
    assert isinstance(c, Counter)
    assert c.value() == 0
    c.inc()
    c.inc(2)
    c.inc(3.0)  # integral float: exact int path
    c.inc(True)
    assert c.value() == 7
    assert isinstance(c.value(), int)
    c.inc(0.5)
    assert c.value() == 7.5
    c.inc(0)
    c.inc(0.0)
    c.inc(-0.0)
    assert c.value() == 7.5
    c.inc(math.inf)
    assert c.value() == math.inf


def test_counter_integral_part_is_exact_beyond_float_precision(reg: Registry) -> None:
    c = reg.counter("c", "").labels()
    c.inc(2**53)
    c.inc()
    assert c.value() == 2**53 + 1  # a double could not hold this
    c.inc(1e300)  # integral but beyond int64: float part
    assert c.value() == 2**53 + 1 + 1e300


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (-1, ValueError),
        (-0.5, ValueError),
        (-math.inf, ValueError),
        (math.nan, ValueError),
        ("1", TypeError),
        (None, TypeError),
        (1j, TypeError),
        (2**63, OverflowError),
    ],
)
def test_counter_bad_amounts_raise_and_change_nothing(
    reg: Registry, bad: object, error: type[Exception]
) -> None:
    c = reg.counter("c", "").labels()
    c.inc(1.5)
    with pytest.raises(error):
        c.inc(bad)  # type: ignore[arg-type]
    assert c.value() == 1.5


def test_counter_int64_overflow_raises_and_changes_nothing(reg: Registry) -> None:
    c = reg.counter("c", "").labels()
    c.inc(INT64_MAX)
    for amount in (1, 1.0):
        with pytest.raises(OverflowError):
            c.inc(amount)
    with pytest.raises(OverflowError):
        c.inc()
    assert c.value() == INT64_MAX


@given(st.lists(st.one_of(st.integers(0, 2**40), st.floats(0, 1e6, allow_nan=False)), max_size=40))
def test_counter_equals_a_two_part_model(amounts: list[int | float]) -> None:
    c = Registry().counter("c", "").labels()
    whole, frac = 0, 0.0
    for a in amounts:
        c.inc(a)
        if isinstance(a, float) and not a.is_integer():
            frac += a
        else:
            whole += int(a)
    assert c.value() == (whole if frac == 0.0 else whole + frac)


@pytest.mark.usefixtures("switch_fast")
def test_counter_exact_totals_on_threads(reg: Registry) -> None:
    fam = reg.counter("c", "", ["k"])
    n = 4_000

    def work(i: int) -> None:
        child = fam.labels("x")
        for _ in range(n):
            child.inc()
            child.inc(0.5)  # exact in binary: sums stay exact

    run_threads(THREADS, work)
    assert fam.labels("x").value() == THREADS * n * 1.5


# ---- Gauge ---------------------------------------------------------------------


def test_gauge_operations(reg: Registry) -> None:
    g = reg.gauge("g", "").labels()
    assert isinstance(g, Gauge)
    assert g.value() == 0.0
    g.set(5)
    g.inc()
    g.inc(2.5)
    g.dec()
    g.dec(0.5)
    assert g.value() == 7.0
    g.inc(-7)
    g.dec(-1)
    assert g.value() == 1.0
    g.set(math.nan)
    assert math.isnan(g.value())
    g.set(-math.inf)
    assert g.value() == -math.inf
    before = time.time()
    g.set_to_current_time()
    assert before <= g.value() <= time.time()


@pytest.mark.parametrize("bad", ["1", None, [1]])
def test_gauge_bad_values_raise_type_error_and_change_nothing(reg: Registry, bad: object) -> None:
    g = reg.gauge("g", "").labels()
    g.set(3)
    for call in (g.set, g.inc, g.dec):
        with pytest.raises(TypeError):
            call(bad)  # type: ignore[operator]
    assert g.value() == 3


@pytest.mark.usefixtures("switch_fast")
def test_gauge_inc_dec_exact_on_threads(reg: Registry) -> None:
    g = reg.gauge("g", "")
    n = 4_000

    def work(i: int) -> None:
        for _ in range(n):
            g.inc(2)
            g.dec()

    run_threads(THREADS, work)
    assert g.value() == THREADS * n


# ---- Histogram -------------------------------------------------------------------


def test_histogram_observe_and_snapshot(reg: Registry) -> None:
    h = reg.histogram("h", "", buckets=[0.1, 1.0]).labels()
    assert isinstance(h, Histogram)
    for x in (0.05, 0.1, 0.5, 1.0, 7, math.inf):
        h.observe(x)
    s = h.snapshot()
    assert s.buckets == [2, 2, 2]
    assert s.count == 6
    assert s.sum == math.inf
    with pytest.raises(ValueError, match=r"(?i)nan"):
        h.observe(math.nan)
    with pytest.raises(TypeError):
        h.observe("1")  # type: ignore[arg-type]
    assert h.snapshot().count == 6


def test_histogram_default_buckets_are_seconds(reg: Registry) -> None:
    h = reg.histogram("h", "")
    assert h.bounds[0] == 0.005
    assert h.bounds[-1] == 10.0


def test_histogram_time_as_context_manager_and_decorator(reg: Registry) -> None:
    fam = reg.histogram("h", "", buckets=[0.001, 10])
    with fam.time():
        pass
    with pytest.raises(KeyError), fam.time():
        raise KeyError("observed anyway")

    @fam.time()
    def slow(x: int) -> int:
        time.sleep(0.002)
        return x * 2

    assert slow.__name__ == "slow"
    assert run_threads(4, slow) == [0, 2, 4, 6]  # one timer, concurrent calls
    s = fam.snapshot()
    assert s.count == 6
    assert s.buckets[1] >= 4  # the sleeping calls took more than 1 ms
    assert 0.008 <= s.sum < 10


# ---- exposed samples -----------------------------------------------------------------


def test_counter_gauge_histogram_exposure(reg: Registry) -> None:
    c = reg.counter("req_total", "requests", ["code"])
    c.labels("200").inc(3)
    c.labels("500").inc(0.25)
    reg.gauge("temp", "temperature").set(21.5)
    h = reg.histogram("lat", "latency", ["path"], buckets=[0.5, 1])
    h.labels("/").observe(0.2)
    h.labels("/").observe(0.7)
    fams = exposed(reg)
    assert fams["req"] == MetricFamily(
        "req",
        "counter",
        "requests",
        (
            Sample("req_total", (("code", "200"),), 3),
            Sample("req_total", (("code", "500"),), 0.25),
        ),
    )
    assert fams["temp"] == MetricFamily("temp", "gauge", "temperature", (Sample("temp", (), 21.5),))
    p = (("path", "/"),)
    assert fams["lat"] == MetricFamily(
        "lat",
        "histogram",
        "latency",
        (
            Sample("lat_bucket", (*p, ("le", "0.5")), 1),
            Sample("lat_bucket", (*p, ("le", "1.0")), 2),
            Sample("lat_bucket", (*p, ("le", "+Inf")), 2),
            Sample("lat_count", p, 2),
            Sample("lat_sum", p, 0.2 + 0.7),
        ),
    )


def test_rule_execution_exposure_matches_the_metric(reg: Registry) -> None:
    fam = reg.rule_execution("rule", "rule runs", ["rule"], buckets=[1_000, 5_000_000])
    m = fam.labels("r1")
    for d, err in ((500, False), (2_000, True), (10_000_000, False)):
        m.record(d, err)
    fam.labels("idle")  # no data: no min/max sample
    fams = exposed(reg)
    assert set(fams) == {
        "rule_executions",
        "rule_errors",
        "rule_duration_seconds",
        "rule_duration_min_seconds",
        "rule_duration_max_seconds",
    }
    r1 = (("rule", "r1"),)
    idle = (("rule", "idle"),)
    assert fams["rule_executions"].type == "counter"
    assert fams["rule_executions"].samples == (
        Sample("rule_executions_total", r1, m.execution_count()),
        Sample("rule_executions_total", idle, 0),
    )
    assert fams["rule_errors"].type == "counter"
    assert fams["rule_errors"].samples[0] == Sample("rule_errors_total", r1, m.error_count())
    dur = fams["rule_duration_seconds"]
    assert dur.type == "histogram"
    buckets = [s for s in dur.samples if s.labels[:1] == r1 and s.name.endswith("_bucket")]
    assert [s.labels[-1] for s in buckets] == [("le", "1e-06"), ("le", "0.005"), ("le", "+Inf")]
    cumulative = [sum(m.bucket_counts()[: i + 1]) for i in range(3)]
    assert [s.value for s in buckets] == cumulative == [1, 2, 3]
    by_name = {s.name: s.value for s in dur.samples if s.labels == r1}
    assert by_name["rule_duration_seconds_count"] == m.execution_count()
    assert by_name["rule_duration_seconds_sum"] == m.total_duration_ns() / 1e9
    assert fams["rule_duration_min_seconds"].type == "gauge"
    assert fams["rule_duration_min_seconds"].samples == (
        Sample("rule_duration_min_seconds", r1, m.min_duration_ns() / 1e9),  # type: ignore[operator]
    )
    assert fams["rule_duration_max_seconds"].samples == (
        Sample("rule_duration_max_seconds", r1, m.max_duration_ns() / 1e9),  # type: ignore[operator]
    )


def test_rule_min_max_families_are_absent_while_empty(reg: Registry) -> None:
    fam = reg.rule_execution("rule", "", ["rule"])
    fam.labels("a")
    assert "rule_duration_min_seconds" not in exposed(reg)
    assert "rule_duration_max_seconds" not in exposed(reg)
    unlabelled = reg.rule_execution("solo", "")
    assert "solo_duration_min_seconds" not in exposed(reg)
    unlabelled.record(7)
    assert exposed(reg)["solo_duration_min_seconds"].samples == (
        Sample("solo_duration_min_seconds", (), 7e-9),
    )


def test_throughput_exposure_matches_the_metric(reg: Registry) -> None:
    fam = reg.throughput("ev", "events", ["src"], window_s=10, resolution_s=1, sla_ns=100)
    m = fam.labels("kafka")
    m.record(5, latency_ns=50)
    m.record(7, latency_ns=500)
    m.record()
    fams = exposed(reg)
    k = (("src", "kafka"),)
    expected: dict[str, tuple[str, Any]] = {
        "ev_events": ("counter", Sample("ev_events_total", k, m.events_processed())),
        "ev_samples": ("counter", Sample("ev_samples_total", k, m.sample_count())),
        "ev_sla_violations": ("counter", Sample("ev_sla_violations_total", k, m.sla_violations())),
        "ev_peak_events_per_second": (
            "gauge",
            Sample("ev_peak_events_per_second", k, m.peak_throughput()),
        ),
    }
    assert set(fams) == {*expected, "ev_events_per_second"}
    for name, (kind, sample) in expected.items():
        assert fams[name].type == kind
        assert fams[name].samples == (sample,)
    assert (m.events_processed(), m.sample_count(), m.sla_violations()) == (13, 3, 1)
    (rate,) = fams["ev_events_per_second"].samples
    assert fams["ev_events_per_second"].type == "gauge"
    assert rate.name == "ev_events_per_second"
    assert rate.labels == k
    assert 0 < rate.value <= 13  # the window rate moves with the clock


@pytest.mark.usefixtures("switch_fast")
def test_composite_exposure_is_consistent_while_recording(reg: Registry) -> None:
    """One snapshot per child: _count == _executions_total in every scrape."""
    fam = reg.rule_execution("rule", "", ["rule"])
    stop = threading.Event()
    problems: list[str] = []

    def scraper() -> None:
        while not stop.is_set():
            fams = exposed(reg)
            total = {s.labels: s.value for s in fams["rule_executions"].samples}
            dur = fams["rule_duration_seconds"].samples
            for s in dur:
                if s.name.endswith("_count") and s.value != total[s.labels]:
                    problems.append(f"{s.value} != {total[s.labels]}")

    t = threading.Thread(target=scraper)
    t.start()
    try:
        run_threads(THREADS, lambda i: [fam.labels(str(i % 2)).record(j) for j in range(2_000)])
    finally:
        stop.set()
        t.join()
    assert not problems
    assert sum(s.value for s in exposed(reg)["rule_executions"].samples) == THREADS * 2_000


def test_unlabelled_composite_families_proxy_the_metric(reg: Registry) -> None:
    r = reg.rule_execution("r", "")
    r.record(10)
    r.record(30, True)
    assert (r.execution_count(), r.error_count(), r.total_duration_ns()) == (2, 1, 40)
    assert (r.min_duration_ns(), r.max_duration_ns()) == (10, 30)
    assert r.average_duration_ns() == 20.0
    assert r.error_rate() == 0.5
    assert sum(r.bucket_counts()) == 2
    assert r.snapshot().execution_count == 2
    r.reset()
    assert r.execution_count() == 0
    t = reg.throughput("t", "", sla_ns=5)
    t.record(4, latency_ns=9)
    assert (t.events_processed(), t.sample_count(), t.sla_violations()) == (4, 1, 1)
    assert t.sla_violation_rate() == 1.0
    assert t.throughput() > 0
    assert t.peak_throughput() > 0
    assert t.snapshot().events_processed == 4
    t.reset()
    assert t.events_processed() == 0


def test_types_stand_alone_without_a_registry() -> None:
    c = Counter()
    c.inc()
    c.inc(0.5)
    assert c.value() == 1.5
    g = Gauge()
    g.set(4)
    g.dec()
    assert g.value() == 3.0
    h = Histogram([1, 2])
    h.observe(1.5)
    assert h.snapshot().buckets == [0, 1, 0]
    assert Histogram().snapshot().bounds[0] == 0.005
    with pytest.raises(ValueError):  # noqa: PT011 -- AtomicHistogram's message
        Histogram([2, 1])


def test_rendered_labels_are_reused_and_follow_removals(reg: Registry) -> None:
    fam = reg.histogram("h", "", ["k"], buckets=[1])
    fam.labels('a"b').observe(0.5)
    fam.labels("c").observe(2)
    first = next(iter(reg.collect()))
    again = next(iter(reg.collect()))
    assert plain(first) == plain(again)  # plain() checks every rendered text
    for s1, s2 in zip(first.samples, again.samples, strict=True):
        assert s1.rendered_labels is s2.rendered_labels  # rendered once, reused
    assert first.samples[0].rendered_labels == '{k="a\\"b",le="1.0"}'
    fam.remove("c")
    fam.labels("c").observe(0.1)  # a new child under an old label set
    third = plain(next(iter(reg.collect())))
    assert [s.value for s in third.samples if s.name == "h_count"] == [1, 1]
