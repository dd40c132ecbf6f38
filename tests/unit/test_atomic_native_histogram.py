"""AtomicNativeHistogram: exact buckets at every bound of every schema (checked
with rational arithmetic), infinities, subnormals and the zero bucket, schema
lowering, its mutex twin, memory, the multi-process arena, and the recovery
rules of its hot/cold protocol (csrc/native_histogram.c)."""

from __future__ import annotations

import math
import mmap
import os
import struct
import sys
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomicmetrics import AtomicNativeHistogram, NativeHistogramSnapshot
from atomicmetrics.reference import (
    MutexNativeHistogram,
    lower_native_buckets,
    native_bucket_index,
)
from tests.helpers import INF, apply_op, assert_placed_cells_pin_the_export_not_the_view

BOTH = pytest.mark.parametrize("cls", [AtomicNativeHistogram, MutexNativeHistogram])

MAX = sys.float_info.max
TINY = 5e-324  # the smallest subnormal
UNLIMITED = 2**20  # max_buckets high enough that no test below lowers the schema


def snap_of(h: Any) -> NativeHistogramSnapshot:
    s: NativeHistogramSnapshot = h.snapshot()
    assert s.count == s.zero_count + sum(s.positive.values()) + sum(s.negative.values())
    assert list(s.positive) == sorted(s.positive)
    assert list(s.negative) == sorted(s.negative)
    return s


def normal(s: NativeHistogramSnapshot) -> tuple[Any, ...]:
    """A snapshot as a tuple where NaN sums compare equal."""
    total = "nan" if math.isnan(s.sum) else s.sum
    return (s.schema, s.zero_threshold, s.zero_count, s.count, total, s.positive, s.negative)


# ---- the constructor ------------------------------------------------------------


@BOTH
def test_defaults_and_empty_snapshot(cls: Any) -> None:
    h = cls()
    assert (h.schema, h.zero_threshold, h.max_buckets) == (3, 2.0**-128, 160)
    assert snap_of(h) == NativeHistogramSnapshot(3, 2.0**-128, 0, 0, 0.0, {}, {})


@BOTH
@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"schema": -5}, ValueError, "schema"),
        ({"schema": 9}, ValueError, "schema"),
        ({"schema": 2**70}, OverflowError, "schema"),
        ({"schema": 1.0}, TypeError, "schema"),
        ({"zero_threshold": -1e-9}, ValueError, "zero_threshold"),
        ({"zero_threshold": math.nan}, ValueError, "zero_threshold"),
        ({"zero_threshold": INF}, ValueError, "zero_threshold"),
        ({"zero_threshold": "0"}, TypeError, "zero_threshold"),
        ({"max_buckets": 0}, ValueError, "max_buckets"),
        ({"max_buckets": 2**20 + 1}, ValueError, "max_buckets"),
        ({"max_buckets": 1.5}, TypeError, "max_buckets"),
    ],
)
def test_constructor_errors_name_the_argument(
    cls: Any, kwargs: dict[str, Any], exc: type[Exception], name: str
) -> None:
    with pytest.raises(exc, match=name):
        cls(**kwargs)


@BOTH
def test_constructor_accepts_the_limits(cls: Any) -> None:
    for schema in (-4, 8):
        assert cls(schema=schema).schema == schema
    assert cls(zero_threshold=0).zero_threshold == 0.0
    assert cls(max_buckets=1).max_buckets == 1
    assert cls(max_buckets=True).max_buckets == 1  # bool is an int, as everywhere


# ---- exact buckets ------------------------------------------------------------------


def power_at_or_below(d: float, n: int, k: int) -> bool:
    """Whether d**n <= 2**k for a float d > 0, in exact rational arithmetic.

    d = num / 2**t exactly (as_integer_ratio), so d**n <= 2**k iff
    num**n <= 2**(k + t*n): integers only (Fraction would carry the
    2**(t*n) denominator around, 275,000 bits for a subnormal at n = 256).
    """
    num, den = d.as_integer_ratio()
    shift = k + (den.bit_length() - 1) * n
    return shift >= 0 and num**n <= 1 << shift


def bound_neighbours(e: int, j: int, n: int) -> tuple[float, float]:
    """(largest float <= b, smallest float > b) for b = 2**(e + j/n), exactly."""

    def at_or_below(d: float) -> bool:
        return power_at_or_below(d, n, e * n + j)

    d = 2.0 ** (e + j / n)  # within an ulp or two of b
    while not at_or_below(d):
        d = math.nextafter(d, 0.0)
    while at_or_below(math.nextafter(d, INF)):
        d = math.nextafter(d, INF)
    return d, math.nextafter(d, INF)


# Octaves checked at every bound: the subnormal range, its edge, the normal
# range's bottom, small, around 1, large, and the top (whose last bound is
# beyond the largest float).
OCTAVES = (-1074, -1060, -1023, -1022, -40, -1, 0, 1, 37, 1022)


@pytest.mark.parametrize("schema", range(1, 9))
def test_every_bound_of_every_positive_schema_is_exact(schema: int) -> None:
    n = 2**schema
    h = AtomicNativeHistogram(schema=schema, zero_threshold=0.0, max_buckets=UNLIMITED)
    expected: dict[int, int] = {}
    for e in OCTAVES:
        for j in range(n):
            if e == -1074 and j == 0:
                continue  # 2**-1074 itself has no float below it but 0
            below, above = bound_neighbours(e, j, n)
            i = e * n + j  # the bucket whose upper bound is 2**(e + j/n)
            for v, bucket in ((below, i), (above, i + 1)):
                if power_at_or_below(v, n, bucket - 1) or not power_at_or_below(v, n, bucket):
                    continue  # subnormals: more than one bound between two floats
                assert native_bucket_index(v, schema) == bucket, (v, schema)
                h.observe(v)
                h.observe(-v)
                expected[bucket] = expected.get(bucket, 0) + 1
    s = snap_of(h)
    assert s.schema == schema
    assert s.positive == dict(sorted(expected.items()))
    assert s.negative == s.positive


@pytest.mark.parametrize("schema", range(-4, 1))
def test_every_bound_of_every_other_schema_is_exact(schema: int) -> None:
    step = 2**-schema  # octaves per bucket
    h = AtomicNativeHistogram(schema=schema, zero_threshold=0.0, max_buckets=UNLIMITED)
    expected: dict[int, int] = {}
    first = -(1074 // step)  # the lowest bound that is a float
    for i in range(first, 1023 // step + 1):
        b = math.ldexp(1.0, i * step)
        for v, bucket in ((b, i), (math.nextafter(b, INF), i + 1), (math.nextafter(b, 0.0), i)):
            if v in (0.0, INF) or (v < b and power_at_or_below(v, 1, (i - 1) * step)):
                continue  # below b is already the previous bucket (tiny octaves)
            assert native_bucket_index(v, schema) == bucket
            h.observe(v)
            expected[bucket] = expected.get(bucket, 0) + 1
    assert snap_of(h).positive == dict(sorted(expected.items()))


@BOTH
@pytest.mark.parametrize("schema", [-4, -1, 0, 3, 8])
def test_infinities_land_above_every_finite_value(cls: Any, schema: int) -> None:
    h = cls(schema=schema, max_buckets=UNLIMITED)
    for v in (MAX, INF, -MAX, -INF):
        h.observe(v)
    top = native_bucket_index(MAX, schema)
    s = snap_of(h)
    assert s.positive == s.negative == {top: 1, top + 1: 1}
    assert math.isnan(s.sum)  # inf + -inf
    assert top == (1024 * 256 + 2 ** (8 - schema) - 1) // 2 ** (8 - schema)


@BOTH
def test_subnormals_without_a_zero_threshold(cls: Any) -> None:
    h = cls(schema=8, zero_threshold=0.0, max_buckets=UNLIMITED)
    values = [TINY, 2 * TINY, 3 * TINY, 2.2250738585072009e-308, 2.2250738585072014e-308]
    for v in values:
        h.observe(v)
    expected: dict[int, int] = {}
    for v in values:
        i = native_bucket_index(v, 8)
        expected[i] = expected.get(i, 0) + 1
    assert min(expected) == -1074 * 256  # 2**-1074 is a bound: the top of its bucket
    assert expected[-1022 * 256] == 2  # the largest subnormal and the smallest normal
    assert snap_of(h).positive == dict(sorted(expected.items()))


@BOTH
def test_zero_bucket_and_its_threshold(cls: Any) -> None:
    zt = 2.0**-10
    h = cls(zero_threshold=zt)
    for v in (0.0, -0.0, zt, -zt, TINY, -TINY):
        h.observe(v)
    h.observe(math.nextafter(zt, INF))
    h.observe(-math.nextafter(zt, INF))
    s = snap_of(h)
    assert s.zero_count == 6
    assert s.positive == s.negative == {native_bucket_index(math.nextafter(zt, INF), 3): 1}
    h0 = cls(zero_threshold=0)
    h0.observe(0.0)
    h0.observe(-0.0)
    h0.observe(TINY)
    assert (snap_of(h0).zero_count, snap_of(h0).positive) == (2, {-1074 * 8: 1})


@BOTH
def test_bad_observations_raise_and_change_nothing(cls: Any) -> None:
    h = cls()
    h.observe(1)
    before = snap_of(h)
    with pytest.raises(ValueError, match="NaN"):
        h.observe(math.nan)
    for bad in ("1", None, [1.0], 1j):
        with pytest.raises(TypeError):
            h.observe(bad)
    with pytest.raises(OverflowError):
        h.observe(10**400)
    assert snap_of(h) == before
    h.observe(True)  # bool is an int
    h.observe(2**60)
    assert snap_of(h).count == 3


# ---- schema lowering ----------------------------------------------------------------


@BOTH
def test_lowering_merges_pairs_until_the_buckets_fit(cls: Any) -> None:
    values = [1.0 + k / 64 for k in range(64)] + [-3.0, 1e6]
    full = cls(schema=8, max_buckets=UNLIMITED)
    h = cls(schema=8, max_buckets=10)
    for v in values:
        full.observe(v)
        h.observe(v)
    fine = snap_of(full)
    s = snap_of(h)
    lowered = 8 - s.schema
    assert s.positive == lower_native_buckets(fine.positive, lowered)
    assert s.negative == lower_native_buckets(fine.negative, lowered)
    assert len(s.positive) + len(s.negative) <= 10
    assert (
        len(lower_native_buckets(fine.positive, lowered - 1)) + len(fine.negative) > 10
    )  # one less: too many
    assert (s.count, s.sum) == (fine.count, fine.sum)


@BOTH
def test_schema_never_goes_below_minus_four_and_reset_restores_it(cls: Any) -> None:
    h = cls(schema=5, max_buckets=1)
    for v in (1e-30, 1.0, 1e300, -1.0):
        h.observe(v)
    s = snap_of(h)
    assert s.schema == -4
    assert s.positive == {native_bucket_index(v, -4): 1 for v in (1e-30, 1.0, 1e300)}
    h.reset()
    assert snap_of(h) == NativeHistogramSnapshot(5, 2.0**-128, 0, 0, 0.0, {}, {})
    h.observe(1.5)
    assert snap_of(h).schema == 5


def test_lowering_happens_without_a_read_and_keeps_memory_bounded() -> None:
    h = AtomicNativeHistogram(schema=8, max_buckets=160)
    for k in range(100_000):
        h.observe(1.0001**k)  # 2**14 octaves... of schema 8: far more than 160 buckets
    assert h.__sizeof__() < 4096  # the writer that overflowed lowered the schema
    s = snap_of(h)
    assert len(s.positive) <= 160
    assert s.count == 100_000


# ---- equivalence with the mutex twin -------------------------------------------------


values_st = st.one_of(
    st.floats(),
    st.floats(min_value=-1e6, max_value=1e6),
    st.integers(-(2**64), 2**64),
    st.sampled_from([0.0, -0.0, TINY, -TINY, MAX, -MAX, INF, -INF, 2.0**-128, "x", None]),
    st.builds(
        lambda e, j, s, up: math.nextafter(2.0 ** (e + j % 2**s / 2**s), INF if up else 0.0),
        st.integers(-1070, 1020),
        st.integers(0, 255),
        st.integers(0, 8),
        st.booleans(),
    ),
)


@st.composite
def programs(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    kwargs = {
        "schema": draw(st.integers(-4, 8)),
        "zero_threshold": draw(st.sampled_from([0.0, 2.0**-128, 1e-3, 1.0])),
        "max_buckets": draw(st.sampled_from([1, 2, 3, 8, 160])),
    }
    op = st.one_of(
        st.tuples(st.just("observe"), values_st),
        st.tuples(st.just("observe"), values_st),
        st.tuples(st.just("observe"), values_st),
        st.tuples(st.sampled_from(["snapshot", "reset"])),
    )
    return kwargs, draw(st.lists(op, max_size=80))


def _normal_result(v: object) -> object:
    return normal(v) if isinstance(v, NativeHistogramSnapshot) else v


@settings(max_examples=300)
@given(programs())
def test_equivalent_to_mutex_native_histogram(
    program: tuple[dict[str, Any], list[tuple[Any, ...]]],
) -> None:
    kwargs, ops = program
    atomic, mutex = AtomicNativeHistogram(**kwargs), MutexNativeHistogram(**kwargs)
    errors = (OverflowError, TypeError, ValueError)
    for op in ops:
        got = apply_op(atomic, op, errors, _normal_result)
        assert got == apply_op(mutex, op, errors, _normal_result), op
    assert normal(snap_of(atomic)) == normal(snap_of(mutex))


# ---- memory ---------------------------------------------------------------------------


@pytest.mark.parametrize("read", [False, True])
def test_160_populated_buckets_take_at_most_2_kb(read: bool) -> None:
    values = [2.0 ** ((k + 0.5) / 8) for k in range(-80, 80)]  # 160 buckets of schema 3
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        h = AtomicNativeHistogram()
        for v in values:
            h.observe(v)
        if read:  # a read moves the buckets between the halves: still one copy
            h.snapshot()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(snap_of(h).positive) == 160
    assert used <= 2048, used
    assert h.__sizeof__() <= 2048


def test_no_reference_leaks() -> None:
    h = AtomicNativeHistogram()
    x, big = 1.5e10, 2**70
    before = sys.getrefcount(x), sys.getrefcount(big)
    for _ in range(1000):
        h.observe(x)
        h.observe(big)
        h.snapshot()
    assert (sys.getrefcount(x), sys.getrefcount(big)) == before
    assert_placed_cells_pin_the_export_not_the_view(
        lambda view: AtomicNativeHistogram._from_buffer(view, 0, 3, 0.0, 1),
        AtomicNativeHistogram._cell_bytes(1),
    )


def test_subclass_of_the_cell_is_slotted() -> None:
    h = AtomicNativeHistogram()
    with pytest.raises(AttributeError):
        h.extra = 1  # type: ignore[attr-defined]
    assert "AtomicNativeHistogram(schema=3, count=0" in repr(h)


# ---- the multi-process arena ---------------------------------------------------------


def test_cell_bytes() -> None:
    # 8 * (1 + 2 * (5 + 2 * C + 266)): C = 256 table entries for 160 buckets
    assert AtomicNativeHistogram._cell_bytes(160) == 8 * (1 + 2 * (5 + 512 + 266))
    assert AtomicNativeHistogram._cell_bytes(1) == 8 * (1 + 2 * (5 + 8 + 266))
    for bad, exc in ((0, ValueError), (2**21, ValueError), (1.0, TypeError)):
        with pytest.raises(exc, match="max_buckets"):
            AtomicNativeHistogram._cell_bytes(bad)


def _arena(max_buckets: int = 160, offset: int = 64) -> tuple[mmap.mmap, memoryview, int]:
    size = AtomicNativeHistogram._cell_bytes(max_buckets)
    m = mmap.mmap(-1, offset + size + 64)
    return m, memoryview(m), size


def test_arena_storage_is_shared_and_zero_is_empty() -> None:
    m, view, size = _arena()
    a = AtomicNativeHistogram._from_buffer(view, 64, 3, 2.0**-128, 160)
    b = AtomicNativeHistogram._from_buffer(view, 64, 3, 2.0**-128, 160)
    assert isinstance(a, AtomicNativeHistogram)
    assert snap_of(a) == NativeHistogramSnapshot(3, 2.0**-128, 0, 0, 0.0, {}, {})
    a.observe(1.5)
    b.observe(-0.5)
    a.snapshot()  # moves the data between the halves: b must still see all of it
    b.observe(0.0)
    assert (
        snap_of(a)
        == snap_of(b)
        == NativeHistogramSnapshot(3, 2.0**-128, 1, 3, 1.0, {5: 1}, {-8: 1})
    )
    b.reset()
    assert snap_of(a).count == 0
    assert m[:64] == bytes(64)  # untouched around the cell
    assert m[64 + size :] == bytes(len(m) - 64 - size)
    with pytest.raises(ValueError, match="offset"):
        AtomicNativeHistogram._from_buffer(
            view, len(m) - size + 8, 3, 2.0**-128, 160
        )  # past the end
    with pytest.raises(ValueError, match="schema"):
        AtomicNativeHistogram._from_buffer(view, 0, 9, 0.0, 160)
    with pytest.raises(TypeError):
        AtomicNativeHistogram._from_buffer(view, 0)  # type: ignore[call-arg]
    del a, b, view
    m.close()


def test_arena_matches_the_twin_through_lowering() -> None:
    m, view, _ = _arena(max_buckets=5)
    arena = AtomicNativeHistogram._from_buffer(view, 64, 8, 0.0, 5)
    twin = MutexNativeHistogram(schema=8, zero_threshold=0.0, max_buckets=5)
    for k in range(2000):
        v = (-1.0) ** k * 1.01**k
        arena.observe(v)
        twin.observe(v)
        if k % 97 == 0:
            assert normal(snap_of(arena)) == normal(snap_of(twin))
    assert normal(snap_of(arena)) == normal(snap_of(twin))
    del arena, view
    m.close()


def test_arena_is_shared_with_a_forked_child() -> None:
    _mem, view, _ = _arena()
    h = AtomicNativeHistogram._from_buffer(view, 64, 3, 2.0**-128, 160)
    h.observe(0.5)
    pid = os.fork()
    if pid == 0:  # the child: record, then leave without cleanup
        for k in range(1000):
            h.observe(float(k % 10))
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    s = snap_of(h)
    assert (s.count, s.zero_count, s.sum) == (1001, 100, 4500.5)


class _Cell:
    """White-box view of an arena native histogram's words (layout in native_histogram.c)."""

    def __init__(self, max_buckets: int = 160) -> None:
        self.mem = mmap.mmap(-1, AtomicNativeHistogram._cell_bytes(max_buckets))
        self.h = AtomicNativeHistogram._from_buffer(memoryview(self.mem), 0, 3, 0.0, max_buckets)

    def ctl(self) -> int:
        return int(struct.unpack_from("<Q", self.mem, 0)[0])

    def set_ctl(self, v: int) -> None:
        struct.pack_into("<Q", self.mem, 0, v)


def test_arena_dead_writer_is_given_up_on_and_the_books_balance() -> None:
    cell = _Cell()
    cell.h.observe(2.0)
    cell.set_ctl(cell.ctl() + 1)  # a writer that died after W1
    start = time.monotonic()
    s = snap_of(cell.h)
    assert 0.2 <= time.monotonic() - start < 5
    assert (s.count, s.positive) == (1, {8: 1})
    start = time.monotonic()
    cell.h.observe(2.0)
    assert snap_of(cell.h).count == 2  # forgotten: no second wait
    assert time.monotonic() - start < 0.2


def test_arena_full_table_falls_back_to_schema_minus_four_and_loses_nothing() -> None:
    cell = _Cell(max_buckets=1)  # a table of 4 entries per half
    cell.set_ctl(cell.ctl() | (1 << 62))  # a dead reader holds the lock: no compaction
    values = [1.5**k for k in range(40)]
    for v in values:
        cell.h.observe(v)
    s = snap_of(cell.h)  # takes the stale lock over after about a second
    assert s.schema == -4
    assert s.count == 40
    expected: dict[int, int] = {}
    for v in values:
        i = native_bucket_index(v, -4)
        expected[i] = expected.get(i, 0) + 1
    assert s.positive == dict(sorted(expected.items()))
    assert s.sum == sum(values)
