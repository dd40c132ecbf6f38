"""AtomicHistogram: its contract, its mutex twin, its races and
the recovery rules of the hot/cold protocol (csrc/hotcold.h)."""

from __future__ import annotations

import functools
import math
import mmap
import os
import struct
import sys
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import AtomicHistogram, HistogramSnapshot
from atomicmetrics.reference import MutexHistogram
from tests.helpers import (
    THREADS,
    apply_op,
    assert_placed_cells_pin_the_export_not_the_view,
    observe_on_threads,
    resets_keep_snapshots_consistent,
    snapshots_stay_consistent,
)

BOTH = pytest.mark.parametrize("cls", [AtomicHistogram, MutexHistogram])
INF = math.inf
NAN = math.nan


@BOTH
def test_basic_operations(cls: Any) -> None:
    h = cls([1, 2.5, 10])
    assert h.bounds() == (1.0, 2.5, 10.0)
    assert all(type(b) is float for b in h.bounds())
    assert h.count() == 0
    assert h.sum() == 0.0
    assert h.bucket_counts() == [0, 0, 0, 0]
    for x in (0.5, 1, 2, 2.5, 7, 11, True):
        h.observe(x)
    assert h.bucket_counts() == [3, 2, 1, 1]
    assert h.count() == 7
    assert h.sum() == 0.5 + 1 + 2 + 2.5 + 7 + 11 + 1
    snap = h.snapshot()
    assert snap == HistogramSnapshot((1.0, 2.5, 10.0), [3, 2, 1, 1], 7, 25.0)
    with pytest.raises(AttributeError):
        snap.count = 3  # frozen
    h.reset()
    assert h.snapshot() == HistogramSnapshot((1.0, 2.5, 10.0), [0, 0, 0, 0], 0, 0.0)
    h.observe(3)
    assert h.snapshot() == HistogramSnapshot((1.0, 2.5, 10.0), [0, 0, 1, 0], 1, 3.0)


@BOTH
@pytest.mark.parametrize(
    ("x", "bucket"),
    [
        (-INF, 0),
        (-1e300, 0),
        (-1.0, 0),  # exactly on the first bound: le
        (-0.5, 1),
        (-0.0, 1),  # -0.0 == 0.0: on the bound 0.0
        (0.0, 1),
        (5e-324, 2),
        (1.0, 2),
        (1.0000000000000002, 3),
        (INF, 3),
    ],
)
def test_le_semantics(cls: Any, x: float, bucket: int) -> None:
    h = cls([-1.0, 0.0, 1.0])
    h.observe(x)
    expected = [0, 0, 0, 0]
    expected[bucket] = 1
    assert h.bucket_counts() == expected
    assert h.sum() == x


@BOTH
@pytest.mark.parametrize("n", [1, 31, 32, 33, 64, 200])
def test_every_bound_is_inclusive_for_linear_and_binary_search(cls: Any, n: int) -> None:
    bounds = [float(i) for i in range(n)]
    h = cls(bounds)
    for b in bounds:
        h.observe(b)  # on each bound
        h.observe(b + 0.5)  # just above it
    h.observe(-1)
    assert h.bucket_counts() == [2] + [2] * (n - 1) + [1]


@BOTH
@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ([1], (1.0,)),
        ((1, 2), (1.0, 2.0)),
        ([0.5, INF], (0.5,)),  # a trailing +Inf is dropped
        ([-1e308, 0], (-1e308, 0.0)),
        ([True, 2], (1.0, 2.0)),
        (range(1, 4), (1.0, 2.0, 3.0)),
    ],
)
def test_bounds_accepted(cls: Any, bounds: Any, expected: tuple[float, ...]) -> None:
    h = cls(bounds)
    assert h.bounds() == expected
    assert len(h.bucket_counts()) == len(expected) + 1


@BOTH
@pytest.mark.parametrize(
    "bounds",
    [
        [],
        [INF],  # no finite bound left
        [NAN],
        [1, NAN, 3],
        [-INF, 1],
        [1, INF, 3],
        [1, INF, INF],
        [1, 1],
        [2, 1],
        [0.0, -0.0],
        [10**400],
    ],
)
def test_bad_bounds_raise_value_error(cls: Any, bounds: list[float]) -> None:
    with pytest.raises(ValueError, match="bound"):
        cls(bounds)


@BOTH
@pytest.mark.parametrize("bounds", [None, 3, "123", [1, "2"], [1, None], [1j]])
def test_non_numeric_bounds_raise_type_error(cls: Any, bounds: Any) -> None:
    with pytest.raises(TypeError):
        cls(bounds)


def test_exact_float_tuple_is_shared() -> None:
    bounds = (0.1, 0.2, 0.5)
    a, b = AtomicHistogram(bounds), AtomicHistogram(bounds)
    assert a.bounds() is bounds
    assert b.bounds() is bounds
    assert a.snapshot().bounds is bounds
    assert AtomicHistogram([0.1, 0.2]).bounds() == (0.1, 0.2)
    assert AtomicHistogram((0.1, INF)).bounds() == (0.1,)


@BOTH
@pytest.mark.parametrize(
    ("bad", "exc"),
    [
        (NAN, ValueError),
        ("1", TypeError),
        (None, TypeError),
        (1j, TypeError),
        (10**400, OverflowError),
    ],
)
def test_bad_observations_raise_and_change_nothing(
    cls: Any, bad: object, exc: type[Exception]
) -> None:
    h = cls([1.0])
    h.observe(0.5)
    with pytest.raises(exc):
        h.observe(bad)
    assert h.snapshot() == HistogramSnapshot((1.0,), [1, 0], 1, 0.5)


@BOTH
def test_infinities_are_observed_and_summed(cls: Any) -> None:
    h = cls([1.0])
    h.observe(INF)
    assert h.sum() == INF
    h.observe(-INF)
    assert math.isnan(h.sum())
    assert h.bucket_counts() == [1, 1]
    assert h.count() == 2


def test_snapshot_field_names() -> None:
    snap = AtomicHistogram([1]).snapshot()
    assert isinstance(snap, HistogramSnapshot)
    assert HistogramSnapshot.__match_args__ == ("bounds", "buckets", "count", "sum")


# ---- arena storage ----------------------------------------------------------


def _cell_words(n_bounds: int) -> int:
    return AtomicHistogram._cell_bytes(n_bounds) // 8


def test_cell_bytes() -> None:
    # ctl + two halves of (sum + n + 1 buckets)
    assert AtomicHistogram._cell_bytes(1) == 8 * (1 + 2 * 3)
    assert AtomicHistogram._cell_bytes(12) == 8 * (1 + 2 * 14)
    for bad, exc in ((0, ValueError), (-1, ValueError), (1.0, TypeError)):
        with pytest.raises(exc):
            AtomicHistogram._cell_bytes(bad)


def test_arena_storage_is_shared_and_zero_is_empty() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    bounds = (1.0, 2.0)
    a = AtomicHistogram._from_buffer(view, 64, bounds)
    b = AtomicHistogram._from_buffer(view, 64, bounds)
    assert a.snapshot() == HistogramSnapshot(bounds, [0, 0, 0], 0, 0.0)
    a.observe(1.5)
    b.observe(0.5)
    a.snapshot()  # moves data between the halves: b must still see all of it
    b.observe(3)
    assert a.snapshot() == b.snapshot() == HistogramSnapshot(bounds, [1, 1, 1], 3, 5.0)
    b.reset()
    assert a.count() == 0
    size = AtomicHistogram._cell_bytes(2)
    assert m[:64] == bytes(64)  # untouched around the cell
    assert m[64 + size :] == bytes(len(m) - 64 - size)
    with pytest.raises(ValueError, match="offset"):
        AtomicHistogram._from_buffer(view, mmap.PAGESIZE - 8, bounds)  # does not fit
    with pytest.raises(ValueError, match="finite bound"):
        AtomicHistogram._from_buffer(view, 0, [])
    with pytest.raises(TypeError):
        AtomicHistogram._from_buffer(view, 0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        AtomicHistogram._from_buffer(memoryview(bytes(64)), 0, bounds)
    del a, b, view
    m.close()


def test_arena_is_shared_with_a_forked_child() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    h = AtomicHistogram._from_buffer(memoryview(m), 0, [1.0])
    h.observe(0.5)
    pid = os.fork()
    if pid == 0:  # the child: record, then leave without cleanup
        for _ in range(1000):
            h.observe(2.0)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert h.snapshot() == HistogramSnapshot((1.0,), [1, 1000], 1001, 2000.5)


class _Cell:
    """White-box view of an arena histogram's words (layout in histogram.c)."""

    def __init__(self, n_bounds: int) -> None:
        self.nb = n_bounds + 1
        self.mem = mmap.mmap(-1, mmap.PAGESIZE)
        self.h = AtomicHistogram._from_buffer(
            memoryview(self.mem), 0, [float(i) for i in range(n_bounds)]
        )

    def word(self, i: int, fmt: str = "<q") -> Any:
        return struct.unpack_from(fmt, self.mem, 8 * i)[0]

    def set_word(self, i: int, v: Any, fmt: str = "<q") -> None:
        struct.pack_into(fmt, self.mem, 8 * i, v)

    def hot(self) -> int:
        return int(self.word(0, "<Q") >> 63)

    def bucket_index(self, half: int, bucket: int) -> int:
        return 1 + half * (1 + self.nb) + 1 + bucket

    def sum_index(self, half: int) -> int:
        return 1 + half * (1 + self.nb)


def test_dead_writer_is_given_up_on_and_the_books_balance() -> None:
    cell = _Cell(2)
    cell.h.observe(0.5)
    # A writer that died after W1: started counts it, no bucket ever will.
    cell.set_word(0, cell.word(0, "<Q") + 1, "<Q")
    start = time.monotonic()
    snap = cell.h.snapshot()
    waited = time.monotonic() - start
    assert 0.2 <= waited < 5
    assert snap.count == sum(snap.buckets) == 1
    # The phantom was forgotten: the next snapshot does not wait again.
    start = time.monotonic()
    assert cell.h.snapshot() == snap
    assert time.monotonic() - start < 0.1
    # The "dead" writer was only stalled and finishes now (W2 + W3).
    hot = cell.hot()
    cell.set_word(cell.bucket_index(hot, 2), cell.word(cell.bucket_index(hot, 2)) + 1)
    s = struct.unpack("<d", struct.pack("<q", cell.word(cell.sum_index(hot))))[0]
    cell.set_word(cell.sum_index(hot), struct.unpack("<q", struct.pack("<d", s + 7.0))[0])
    snap = cell.h.snapshot()
    assert snap.buckets == [0, 1, 1]
    assert snap.sum == 7.5
    start = time.monotonic()
    cell.h.observe(0.0)
    assert cell.h.snapshot().buckets == [1, 1, 1]  # books balanced: no wait
    assert time.monotonic() - start < 0.1


def test_writer_dead_between_sum_and_bucket_keeps_count_equal_to_buckets() -> None:
    cell = _Cell(1)
    cell.h.observe(0.25)
    hot = cell.hot()
    cell.set_word(0, cell.word(0, "<Q") + 1, "<Q")  # W1
    s = struct.unpack("<d", struct.pack("<q", cell.word(cell.sum_index(hot))))[0]
    cell.set_word(cell.sum_index(hot), struct.unpack("<q", struct.pack("<d", s + 4.0))[0])  # W2
    snap = cell.h.snapshot()  # waits the bound, then takes what is there
    assert snap.count == sum(snap.buckets) == 1
    assert snap.sum in (0.25, 4.25)  # the dead writer's x may be in the sum


def test_stale_reader_lock_is_taken_over() -> None:
    cell = _Cell(1)
    cell.h.observe(0.5)
    cell.set_word(0, cell.word(0, "<Q") | (1 << 62), "<Q")  # a reader died holding it
    start = time.monotonic()
    snap = cell.h.snapshot()
    assert 0.9 <= time.monotonic() - start < 5
    assert snap == HistogramSnapshot((0.0,), [0, 1], 1, 0.5)
    assert cell.word(0, "<Q") & (1 << 62) == 0  # released by the new holder
    start = time.monotonic()
    cell.h.reset()
    assert time.monotonic() - start < 0.1
    assert cell.h.count() == 0


def test_no_reference_leaks() -> None:
    h = AtomicHistogram([1.0, 2.0])
    x = 1.5e10
    big = 2**70
    before = sys.getrefcount(x), sys.getrefcount(big)
    for _ in range(1000):
        h.observe(x)
        h.observe(big)
    assert (sys.getrefcount(x), sys.getrefcount(big)) == before
    bounds = h.bounds()
    before_b = sys.getrefcount(bounds)
    for _ in range(1000):
        h.snapshot()
        h.bucket_counts()
        h.count()
        h.sum()
        h.reset()
        h.bounds()
    assert sys.getrefcount(bounds) == before_b
    for bad in (NAN, "x"):
        before_bad = sys.getrefcount(bad)
        for _ in range(100):
            with pytest.raises((ValueError, TypeError)):
                h.observe(bad)
        assert sys.getrefcount(bad) == before_bad
    assert_placed_cells_pin_the_export_not_the_view(
        lambda view: AtomicHistogram._from_buffer(view, 0, [1.0]), 1024
    )


def test_size_counts_the_inline_cell() -> None:
    h = AtomicHistogram([float(i) for i in range(12)])
    arena = AtomicHistogram._from_buffer(
        memoryview(bytearray(1024)), 0, [float(i) for i in range(12)]
    )
    assert sys.getsizeof(h) - sys.getsizeof(arena) == AtomicHistogram._cell_bytes(12)


# ---- equivalence with the mutex twin ----------------------------------------


def _normal(v: object) -> object:
    """Make results comparable: floats by bit pattern (NaN == NaN, -0.0 != 0.0)."""
    if isinstance(v, float):
        return ("float", struct.pack("<d", v))
    if isinstance(v, (list, tuple)):
        return type(v).__name__, [_normal(x) for x in v]
    if isinstance(v, HistogramSnapshot):
        return ("snap", _normal(v.bounds), _normal(v.buckets), v.count, _normal(v.sum))
    return v


_apply = functools.partial(apply_op, errors=(OverflowError, TypeError, ValueError), normal=_normal)


bounds_st = st.lists(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    min_size=1,
    max_size=48,
    unique=True,
).map(sorted)


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[float], list[tuple[Any, ...]]]:
    bounds = draw(bounds_st)
    value = st.one_of(
        st.floats(),
        st.sampled_from(bounds),
        st.integers(-(2**64), 2**64),
        st.just(-0.0),
        st.sampled_from(["1", None]),
    )
    op = st.one_of(
        st.tuples(st.just("observe"), value),
        st.tuples(st.just("observe"), value),
        st.tuples(st.just("observe"), value),
        st.tuples(st.sampled_from(["count", "sum", "bucket_counts", "snapshot", "reset"])),
    )
    return bounds, draw(st.lists(op, max_size=50))


@given(programs())
def test_equivalent_to_mutex_histogram(program: tuple[list[float], list[tuple[Any, ...]]]) -> None:
    bounds, ops = program
    atomic, mutex = AtomicHistogram(bounds), MutexHistogram(bounds)
    assert atomic.bounds() == mutex.bounds()
    for op in ops:
        assert _apply(atomic, op) == _apply(mutex, op), op
    assert _normal(atomic.snapshot()) == _normal(mutex.snapshot())


@given(
    st.lists(
        st.one_of(st.floats(), st.integers(-3, 3), st.sampled_from([10**400, "1"])), max_size=6
    )
)
def test_bounds_validation_matches_mutex_twin(bounds: list[Any]) -> None:
    def outcome(cls: Any) -> object:
        try:
            return ("ok", cls(bounds).bounds())
        except (TypeError, ValueError) as e:
            return ("raised", type(e))

    assert outcome(AtomicHistogram) == outcome(MutexHistogram)


# ---- races --------------------------------------------------------------------

# Thread i observes VALUES[i % 4], one per bucket of BOUNDS: sums of these are
# exact, so sum must equal the bucket-weighted total of any consistent state.
BOUNDS = (1.0, 2.0, 4.0)
VALUES = (0.5, 1.5, 3.0, 8.0)


def _consistent(snap: HistogramSnapshot) -> bool:
    weighted = sum(c * v for c, v in zip(snap.buckets, VALUES, strict=True))
    return snap.count == sum(snap.buckets) and snap.sum == weighted


def test_concurrent_observes_are_exact(switch_fast: object) -> None:
    h = AtomicHistogram(BOUNDS)
    n = 20_000
    observe_on_threads(h, VALUES, n)
    per = THREADS // 4 * n
    assert h.snapshot() == HistogramSnapshot(BOUNDS, [per] * 4, 4 * per, per * sum(VALUES))


def test_snapshot_is_consistent_while_writers_run(switch_fast: object) -> None:
    snapshots_stay_consistent(AtomicHistogram(BOUNDS), VALUES, _consistent)


def test_reset_concurrent_with_writers_keeps_snapshots_consistent(switch_fast: object) -> None:
    resets_keep_snapshots_consistent(AtomicHistogram(BOUNDS), VALUES, _consistent)
