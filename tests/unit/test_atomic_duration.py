"""AtomicDuration: its contract, its mutex twin, and its races."""

from __future__ import annotations

import functools
import math
import mmap
import sys
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import AtomicDuration
from atomicmetrics.reference import MutexDuration
from tests.helpers import (
    INT64_MAX,
    INT64_MIN,
    THREADS,
    apply_op,
    assert_placed_cells_pin_the_export_not_the_view,
    run_threads,
)

BOTH = pytest.mark.parametrize("cls", [AtomicDuration, MutexDuration])


@BOTH
def test_basic_operations(cls: Any) -> None:
    d = cls(5)
    d.add_ns(10)
    d.add(timedelta(days=1, seconds=2, microseconds=3))
    d.add(2)
    d.add(0.5)
    expected = 15 + (86_400 + 2) * 10**9 + 3_000 + 2 * 10**9 + 500_000_000
    assert d.load_ns() == expected
    assert d.load() == timedelta(days=1, seconds=4, microseconds=500_003)
    assert d.seconds() == expected / 10**9
    assert d.compare_and_swap_ns(expected, 7) is True
    assert d.compare_and_swap_ns(expected, 9) is False
    d.store_ns(-4)
    assert repr(d) == f"{type(d).__name__}(ns=-4)"
    assert d.reset() == -4
    assert d.load_ns() == 0
    assert d.load() == timedelta(0)


@BOTH
def test_default_is_zero_and_bool_is_int(cls: Any) -> None:
    d = cls()
    assert d.load_ns() == 0
    d.add_ns(True)
    d.add(True)  # one second
    assert d.load_ns() == 1 + 10**9
    assert cls(ns=3).load_ns() == 3


@BOTH
@pytest.mark.parametrize(
    ("seconds", "ns"),
    [
        (1e-9, 1),
        (0.1, 100_000_000),
        (1.5e-9, 1),  # the double 1.5e-9 is a little below 1.5 ns
        (2.5e-9, 3),  # and the double 2.5e-9 a little above 2.5 ns
        (-0.1, -100_000_000),
        (5e-324, 0),
        (9.2e9, 9_200_000_000 * 10**9),
    ],
)
def test_float_seconds_round_to_nearest_ns(cls: Any, seconds: float, ns: int) -> None:
    assert ns == round(Fraction(seconds) * 10**9)  # the rule, computed independently
    d = cls()
    d.add(seconds)
    assert d.load_ns() == ns


@BOTH
@pytest.mark.parametrize(
    ("seconds", "ns"),
    # j / 1024 s = j * 976562.5 ns: exact doubles whose ns value is a tie
    [(1 / 1024, 976_562), (3 / 1024, 2_929_688), (-1 / 1024, -976_562), (-3 / 1024, -2_929_688)],
)
def test_exact_half_nanosecond_ties_go_to_even(cls: Any, seconds: float, ns: int) -> None:
    d = cls()
    d.add(seconds)
    assert d.load_ns() == ns


@BOTH
@pytest.mark.parametrize(
    ("ns", "us"),
    [(499, 0), (500, 0), (501, 1), (1_500, 2), (2_500, 2), (-500, 0), (-501, -1), (-1_500, -2)],
)
def test_load_rounds_to_nearest_microsecond_ties_to_even(cls: Any, ns: int, us: int) -> None:
    assert cls(ns).load() == timedelta(microseconds=us)


@BOTH
def test_load_and_seconds_at_int64_limits(cls: Any) -> None:
    for ns in (INT64_MAX, INT64_MIN, 2**53 + 1, -(2**53) - 1):
        d = cls(ns)
        assert d.load() == timedelta(microseconds=round(Fraction(ns, 1000)))
        assert d.seconds() == ns / 10**9  # correctly rounded


@BOTH
@pytest.mark.parametrize(
    ("start", "call", "exc"),
    [
        (INT64_MAX, lambda d: d.add_ns(1), OverflowError),
        (INT64_MIN, lambda d: d.add_ns(-1), OverflowError),
        (0, lambda d: d.add_ns(2**63), OverflowError),
        (INT64_MAX - 10**9 + 1, lambda d: d.add(1), OverflowError),
        (0, lambda d: d.add(10**10), OverflowError),
        (0, lambda d: d.add(2**64), OverflowError),
        (0, lambda d: d.add(1e10), OverflowError),
        (0, lambda d: d.add(-1e10), OverflowError),
        (0, lambda d: d.add(1e300), OverflowError),
        (0, lambda d: d.add(math.inf), OverflowError),
        (0, lambda d: d.add(-math.inf), OverflowError),
        (0, lambda d: d.add(math.nan), ValueError),
        (0, lambda d: d.add(timedelta.max), OverflowError),
        (0, lambda d: d.add(timedelta.min), OverflowError),
        (INT64_MAX, lambda d: d.add(timedelta(microseconds=1)), OverflowError),
        (0, lambda d: d.store_ns(2**63), OverflowError),
        (0, lambda d: d.compare_and_swap_ns(0, 2**64), OverflowError),
    ],
)
def test_errors_change_nothing(cls: Any, start: int, call: Any, exc: type[Exception]) -> None:
    d = cls(start)
    with pytest.raises(exc):
        call(d)
    assert d.load_ns() == start


@BOTH
def test_int64_edge_values_fit(cls: Any) -> None:
    d = cls()
    d.add(-9_223_372_036.0)
    d.add_ns(-854_775_808)
    assert d.load_ns() == INT64_MIN
    d = cls()
    d.add(2.0**33)  # 8589934592 s: the largest power of two of seconds that fits
    assert d.load_ns() == 2**33 * 10**9
    d = cls(INT64_MAX - 10**9)
    d.add(1)
    assert d.load_ns() == INT64_MAX


@BOTH
@pytest.mark.parametrize("bad", ["1", None, b"1", 1j, Fraction(1, 2)])
def test_wrong_types_raise_type_error(cls: Any, bad: object) -> None:
    d = cls(1)
    for call in (d.add, d.add_ns, d.store_ns):
        with pytest.raises(TypeError):
            call(bad)
    with pytest.raises(TypeError):
        d.compare_and_swap_ns(bad, 1)
    with pytest.raises(TypeError):
        cls(bad)
    for call in (d.add_ns, d.store_ns):
        with pytest.raises(TypeError):
            call(1.0)
    assert d.load_ns() == 1


def test_timedelta_subclass_accepted() -> None:
    class Span(timedelta):
        pass

    d = AtomicDuration()
    d.add(Span(milliseconds=3))
    assert d.load_ns() == 3_000_000


def test_arena_storage_is_shared_between_views() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    a = AtomicDuration._from_buffer(view, 24)
    b = AtomicDuration._from_buffer(view, 24)
    assert a.load_ns() == 0
    a.add_ns(5)
    b.add(timedelta(microseconds=1))
    assert a.load_ns() == 1_005
    assert int.from_bytes(m[24:32], sys.byteorder, signed=True) == 1_005
    assert AtomicDuration._cell_bytes() == 8
    del a, b, view
    m.close()


def test_no_reference_leaks() -> None:
    d = AtomicDuration()
    big, f, td = 2**40, 0.25, timedelta(seconds=1)
    refs = [sys.getrefcount(o) for o in (big, f, td)]
    for _ in range(1000):
        d.add_ns(big)
        d.add(f)
        d.add(td)
        d.store_ns(big)
        d.compare_and_swap_ns(big, big)
        d.load()
        d.seconds()
    assert [sys.getrefcount(o) for o in (big, f, td)] == refs
    for bad in ("x", math.nan, math.inf):
        before = sys.getrefcount(bad)
        for _ in range(100):
            with pytest.raises((TypeError, ValueError, OverflowError)):
                d.add(bad)
        assert sys.getrefcount(bad) == before
    assert_placed_cells_pin_the_export_not_the_view(
        lambda view: AtomicDuration._from_buffer(view, 0)
    )


amounts = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6),
    st.timedeltas(),
    st.timedeltas(min_value=timedelta(days=-10), max_value=timedelta(days=10)),
)
ops = st.one_of(
    st.tuples(st.just("add"), amounts),
    st.tuples(st.just("add_ns"), st.integers(-(2**64), 2**64)),
    st.tuples(st.just("store_ns"), st.integers(-(2**63) - 1, 2**63)),
    st.tuples(st.just("compare_and_swap_ns"), st.integers(-3, 3), st.integers(-3, 3)),
    st.tuples(st.just("reset")),
    st.tuples(st.just("load")),
    st.tuples(st.just("load_ns")),
    st.tuples(st.just("seconds")),
)


_apply = functools.partial(apply_op, errors=(OverflowError, TypeError, ValueError))


@given(start=st.integers(INT64_MIN, INT64_MAX), program=st.lists(ops, max_size=40))
def test_equivalent_to_mutex_duration(start: int, program: list[tuple[Any, ...]]) -> None:
    atomic, mutex = AtomicDuration(start), MutexDuration(start)
    for op in program:
        assert _apply(atomic, op) == _apply(mutex, op), op
        assert atomic.load_ns() == mutex.load_ns()


def test_concurrent_adds_are_exact(switch_fast: object) -> None:
    d = AtomicDuration()
    n = 10_000

    def work(_: int) -> None:
        add, add_ns = d.add, d.add_ns
        for _ in range(n):
            add_ns(3)
            add(timedelta(microseconds=1))
            add(0.25)

    run_threads(THREADS, work)
    assert d.load_ns() == THREADS * n * (3 + 1_000 + 250_000_000)


@BOTH
@pytest.mark.parametrize("base", [9_223_372_036.854775, -9_223_372_036.854775])
def test_float_seconds_at_the_int64_edge(cls: Any, base: float) -> None:
    x = base
    for _ in range(8):  # walk ulp by ulp across the int64 limit
        expected = round(Fraction(x) * 10**9)
        d = cls()
        if INT64_MIN <= expected <= INT64_MAX:
            d.add(x)
            assert d.load_ns() == expected
        else:
            with pytest.raises(OverflowError):
                d.add(x)
            assert d.load_ns() == 0
        x = math.nextafter(x, math.copysign(math.inf, x))


def test_arena_words_stay_mapped_after_the_view_is_released() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    cell = AtomicDuration._from_buffer(view, 8)
    view.release()
    with pytest.raises(BufferError):
        m.close()
    del cell
    m.close()
