"""AtomicFloat: its contract, its mutex twin, and its races."""

from __future__ import annotations

import functools
import math
import mmap
import struct
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import AtomicFloat
from atomicmetrics.reference import MutexFloat
from tests.helpers import (
    THREADS,
    apply_op,
    assert_placed_cells_pin_the_export_not_the_view,
    cas_add_loses_nothing,
    run_threads,
)

BOTH = pytest.mark.parametrize("cls", [AtomicFloat, MutexFloat])


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


@BOTH
def test_basic_operations(cls: Any) -> None:
    f = cls(1.5)
    f.add(2)
    f.add(0.25)
    assert f.load() == 3.75
    assert f.swap(-1.0) == 3.75
    f.store(7)
    assert isinstance(f.load(), float)
    assert float(f) == 7.0
    assert f.compare_and_swap(7.0, 8.5) is True
    assert f.compare_and_swap(7.0, 1.0) is False
    assert f.load() == 8.5
    assert repr(f) == f"{type(f).__name__}(8.5)"


@BOTH
def test_default_is_positive_zero_and_bool_is_int(cls: Any) -> None:
    f = cls()
    assert bits(f.load()) == bits(0.0)
    f.add(True)
    assert f.load() == 1.0
    assert cls(value=2).load() == 2.0


@BOTH
def test_compare_and_swap_compares_bits(cls: Any) -> None:
    f = cls(0.0)
    assert f.compare_and_swap(-0.0, 1.0) is False
    assert f.compare_and_swap(0.0, -0.0) is True
    assert bits(f.load()) == bits(-0.0)
    assert f.compare_and_swap(0.0, 1.0) is False
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    other_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000002))[0]
    f.store(nan)
    assert bits(f.load()) == bits(nan)  # the payload survives a round trip
    assert f.compare_and_swap(other_nan, 1.0) is False
    assert f.compare_and_swap(nan, 2.0) is True
    assert f.load() == 2.0


@BOTH
def test_nan_and_infinities_are_float_values(cls: Any) -> None:
    f = cls(1.0)
    f.add(math.inf)
    assert f.load() == math.inf
    f.add(-math.inf)
    assert math.isnan(f.load())
    f.store(1e308)
    f.add(1e308)  # overflows to inf, as Python float arithmetic does
    assert f.load() == math.inf


@BOTH
@pytest.mark.parametrize("bad", ["1", None, b"1", 1j, [1.0]])
def test_wrong_types_raise_type_error(cls: Any, bad: object) -> None:
    f = cls(1.0)
    for call in (f.add, f.store, f.swap):
        with pytest.raises(TypeError):
            call(bad)
    with pytest.raises(TypeError):
        f.compare_and_swap(bad, 1.0)
    with pytest.raises(TypeError):
        f.compare_and_swap(1.0, bad)
    with pytest.raises(TypeError):
        cls(bad)
    assert f.load() == 1.0


@BOTH
def test_int_too_large_raises_overflow_and_changes_nothing(cls: Any) -> None:
    f = cls(1.0)
    for call in (f.add, f.store, f.swap):
        with pytest.raises(OverflowError):
            call(2**1024)
    with pytest.raises(OverflowError):
        f.compare_and_swap(1.0, 2**1024)
    assert f.load() == 1.0
    with pytest.raises(OverflowError):
        cls(2**1024)


def test_arena_storage_is_shared_between_views() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    a = AtomicFloat._from_buffer(view, 8)
    b = AtomicFloat._from_buffer(view, 8)
    assert a.load() == 0.0  # zero-filled memory is 0.0
    a.add(1.25)
    b.add(0.5)
    assert a.load() == 1.75
    assert struct.unpack("<d", m[8:16])[0] == 1.75
    assert AtomicFloat._cell_bytes() == 8
    with pytest.raises(ValueError, match="aligned"):
        AtomicFloat._from_buffer(view, 4)
    del a, b, view
    m.close()


def test_no_reference_leaks() -> None:
    f = AtomicFloat()
    x = 1.5
    before = sys.getrefcount(x)
    for _ in range(1000):
        f.add(x)
        f.store(x)
        f.swap(x)
        f.compare_and_swap(x, x)
    assert sys.getrefcount(x) == before
    assert_placed_cells_pin_the_export_not_the_view(lambda view: AtomicFloat._from_buffer(view, 0))


values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**60), 2**60))
ops = st.one_of(
    st.tuples(st.just("add"), values),
    st.tuples(st.just("store"), values),
    st.tuples(st.just("swap"), values),
    st.tuples(st.just("compare_and_swap"), st.sampled_from([0.0, -0.0, 1.0]), values),
    st.tuples(st.just("load")),
)


def _bits_of_floats(v: object) -> object:
    return bits(v) if isinstance(v, float) else v


_apply = functools.partial(apply_op, normal=_bits_of_floats)


@given(start=values, program=st.lists(ops, max_size=40))
def test_equivalent_to_mutex_float(start: float, program: list[tuple[Any, ...]]) -> None:
    atomic, mutex = AtomicFloat(start), MutexFloat(start)
    for op in program:
        assert _apply(atomic, op) == _apply(mutex, op), op
        assert bits(atomic.load()) == bits(mutex.load())


def test_concurrent_adds_are_exact(switch_fast: object) -> None:
    f = AtomicFloat()
    n = 20_000

    def work(_: int) -> None:
        add = f.add
        for _ in range(n):
            add(0.5)  # exactly representable: every partial sum is exact
            add(1)

    run_threads(THREADS, work)
    assert f.load() == THREADS * n * 1.5


def test_concurrent_compare_and_swap_loses_no_update(switch_fast: object) -> None:
    cas_add_loses_nothing(AtomicFloat(), 1.0)


def test_arena_words_stay_mapped_after_the_view_is_released() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    cell = AtomicFloat._from_buffer(view, 8)
    view.release()
    with pytest.raises(BufferError):
        m.close()
    del cell
    m.close()
