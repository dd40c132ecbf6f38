"""AtomicMinMax: its contract, its mutex twin, and its races."""

from __future__ import annotations

import mmap
import struct
import sys
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import AtomicMinMax
from atomicmetrics.reference import MutexMinMax
from tests.helpers import (
    INT64_MAX,
    INT64_MIN,
    THREADS,
    apply_op,
    assert_placed_cells_pin_the_export_not_the_view,
    run_threads,
)

BOTH = pytest.mark.parametrize("cls", [AtomicMinMax, MutexMinMax])


@BOTH
def test_basic_operations(cls: Any) -> None:
    m = cls()
    assert (m.min(), m.max(), m.snapshot()) == (None, None, None)
    assert repr(m) == f"{type(m).__name__}(empty)"
    m.observe(5)
    assert m.snapshot() == (5, 5)
    m.observe(-3)
    m.observe(2)
    m.observe(True)
    assert (m.min(), m.max(), m.snapshot()) == (-3, 5, (-3, 5))
    assert repr(m) == f"{type(m).__name__}(min=-3, max=5)"
    assert m.reset() is None
    assert m.snapshot() is None
    m.observe(7)
    assert m.snapshot() == (7, 7)


@BOTH
@pytest.mark.parametrize(
    "values",
    [[INT64_MAX], [INT64_MIN], [INT64_MIN, INT64_MAX], [0], [-1], [INT64_MAX, 0], [INT64_MIN, 0]],
)
def test_int64_limits_are_ordinary_values(cls: Any, values: list[int]) -> None:
    # INT64_MAX / INT64_MIN are the identities the cell's words start from;
    # observing them must still be told apart from "empty".
    m = cls()
    for v in values:
        m.observe(v)
    assert m.snapshot() == (min(values), max(values))
    m.reset()
    assert m.snapshot() is None


@BOTH
@pytest.mark.parametrize(
    ("bad", "exc"),
    [
        (1.0, TypeError),
        ("1", TypeError),
        (None, TypeError),
        (2**63, OverflowError),
        (INT64_MIN - 1, OverflowError),
    ],
)
def test_bad_values_raise_and_change_nothing(cls: Any, bad: object, exc: type[Exception]) -> None:
    m = cls()
    with pytest.raises(exc):
        m.observe(bad)
    assert m.snapshot() is None
    m.observe(1)
    with pytest.raises(exc):
        m.observe(bad)
    assert m.snapshot() == (1, 1)


@BOTH
def test_constructor_takes_no_arguments(cls: Any) -> None:
    with pytest.raises(TypeError):
        cls(1)


def test_arena_storage_is_shared_and_zero_is_empty() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    a = AtomicMinMax._from_buffer(view, 32)
    b = AtomicMinMax._from_buffer(view, 32)
    assert a.snapshot() is None  # zero-filled words are the empty state
    a.observe(10)
    b.observe(-10)
    assert a.snapshot() == b.snapshot() == (-10, 10)
    b.reset()
    assert a.snapshot() is None
    assert AtomicMinMax._cell_bytes() == 32
    assert m[:32] == bytes(32)  # untouched around the cell
    with pytest.raises(ValueError, match="aligned"):
        AtomicMinMax._from_buffer(view, mmap.PAGESIZE - 24)  # the cell would not fit
    del a, b, view
    m.close()


def test_no_reference_leaks() -> None:
    m = AtomicMinMax()
    big = 2**40
    before = sys.getrefcount(big)
    for _ in range(1000):
        m.observe(big)
    assert sys.getrefcount(big) == before
    assert_placed_cells_pin_the_export_not_the_view(lambda view: AtomicMinMax._from_buffer(view, 0))


ops = st.one_of(
    st.tuples(st.just("observe"), st.integers(-(2**64), 2**64)),
    st.tuples(st.just("observe"), st.sampled_from([INT64_MIN, INT64_MAX, 0, -1])),
    st.tuples(st.just("reset")),
    st.tuples(st.just("min")),
    st.tuples(st.just("max")),
    st.tuples(st.just("snapshot")),
)


@given(program=st.lists(ops, max_size=40))
def test_equivalent_to_mutex_minmax(program: list[tuple[Any, ...]]) -> None:
    atomic, mutex = AtomicMinMax(), MutexMinMax()
    for op in program:
        assert apply_op(atomic, op) == apply_op(mutex, op), op
        assert atomic.snapshot() == mutex.snapshot()


def test_concurrent_observes_are_exact(switch_fast: object) -> None:
    m = AtomicMinMax()
    n = 10_000

    def work(i: int) -> None:
        observe = m.observe
        for k in range(n):  # thread i owns the values i, i + THREADS, ...
            observe(i + THREADS * k)
            observe(-(i + THREADS * k))

    run_threads(THREADS, work)
    assert m.snapshot() == (-(THREADS * n - 1), THREADS * n - 1)


def test_snapshot_stays_consistent_while_writers_and_resets_run(switch_fast: object) -> None:
    m = AtomicMinMax()
    n = 5_000
    done = threading.Event()
    bad: list[object] = []

    def work(i: int) -> int:
        if i == 0:  # the reader
            reads = 0
            while not done.is_set() or reads < 100:
                snap = m.snapshot()
                reads += 1
                if snap is not None and not (-n <= snap[0] <= snap[1] <= n):
                    bad.append(snap)
            return reads
        try:
            for k in range(n):
                m.observe(k if i % 2 else -k)
                if i == 1 and k % 500 == 0:
                    m.reset()
        finally:
            if i == THREADS - 1:
                done.set()
        return 0

    run_threads(THREADS, work)
    assert bad == []
    snap = m.snapshot()
    assert snap is not None
    assert snap[0] <= snap[1]


def test_readers_never_see_two_sides_of_a_reset(switch_fast: object) -> None:
    # One writer runs epochs e = 1, 2, ...: reset(), observe(e), observe(-e).
    # The only states are None, (e, e) and (-e, e): a pair whose halves come
    # from different epochs (say (-e, e + 1)) would break |min| == max.
    m = AtomicMinMax()
    epochs = 20_000
    done = threading.Event()

    def work(i: int) -> list[object]:
        if i == 0:
            for e in range(1, epochs + 1):
                m.reset()
                m.observe(e)
                m.observe(-e)
            done.set()
            return []
        bad: list[object] = []
        while not done.is_set():
            snap = m.snapshot()
            if snap is not None and (snap[1] <= 0 or abs(snap[0]) != snap[1]):
                bad.append(snap)
        return bad

    results = run_threads(THREADS, work)
    assert [b for r in results for b in r] == []  # type: ignore[attr-defined]
    assert m.snapshot() == (-epochs, epochs)


def test_arena_words_stay_mapped_after_the_view_is_released() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    cell = AtomicMinMax._from_buffer(view, 8)
    view.release()
    with pytest.raises(BufferError):
        m.close()
    del cell
    m.close()


# ---- a resetter that died mid-reset (shared arena) -------------------------
# Cell words (csrc/minmax.c): STARTED, DONE, LO, HI; LO/HI are encoded.
STARTED, DONE, LO, HI = range(4)


def _lo(v: int) -> int:
    return ((v & (2**64 - 1)) ^ (2**63 - 1)) & (2**64 - 1)


def _hi(v: int) -> int:
    return (v & (2**64 - 1)) ^ 2**63


def _returns_within(seconds: float, call: Any, *args: object) -> object:
    """call(*args) on a thread; fail unless it returns within `seconds`."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call(*args)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{call.__name__}() still waiting after {seconds} s"
    assert len(result) == 1  # it returned, not raised
    return result[0]


class _Cell:
    """White-box view of an arena min/max cell's four words."""

    def __init__(self) -> None:
        self.mem = mmap.mmap(-1, mmap.PAGESIZE)
        self.m = AtomicMinMax._from_buffer(memoryview(self.mem), 0)

    def word(self, i: int) -> int:
        return int(struct.unpack_from("<Q", self.mem, 8 * i)[0])

    def set_word(self, i: int, v: int) -> None:
        struct.pack_into("<Q", self.mem, 8 * i, v)


def test_word_encoding_matches_the_cell() -> None:
    cell = _Cell()
    cell.m.observe(-7)
    cell.m.observe(9)
    assert [cell.word(i) for i in range(4)] == [0, 0, _lo(-7), _hi(9)]


@pytest.mark.parametrize("cleared", [(), (LO,), (LO, HI)])
def test_resetter_dead_mid_reset_is_taken_over(cleared: tuple[int, ...]) -> None:
    # The resetter began (STARTED += 1), cleared `cleared`, and died before
    # DONE += 1: every later call must still return, and the cell heal.
    cell = _Cell()
    cell.m.observe(-100)
    cell.m.observe(100)
    cell.set_word(STARTED, 1)
    for i in cleared:
        cell.set_word(i, 0)
    for read in (cell.m.snapshot, cell.m.min, cell.m.max):
        assert _returns_within(0.5, read) is None  # reads never wait: empty
    assert _returns_within(0.5, cell.m.reset) is None  # merges with the dead one
    start = time.monotonic()
    _returns_within(10, cell.m.observe, 5)
    assert 0.2 <= time.monotonic() - start < 10  # waited its bound, then helped
    assert [cell.word(i) for i in range(4)] == [1, 1, _lo(5), _hi(5)]
    assert _returns_within(0.5, cell.m.snapshot) == (5, 5)  # old values gone
    assert (cell.m.min(), cell.m.max()) == (5, 5)
    start = time.monotonic()
    cell.m.observe(-5)  # healed: no wait any more
    cell.m.reset()
    assert time.monotonic() - start < 0.1
    assert cell.m.snapshot() is None
    assert cell.word(STARTED) == cell.word(DONE) == 2
    cell.m.observe(3)
    assert cell.m.snapshot() == (3, 3)


def test_observers_wait_for_a_dead_resetter_together(switch_fast: object) -> None:
    # Every observer of a cell whose resetter died returns, and none of their
    # observations is lost by another observer's takeover.
    cell = _Cell()
    cell.m.observe(-(10**6))
    cell.set_word(STARTED, 1)

    def work(i: int) -> None:
        for k in range(100):
            cell.m.observe(i * 1000 + k)

    _returns_within(20, run_threads, THREADS, work)
    assert cell.m.snapshot() == (0, (THREADS - 1) * 1000 + 99)
