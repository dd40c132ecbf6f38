"""AtomicCounter: its contract, its mutex twin, and its races."""

from __future__ import annotations

import mmap
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import AtomicCounter
from atomicmetrics.reference import MutexCounter
from tests.helpers import (
    INT64_MAX,
    INT64_MIN,
    THREADS,
    apply_op,
    assert_placed_cells_pin_the_export_not_the_view,
    cas_add_loses_nothing,
    run_threads,
)

BOTH = pytest.mark.parametrize("cls", [AtomicCounter, MutexCounter])


@BOTH
def test_basic_operations(cls: Any) -> None:
    c = cls(5)
    c.inc()
    c.dec()
    c.dec()
    assert c.load() == 4
    c.add(10)
    assert c.fetch_add(-3) == 14
    assert c.load() == 11
    assert c.swap(7) == 11
    assert c.compare_and_swap(7, 9) is True
    assert c.compare_and_swap(7, 1) is False
    assert c.load() == 9
    c.store(-4)
    assert int(c) == -4
    assert c.reset() == -4
    assert c.load() == 0
    assert repr(c) == f"{type(c).__name__}(0)"


@BOTH
def test_default_is_zero_and_bool_is_int(cls: Any) -> None:
    c = cls()
    assert c.load() == 0
    c.add(True)
    assert c.load() == 1
    assert cls(value=3).load() == 3


@BOTH
@pytest.mark.parametrize(
    ("start", "call"),
    [
        (INT64_MAX, lambda c: c.inc()),
        (INT64_MIN, lambda c: c.dec()),
        (INT64_MAX - 1, lambda c: c.add(2)),
        (INT64_MIN + 1, lambda c: c.fetch_add(-2)),
        (0, lambda c: c.add(2**63)),
        (0, lambda c: c.store(2**63)),
        (0, lambda c: c.swap(INT64_MIN - 1)),
        (0, lambda c: c.compare_and_swap(0, 2**64)),
    ],
)
def test_overflow_raises_and_changes_nothing(cls: Any, start: int, call: Any) -> None:
    c = cls(start)
    with pytest.raises(OverflowError):
        call(c)
    assert c.load() == start


@BOTH
@pytest.mark.parametrize("bad", [1.0, "1", None, b"1", 1j])
def test_wrong_types_raise_type_error(cls: Any, bad: object) -> None:
    c = cls(1)
    for call in (c.add, c.fetch_add, c.store, c.swap):
        with pytest.raises(TypeError):
            call(bad)
    with pytest.raises(TypeError):
        c.compare_and_swap(bad, 1)
    with pytest.raises(TypeError):
        c.compare_and_swap(1, bad)
    with pytest.raises(TypeError):
        cls(bad)
    assert c.load() == 1


def test_constructor_out_of_range() -> None:
    with pytest.raises(OverflowError):
        AtomicCounter(2**63)


def test_index_types_accepted() -> None:
    class Idx:
        def __index__(self) -> int:
            return 41

    c = AtomicCounter(Idx())  # type: ignore[arg-type]
    c.add(Idx())  # type: ignore[arg-type]
    assert c.load() == 82


def test_size_is_small() -> None:
    # Target of the foundation issue: one counter object <= 40 bytes on a GIL
    # build, i.e. at most 24 bytes past the object header (which is 16 bytes
    # larger on free-threaded builds: ob_tid, ob_ref_local, ob_ref_shared).
    assert sys.getsizeof(AtomicCounter()) <= object().__sizeof__() + 24


def test_arena_storage_is_shared_between_views() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    a = AtomicCounter._from_buffer(view, 16)
    b = AtomicCounter._from_buffer(view, 16)
    a.add(5)
    b.inc()
    assert a.load() == 6
    assert int.from_bytes(m[16:24], sys.byteorder, signed=True) == 6
    assert AtomicCounter._cell_bytes() == 8
    del a, b, view
    m.close()  # no export left once the counters are gone


@pytest.mark.parametrize(
    ("offset", "exc"),
    [(3, ValueError), (-8, ValueError), (mmap.PAGESIZE, ValueError), (1.0, TypeError)],
)
def test_arena_storage_rejects_bad_offsets(offset: Any, exc: type[Exception]) -> None:
    view = memoryview(mmap.mmap(-1, mmap.PAGESIZE))
    with pytest.raises(exc):
        AtomicCounter._from_buffer(view, offset)


def test_arena_storage_rejects_readonly_and_non_views() -> None:
    with pytest.raises(TypeError):
        AtomicCounter._from_buffer(memoryview(bytes(64)), 0)
    with pytest.raises(TypeError):
        AtomicCounter._from_buffer(bytearray(64), 0)  # type: ignore[arg-type]


def test_no_reference_leaks() -> None:
    c = AtomicCounter()
    big = 2**40
    before = sys.getrefcount(big)
    for _ in range(1000):
        c.add(big)
        c.fetch_add(big)
        c.store(big)
        c.swap(big)
        c.compare_and_swap(big, big)
    assert sys.getrefcount(big) == before
    assert_placed_cells_pin_the_export_not_the_view(
        lambda view: AtomicCounter._from_buffer(view, 0)
    )


def test_arena_words_stay_mapped_after_the_view_is_released() -> None:
    # The caller's view may be released; the counter keeps its own export, so
    # the mapping cannot be closed under the cell (this used to segfault).
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    c = AtomicCounter._from_buffer(view, 8)
    view.release()
    with pytest.raises(BufferError):
        m.close()
    c.inc()
    assert c.load() == 1
    del c
    m.close()


def test_arena_refuses_a_released_view() -> None:
    view = memoryview(mmap.mmap(-1, mmap.PAGESIZE))
    view.release()
    with pytest.raises(ValueError, match="released"):
        AtomicCounter._from_buffer(view, 0)


ops = st.one_of(
    st.tuples(st.just("inc")),
    st.tuples(st.just("dec")),
    st.tuples(st.just("add"), st.integers(-(2**64), 2**64)),
    st.tuples(st.just("fetch_add"), st.integers(-(2**63), 2**63)),
    st.tuples(st.just("store"), st.integers(-(2**63) - 1, 2**63)),
    st.tuples(st.just("swap"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("compare_and_swap"), st.integers(-3, 3), st.integers(-3, 3)),
    st.tuples(st.just("reset")),
    st.tuples(st.just("load")),
)


@given(start=st.integers(INT64_MIN, INT64_MAX), program=st.lists(ops, max_size=40))
def test_equivalent_to_mutex_counter(start: int, program: list[tuple[Any, ...]]) -> None:
    atomic, mutex = AtomicCounter(start), MutexCounter(start)
    for op in program:
        assert apply_op(atomic, op) == apply_op(mutex, op), op
        assert atomic.load() == mutex.load()


def test_concurrent_increments_are_exact(switch_fast: object) -> None:
    c = AtomicCounter()
    n = 20_000

    def work(_: int) -> None:
        inc, add = c.inc, c.add
        for _ in range(n):
            inc()
            add(2)

    run_threads(THREADS, work)
    assert c.load() == THREADS * n * 3


def test_concurrent_fetch_add_hands_out_unique_tickets(switch_fast: object) -> None:
    c = AtomicCounter()
    n = 5_000
    tickets = run_threads(THREADS, lambda _: [c.fetch_add(1) for _ in range(n)])
    seen = [t for ts in tickets for t in ts]  # type: ignore[attr-defined]
    assert sorted(seen) == list(range(THREADS * n))


def test_concurrent_compare_and_swap_loses_no_update(switch_fast: object) -> None:
    cas_add_loses_nothing(AtomicCounter(), 1)
