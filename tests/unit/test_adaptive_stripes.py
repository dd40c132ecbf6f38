"""Contention-adaptive stripes (csrc/stripes.h) in every striped cell.

Each cell starts as one cell and grows a table of per-thread stripes when
recording contends; ``_spread()`` makes the table now (what contention does
on 3.13t), so single-threaded tests can drive the striped paths on any build.
Checked: exact totals from 8 threads on a barrier, invariants read while
writers run, reset() under writers, equivalence with the mutex twins, the
never-wraps rules, arena cells that never stripe, and memory.
"""

from __future__ import annotations

import math
import mmap
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomicmetrics import (
    AtomicCounter,
    AtomicHistogram,
    Registry,
    RuleExecutionMetric,
    ThroughputMetric,
)
from atomicmetrics._core import _FloatAdder, _IntAdder
from atomicmetrics.reference import MutexCounter, MutexHistogram, MutexRuleExecutionMetric
from tests.helpers import INT64_MAX, INT64_MIN, THREADS, apply_op, run_threads

GUARD = 2**55  # AM_GUARD, AM_RULE_GUARD, AM_TP_GUARD: what a striped cell keeps free
BOUNDS = (1.0, 10.0, 100.0, 1000.0)
RULE_BOUNDS = (1e3, 1e4, 1e5, 1e6)
N = 4_000  # operations per thread


def spread(obj: Any) -> Any:
    """``obj`` with its stripe table made (what contention does)."""
    assert obj._spread() >= 4
    return obj


# ---- the table --------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        _IntAdder,
        _FloatAdder,
        lambda: AtomicHistogram(BOUNDS),
        lambda: RuleExecutionMetric(RULE_BOUNDS),
        lambda: ThroughputMetric(window_s=4, resolution_s=1),
    ],
    ids=["int", "float", "histogram", "rule", "throughput"],
)
def test_uncontended_cells_cost_what_they_did_and_a_table_is_bounded(make: Any) -> None:
    obj = make()
    before = sys.getsizeof(obj)
    n = obj._spread()
    assert 4 <= n <= 128
    assert n & (n - 1) == 0
    assert obj._spread() == n  # published once, never replaced
    grown = sys.getsizeof(obj) - before
    assert 0 < grown <= 64 + 128 * max(64, 8 * 72)  # header + stripes (docs/freethreading.md)


def test_uncontended_sizes_did_not_change() -> None:
    # No table until contention: the object is what it was before stripes.
    # (__sizeof__: sys.getsizeof adds the GC header of the Python subclass)
    r = RuleExecutionMetric()
    assert r.__sizeof__() == RuleExecutionMetric.__basicsize__ + RuleExecutionMetric._cell_bytes(8)
    h = AtomicHistogram(BOUNDS)
    assert h.__sizeof__() == AtomicHistogram.__basicsize__ + AtomicHistogram._cell_bytes(4)


def test_arena_cells_never_stripe() -> None:
    buf = mmap.mmap(-1, 4096)
    view = memoryview(buf)
    cells = [
        AtomicHistogram._from_buffer(view, 0, BOUNDS),
        RuleExecutionMetric._from_buffer(view, 1024, RULE_BOUNDS),
        ThroughputMetric._from_buffer(view, 2048, 4.0, 1.0, None, lambda: 0),
    ]
    assert [c._spread() for c in cells] == [0, 0, 0]
    del cells, view
    buf.close()


# ---- exact totals under threads ------------------------------------------------


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_int_and_float_adders_are_exact_under_threads(pre: bool, switch_fast: object) -> None:
    ints, floats = _IntAdder(), _FloatAdder()
    if pre:
        spread(ints), spread(floats)

    def work(_: int) -> None:
        inc, add, fadd = ints.inc, ints.add, floats.add
        for _ in range(N):
            inc()
            add(2)
            fadd(0.5)

    run_threads(THREADS, work)
    assert ints.load() == THREADS * N * 3
    assert floats.load() == THREADS * N * 0.5  # halves: every partial sum is exact
    assert ints.reset() == THREADS * N * 3
    assert ints.load() == 0
    assert floats.reset() == THREADS * N * 0.5
    assert floats.load() == 0.0


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_histogram_is_exact_under_threads(pre: bool, switch_fast: object) -> None:
    h = AtomicHistogram(BOUNDS)
    if pre:
        spread(h)

    def work(i: int) -> None:
        observe = h.observe
        for k in range(N):
            observe(float(k % 5) * 10.0 ** (k % 4))

    run_threads(THREADS, work)
    want = MutexHistogram(BOUNDS)
    for k in range(N):
        want.observe(float(k % 5) * 10.0 ** (k % 4))
    s = h.snapshot()
    assert s.buckets == [b * THREADS for b in want.bucket_counts()]
    assert s.count == sum(s.buckets) == THREADS * N
    assert s.sum == want.sum() * THREADS


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_rule_metric_is_exact_under_threads(pre: bool, switch_fast: object) -> None:
    m = RuleExecutionMetric(RULE_BOUNDS)
    if pre:
        spread(m)

    def work(i: int) -> None:
        record = m.record
        for k in range(N):
            record(100 + i * 1000 + k, k % 7 == 0)

    run_threads(THREADS, work)
    s = m.snapshot()
    assert s.execution_count == sum(s.bucket_counts) == THREADS * N
    assert s.error_count == THREADS * len(range(0, N, 7))
    assert s.total_duration_ns == sum(100 + i * 1000 + k for i in range(THREADS) for k in range(N))
    assert s.min_duration_ns == 100
    assert s.max_duration_ns == 100 + (THREADS - 1) * 1000 + N - 1


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_throughput_is_exact_under_threads(pre: bool, switch_fast: object) -> None:
    clock = AtomicCounter(10**9)
    t = ThroughputMetric(window_s=60, resolution_s=1, sla_ns=500, clock=clock.load)
    if pre:
        spread(t)

    def work(i: int) -> None:
        record = t.record
        for k in range(N):
            record(1 + k % 3, 1000 if k % 4 == 0 else 1)

    run_threads(THREADS, work)
    events = THREADS * sum(1 + k % 3 for k in range(N))
    s = t.snapshot()
    assert s.events_processed == events
    assert s.sample_count == THREADS * N
    assert s.sla_violations == THREADS * len(range(0, N, 4))
    assert s.throughput == events / 1.0  # one slot, one second since creation
    assert s.peak_throughput == events


def test_throughput_window_and_peak_sum_the_stripes_of_threads() -> None:
    clock = AtomicCounter(0)
    t = ThroughputMetric(window_s=3, resolution_s=1, clock=clock.load)
    spread(t)
    per_second = [5, 9, 2, 7, 1]
    for i, n in enumerate(per_second):
        clock.store(i * 10**9)
        run_threads(4, lambda _, n=n: [t.record() for _ in range(n)])
    clock.store(len(per_second) * 10**9 - 1)
    assert t.events_processed() == 4 * sum(per_second)
    assert t.throughput() == 4 * sum(per_second[-3:]) / 3
    assert t.peak_throughput() == 4 * max(per_second)


# ---- readers while writers run ---------------------------------------------------


def _with_reader(work: Callable[[], None], read: Callable[[], None]) -> None:
    """THREADS - 1 writers run ``work``; one thread calls ``read`` until they are done."""
    done = threading.Event()
    left = AtomicCounter(THREADS - 1)

    def body(i: int) -> None:
        if i == THREADS - 1:
            while not done.is_set():
                read()
            read()
            return
        try:
            work()
        finally:
            if left.fetch_add(-1) == 1:
                done.set()

    run_threads(THREADS, body)


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_histogram_and_rule_readers_see_consistent_snapshots(
    pre: bool, switch_fast: object
) -> None:
    h, m = AtomicHistogram(BOUNDS), RuleExecutionMetric(RULE_BOUNDS)
    if pre:
        spread(h), spread(m)
    seen = [0, 0]

    def work() -> None:
        for k in range(N):
            h.observe(k % 2000)
            m.record(k % 2000, k % 3 == 0)

    def read() -> None:
        s = h.snapshot()
        assert s.count == sum(s.buckets)
        assert s.count >= seen[0]
        seen[0] = s.count
        r = m.snapshot()
        assert r.execution_count == sum(r.bucket_counts) >= seen[1]
        seen[1] = r.execution_count
        assert r.error_count <= r.execution_count
        if r.execution_count:
            assert r.min_duration_ns is not None
            assert r.max_duration_ns is not None
            assert r.min_duration_ns <= r.average_duration_ns <= r.max_duration_ns

    _with_reader(work, read)
    assert h.count() == m.execution_count() == (THREADS - 1) * N


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_counter_and_throughput_readers(pre: bool, switch_fast: object) -> None:
    c = Registry().counter("c", "").labels()
    t = ThroughputMetric(sla_ns=10)
    if pre:
        spread(c._int), spread(c._float), spread(t)
    last = [0.0]

    def work() -> None:
        for k in range(N):
            c.inc()
            c.inc(0.25)
            t.record(2, 100 if k % 2 else 1)

    def read() -> None:
        v = c.value()
        assert v >= last[0]  # a counter never goes back (no false reset for a scraper)
        last[0] = v
        s = t.snapshot()
        assert s.sla_violations <= s.sample_count
        assert s.throughput * 1.0 <= s.events_processed  # window <= events (1 s elapsed min)
        assert s.peak_throughput <= s.events_processed

    _with_reader(work, read)
    assert c.value() == (THREADS - 1) * N * 1.25
    assert t.events_processed() == (THREADS - 1) * N * 2


# ---- reset() under writers ------------------------------------------------------


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_adder_resets_count_every_update_once(pre: bool, switch_fast: object) -> None:
    a, f = _IntAdder(), _FloatAdder()
    if pre:
        spread(a), spread(f)
    taken = [0, 0.0]

    def work() -> None:
        for _ in range(N):
            a.inc()
            f.add(1.0)

    def read() -> None:
        taken[0] += a.reset()
        taken[1] += f.reset()

    _with_reader(work, read)
    assert taken[0] + a.load() == (THREADS - 1) * N
    assert taken[1] + f.load() == (THREADS - 1) * N


@pytest.mark.parametrize("pre", [False, True], ids=["adaptive", "spread"])
def test_histogram_and_rule_resets_keep_snapshots_consistent(
    pre: bool, switch_fast: object
) -> None:
    h, m = AtomicHistogram(BOUNDS), RuleExecutionMetric(RULE_BOUNDS)
    if pre:
        spread(h), spread(m)

    def work() -> None:
        for k in range(N):
            h.observe(k % 50)
            m.record(k % 50, k % 2 == 0)

    def read() -> None:
        h.reset()
        m.reset()
        s, r = h.snapshot(), m.snapshot()
        assert s.count == sum(s.buckets)
        assert r.execution_count == sum(r.bucket_counts)
        assert r.error_count <= r.execution_count
        if r.execution_count:
            assert r.min_duration_ns is not None
            assert r.max_duration_ns is not None
            assert r.min_duration_ns <= r.average_duration_ns <= r.max_duration_ns

    _with_reader(work, read)
    assert 0 <= h.count() <= (THREADS - 1) * N
    h.reset()
    m.reset()
    assert h.snapshot().count == 0
    assert m.snapshot().execution_count == 0
    assert m.snapshot().total_duration_ns == 0


# ---- the same answers as the mutex twins -------------------------------------------

INT_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("inc")),
        st.tuples(st.just("dec")),
        st.tuples(st.just("add"), st.integers(-(2**50), 2**50)),
        st.tuples(st.just("reset")),
    ),
    max_size=40,
)


@given(program=INT_OPS, pre=st.booleans())
def test_int_adder_equals_mutex_counter(program: list[tuple[Any, ...]], pre: bool) -> None:
    a, m = _IntAdder(), MutexCounter()
    if pre:
        spread(a)
    for op in program:
        assert apply_op(a, op) == apply_op(m, op), op
        assert a.load() == m.load()


@settings(max_examples=50)
@given(
    xs=st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from(BOUNDS), max_size=40),
    cut=st.integers(0, 40),
)
def test_spread_histogram_equals_mutex_histogram(xs: list[float], cut: int) -> None:
    h, m = AtomicHistogram(BOUNDS), MutexHistogram(BOUNDS)
    for i, x in enumerate(xs):
        if i == cut:
            spread(h)  # part of the data in the base cell, part in a stripe
        h.observe(x)
        m.observe(x)
    assert h.bucket_counts() == m.bucket_counts()
    assert h.count() == m.count()
    assert math.isclose(h.sum(), m.sum(), rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=50)
@given(
    records=st.lists(st.tuples(st.integers(0, 10**12), st.booleans()), max_size=40),
    cut=st.integers(0, 40),
)
def test_spread_rule_metric_equals_mutex_twin(records: list[tuple[int, bool]], cut: int) -> None:
    r, m = RuleExecutionMetric(RULE_BOUNDS), MutexRuleExecutionMetric(RULE_BOUNDS)
    for i, (d, err) in enumerate(records):
        if i == cut:
            spread(r)
        r.record(d, err)
        m.record(d, err)
    assert r.snapshot() == m.snapshot()


# ---- never wraps -----------------------------------------------------------------


def test_int_adder_has_atomic_counters_range_until_it_stripes() -> None:
    a = _IntAdder()
    a.add(INT64_MAX)  # one word, exact: goes "wide" for good
    with pytest.raises(OverflowError):
        a.inc()
    assert a.load() == INT64_MAX
    assert a._spread() == 0  # a wide cell never stripes
    a.add(INT64_MIN)
    a.add(INT64_MIN + 1)
    assert a.load() == INT64_MIN
    assert _IntAdder(INT64_MAX).load() == INT64_MAX  # starts wide


def test_striped_int_adder_may_raise_early_but_never_wraps() -> None:
    a = spread(_IntAdder(INT64_MAX - GUARD))
    limit = GUARD // len(a._cells()[1:])
    a.add(limit)  # fits the stripe
    assert a.load() == INT64_MAX - GUARD + limit
    with pytest.raises(OverflowError):
        a.add(GUARD)  # base at its bound, the stripe cannot take it
    assert a.load() == INT64_MAX - GUARD + limit


def test_rule_metric_overflow_stays_exact_unstriped_and_early_striped() -> None:
    r = RuleExecutionMetric()
    r.record(INT64_MAX)
    with pytest.raises(OverflowError):
        r.record(1)
    assert r.total_duration_ns() == INT64_MAX
    assert r._spread() == 0  # no room left for the stripes' allowance
    s = spread(RuleExecutionMetric())
    s.record(INT64_MAX - GUARD)  # the base takes what the stripes do not reserve
    with pytest.raises(OverflowError):
        s.record(GUARD)
    s.record(1)  # fits a stripe
    assert s.total_duration_ns() == INT64_MAX - GUARD + 1


def test_throughput_events_never_wrap() -> None:
    t = ThroughputMetric()
    t.record(INT64_MAX)
    with pytest.raises(OverflowError):
        t.record(1)
    assert t.events_processed() == INT64_MAX
    assert t._spread() == 0  # went wide: never stripes
    s = spread(ThroughputMetric())
    s.record(INT64_MAX - GUARD)
    with pytest.raises(OverflowError):
        s.record(GUARD)
    assert s.events_processed() == INT64_MAX - GUARD
