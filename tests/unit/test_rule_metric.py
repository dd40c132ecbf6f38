"""RuleExecutionMetric: its contract, its mutex twin, time(),
and consistent snapshots while writers and resets run."""

from __future__ import annotations

import functools
import mmap
import struct
import sys
import threading
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import (
    DEFAULT_DURATION_BUCKETS_NS,
    RuleExecutionMetric,
    RuleExecutionSnapshot,
)
from atomicmetrics._core import FREE_THREADED_BUILD
from atomicmetrics.reference import MutexRuleExecutionMetric
from tests.helpers import (
    INT64_MAX,
    THREADS,
    apply_op,
    assert_placed_cells_pin_the_export_not_the_view,
    run_threads,
)

BOTH = pytest.mark.parametrize("cls", [RuleExecutionMetric, MutexRuleExecutionMetric])
GETTERS = (
    "execution_count",
    "error_count",
    "total_duration_ns",
    "average_duration_ns",
    "min_duration_ns",
    "max_duration_ns",
    "error_rate",
    "bucket_counts",
)
EMPTY9 = RuleExecutionSnapshot(0, 0, 0, 0.0, None, None, 0.0, [0] * 9)


def _getters(m: Any) -> RuleExecutionSnapshot:
    return RuleExecutionSnapshot(*(getattr(m, g)() for g in GETTERS))


@BOTH
def test_empty_metric(cls: Any) -> None:
    m = cls()
    assert m.bounds() == DEFAULT_DURATION_BUCKETS_NS
    assert m.snapshot() == EMPTY9
    assert _getters(m) == EMPTY9


@BOTH
def test_record_updates_everything_in_one_call(cls: Any) -> None:
    m = cls()
    m.record(500)  # 0.5 µs: first bucket
    m.record(1_000, True)  # on the 1 µs bound: first bucket (le)
    m.record(2_000_000, error=True)  # 2 ms
    m.record(duration_ns=20 * 10**9)  # 20 s: the +Inf bucket
    m.record(0, error=False)
    snap = m.snapshot()
    total = 500 + 1_000 + 2_000_000 + 20 * 10**9
    assert snap == RuleExecutionSnapshot(
        execution_count=5,
        error_count=2,
        total_duration_ns=total,
        average_duration_ns=total / 5,
        min_duration_ns=0,
        max_duration_ns=20 * 10**9,
        error_rate=0.4,
        bucket_counts=[3, 0, 0, 0, 1, 0, 0, 0, 1],
    )
    assert _getters(m) == snap
    m.reset()
    assert m.snapshot() == EMPTY9
    m.record(7)
    assert m.snapshot() == RuleExecutionSnapshot(1, 0, 7, 7.0, 7, 7, 0.0, [1] + [0] * 8)


@BOTH
def test_error_flag_uses_truthiness_and_bool_durations_are_ints(cls: Any) -> None:
    m = cls([10])
    m.record(True, 1)
    m.record(False, [])
    m.record(3, "yes")
    assert m.snapshot() == RuleExecutionSnapshot(3, 2, 4, 4 / 3, 0, 3, 2 / 3, [3, 0])


@BOTH
@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda m: m.record(-1), ValueError),
        (lambda m: m.record(-(2**63)), ValueError),
        (lambda m: m.record(1.0), TypeError),
        (lambda m: m.record("1"), TypeError),
        (lambda m: m.record(None), TypeError),
        (lambda m: m.record(2**63), OverflowError),
        (lambda m: m.record(INT64_MAX - 5), OverflowError),  # total would pass int64
        (lambda m: m.record(), TypeError),
        (lambda m: m.record(1, False, 3), TypeError),
        (lambda m: m.record(1, wrong=True), TypeError),
        (lambda m: m.record(1, duration_ns=2), TypeError),
    ],
)
def test_bad_records_raise_and_change_nothing(cls: Any, call: Any, exc: type[Exception]) -> None:
    m = cls([10])
    m.record(10, True)
    before = m.snapshot()
    with pytest.raises(exc):
        call(m)
    assert m.snapshot() == before


@BOTH
def test_total_up_to_int64_max_is_exact(cls: Any) -> None:
    m = cls([1])
    m.record(INT64_MAX - 1)
    m.record(1)
    assert m.total_duration_ns() == INT64_MAX
    assert m.max_duration_ns() == INT64_MAX - 1
    with pytest.raises(OverflowError):
        m.record(1)
    m.record(0)
    snap = m.snapshot()
    assert snap.execution_count == 3
    assert snap.min_duration_ns == 0
    assert snap.min_duration_ns <= snap.average_duration_ns <= snap.max_duration_ns
    m.reset()
    m.record(INT64_MAX)  # the reset released the whole total
    assert m.snapshot().min_duration_ns == INT64_MAX


@BOTH
@pytest.mark.parametrize("buckets", [[], [float("nan")], [2, 1], [-float("inf"), 1], [1, 1]])
def test_bad_buckets_raise_value_error(cls: Any, buckets: list[float]) -> None:
    with pytest.raises(ValueError, match="bound"):
        cls(buckets)


@BOTH
def test_buckets_keyword_and_trailing_inf(cls: Any) -> None:
    m = cls(buckets=[100, 1000, float("inf")])
    assert m.bounds() == (100.0, 1000.0)
    m.record(100)
    m.record(101)
    m.record(10**6)
    assert m.bucket_counts() == [1, 1, 1]


def test_default_buckets() -> None:
    assert tuple(float(10**k) for k in range(3, 11)) == DEFAULT_DURATION_BUCKETS_NS
    assert RuleExecutionMetric().bounds() is RuleExecutionMetric().bounds()  # shared
    assert RuleExecutionSnapshot.__match_args__ == GETTERS


def test_memory_per_metric() -> None:
    # Target: <= 256 bytes with the default buckets. Measured: 288 bytes on a
    # GIL build = 16 (GC header: RuleExecutionMetric is a Python subclass of
    # the C cell, and every Python class is a GC type) + 48 (object) + 28
    # words (ctl, reservation, 2 halves x (total, errors, min, max, 9
    # buckets)). See docs/concurrency.md.
    m = RuleExecutionMetric()
    size = RuleExecutionMetric.__basicsize__ + RuleExecutionMetric._cell_bytes(8)
    gc_head = 0 if FREE_THREADED_BUILD else 16  # 3.13t keeps GC state in the object header
    assert sys.getsizeof(m) == size + gc_head
    if not FREE_THREADED_BUILD:  # 3.13t object headers are 16 bytes larger
        assert size + gc_head == 288
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        metrics = [RuleExecutionMetric() for _ in range(10_000)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    per = sum(s.size_diff for s in after.compare_to(before, "filename")) / len(metrics)
    assert per <= size + gc_head + 16  # + the list slot and allocator slack


# ---- time() ----------------------------------------------------------------


@BOTH
def test_time_as_context_manager(cls: Any) -> None:
    m = cls()
    with m.time():
        time.sleep(0.002)
    snap = m.snapshot()
    assert snap.execution_count == 1
    assert snap.error_count == 0
    assert snap.min_duration_ns is not None
    assert snap.min_duration_ns >= 2_000_000
    with pytest.raises(KeyError), m.time():
        raise KeyError("boom")
    assert m.execution_count() == 2
    assert m.error_count() == 1


@BOTH
def test_time_as_decorator(cls: Any) -> None:
    m = cls()

    @m.time()
    def rule(x: int) -> int:
        """The rule."""
        if x < 0:
            raise ValueError(x)
        return x * 2

    assert rule(21) == 42
    assert rule.__name__ == "rule"
    assert rule.__doc__ == "The rule."
    with pytest.raises(ValueError, match="-1"):
        rule(-1)
    assert rule(1) == 2
    assert (m.execution_count(), m.error_count()) == (3, 1)


# ---- arena storage ----------------------------------------------------------


def test_arena_storage_is_shared_and_zero_is_empty() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    buckets = (10.0, 100.0)
    size = RuleExecutionMetric._cell_bytes(2)
    assert size == 8 * (2 + 2 * (4 + 3))
    a = RuleExecutionMetric._from_buffer(view, 64, buckets)
    b = RuleExecutionMetric._from_buffer(view, 64, buckets)
    assert a.snapshot() == RuleExecutionSnapshot(0, 0, 0, 0.0, None, None, 0.0, [0, 0, 0])
    a.record(5)
    b.record(50, True)
    assert b.snapshot() == a.snapshot()  # each snapshot moves data between halves
    a.record(500)
    assert (
        a.snapshot()
        == b.snapshot()
        == RuleExecutionSnapshot(3, 1, 555, 185.0, 5, 500, 1 / 3, [1, 1, 1])
    )
    b.reset()
    assert a.execution_count() == 0
    assert m[:64] == bytes(64)
    assert m[64 + size :] == bytes(len(m) - 64 - size)
    with pytest.raises(ValueError, match="offset"):
        RuleExecutionMetric._from_buffer(view, mmap.PAGESIZE - 8, buckets)
    with pytest.raises(ValueError, match="at least 1"):
        RuleExecutionMetric._cell_bytes(0)
    del a, b, view
    m.close()


def test_no_reference_leaks() -> None:
    m = RuleExecutionMetric()
    big = 2**40
    flag = object()
    before = sys.getrefcount(big), sys.getrefcount(flag)
    for _ in range(1000):
        m.record(big, flag)
        m.record(duration_ns=big, error=flag)
    assert (sys.getrefcount(big), sys.getrefcount(flag)) == before
    bounds = m.bounds()
    before_b = sys.getrefcount(bounds)
    for _ in range(500):
        m.snapshot()
        _getters(m)
        with m.time():
            pass
        m.reset()
    assert sys.getrefcount(bounds) == before_b
    bad = -(2**40)
    before_bad = sys.getrefcount(bad)
    for _ in range(100):
        with pytest.raises(ValueError, match="duration_ns"):
            m.record(bad)
    assert sys.getrefcount(bad) == before_bad
    assert_placed_cells_pin_the_export_not_the_view(
        lambda view: RuleExecutionMetric._from_buffer(view, 0, [1.0]), 1024
    )


# ---- equivalence with the mutex twin ----------------------------------------


def _normal(v: object) -> object:
    if isinstance(v, float):
        return ("float", struct.pack("<d", v))
    if isinstance(v, list):
        return [_normal(x) for x in v]
    if isinstance(v, RuleExecutionSnapshot):
        return ("snap", *(_normal(getattr(v, g)) for g in GETTERS))
    return v


_apply = functools.partial(apply_op, errors=(OverflowError, TypeError, ValueError), normal=_normal)


durations = st.one_of(
    st.integers(0, 10**11),
    st.sampled_from([0, 1000, 10**10, INT64_MAX, INT64_MAX // 2, 2**53 + 1]),
    st.integers(-(2**64), 2**64),
    st.sampled_from([1.5, "1", None]),
)
ops = st.one_of(
    st.tuples(st.just("record"), durations),
    st.tuples(st.just("record"), durations, st.booleans()),
    st.tuples(st.sampled_from([*GETTERS, "snapshot", "reset"])),
)


@given(
    buckets=st.one_of(
        st.just(DEFAULT_DURATION_BUCKETS_NS),
        st.lists(st.integers(-100, 10**12), min_size=1, max_size=20, unique=True).map(sorted),
    ),
    program=st.lists(ops, max_size=40),
)
def test_equivalent_to_mutex_rule_metric(
    buckets: list[float], program: list[tuple[Any, ...]]
) -> None:
    atomic, mutex = RuleExecutionMetric(buckets), MutexRuleExecutionMetric(buckets)
    for op in program:
        assert _apply(atomic, op) == _apply(mutex, op), op
    assert _normal(atomic.snapshot()) == _normal(mutex.snapshot())


# ---- races --------------------------------------------------------------------


def _check(snap: RuleExecutionSnapshot) -> bool:
    n = snap.execution_count
    if n != sum(snap.bucket_counts) or not 0 <= snap.error_count <= n:
        return False
    if n == 0:
        return snap.min_duration_ns is None and snap.average_duration_ns == 0.0
    assert snap.min_duration_ns is not None
    assert snap.max_duration_ns is not None
    return (
        snap.min_duration_ns <= snap.average_duration_ns <= snap.max_duration_ns
        and snap.error_rate == snap.error_count / n
    )


# Thread i records DURATIONS[i % 4] (one per default bucket 1..4), an error
# on odd threads: any consistent state has total == sum(bucket x duration).
DURATIONS = (5_000, 50_000, 500_000, 5_000_000)


def _exact(snap: RuleExecutionSnapshot) -> bool:
    weighted = sum(c * d for c, d in zip(snap.bucket_counts[1:5], DURATIONS, strict=True))
    return _check(snap) and snap.total_duration_ns == weighted


def test_concurrent_records_are_exact(switch_fast: object) -> None:
    m = RuleExecutionMetric()
    n = 10_000

    def work(i: int) -> None:
        record, d, err = m.record, DURATIONS[i % 4], bool(i % 2)
        for _ in range(n):
            record(d, err)

    run_threads(THREADS, work)
    per = THREADS // 4 * n
    snap = m.snapshot()
    assert snap.bucket_counts == [0, per, per, per, per, 0, 0, 0, 0]
    assert snap.error_count == THREADS * n // 2
    assert snap.total_duration_ns == per * sum(DURATIONS)
    assert (snap.min_duration_ns, snap.max_duration_ns) == (DURATIONS[0], DURATIONS[-1])


def test_snapshot_is_consistent_while_writers_run(switch_fast: object) -> None:
    m = RuleExecutionMetric()
    n = 5_000
    done = threading.Event()
    writers_done = [0]
    lock = threading.Lock()

    def work(i: int) -> list[object]:
        if i == 0:
            bad: list[object] = []
            last = 0
            while not done.is_set():
                snap = m.snapshot()
                if not _exact(snap) or snap.execution_count < last:
                    bad.append(snap)
                last = snap.execution_count
            return bad
        record, d, err = m.record, DURATIONS[i % 4], bool(i % 2)
        for _ in range(n):
            record(d, err)
        with lock:
            writers_done[0] += 1
            if writers_done[0] == THREADS - 1:
                done.set()
        return []

    results = run_threads(THREADS, work)
    assert results[0] == []
    assert m.execution_count() == (THREADS - 1) * n
    assert _exact(m.snapshot())


def test_reset_concurrent_with_writers_keeps_invariants(switch_fast: object) -> None:
    m = RuleExecutionMetric()
    n = 5_000
    done = threading.Event()

    def work(i: int) -> list[object]:
        if i < 2:
            bad: list[object] = []
            while not done.is_set():
                snap = m.snapshot()
                if not _exact(snap):
                    bad.append(snap)
                if i == 0:
                    m.reset()
            return bad
        record, d, err = m.record, DURATIONS[i % 4], bool(i % 2)
        for _ in range(n):
            record(d, err)
        if i == THREADS - 1:
            done.set()
        return []

    results = run_threads(THREADS, work)
    assert all(r == [] for r in results)
    snap = m.snapshot()
    assert _exact(snap)
    assert snap.execution_count <= (THREADS - 2) * n
