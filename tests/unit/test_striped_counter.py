"""StripedCounter: MutexCounter's inc/dec/add/load/reset subset, spread over cells."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import AtomicCounter, StripedCounter
from atomicmetrics.reference import MutexCounter
from tests.helpers import INT64_MAX, INT64_MIN, THREADS, apply_op, run_threads

GUARD = 2**55  # csrc/striped.c AM_GUARD: base stays within it of the limits
BASE_MAX = INT64_MAX - GUARD
BASE_MIN = INT64_MIN + GUARD

BOTH = pytest.mark.parametrize("cls", [StripedCounter, MutexCounter])


def spread(value: int = 0) -> StripedCounter:
    """A counter whose stripe table exists (what contention does on 3.13t)."""
    c = StripedCounter(value)
    c._spread()
    return c


@BOTH
def test_basic_operations(cls: Any) -> None:
    c = cls(5)
    c.inc()
    c.dec()
    c.dec()
    assert c.load() == 4
    c.add(10)
    c.add(-3)
    assert c.load() == 11
    assert int(c) == 11
    assert c.reset() == 11
    assert c.load() == 0
    assert repr(c) == f"{type(c).__name__}(0)"


@BOTH
def test_default_is_zero_and_bool_is_int(cls: Any) -> None:
    c = cls()
    assert c.load() == 0
    c.add(True)
    assert c.load() == 1
    assert cls(value=3).load() == 3


def test_spread_keeps_the_value_and_is_idempotent() -> None:
    c = StripedCounter(7)
    assert c._cells() == [7]
    n = c._spread()
    assert 4 <= n <= 128
    assert n & (n - 1) == 0
    assert c._spread() == n
    assert len(c._cells()) == n + 1
    c.inc()
    c.add(-3)
    assert c.load() == 5
    assert sum(c._cells()) == 5
    assert c.reset() == 5
    assert c._cells() == [0] * (n + 1)


@pytest.mark.parametrize("make", [StripedCounter, spread])
@pytest.mark.parametrize("bad", [1.0, "1", None, b"1", 1j])
def test_wrong_types_raise_type_error(make: Any, bad: object) -> None:
    c = make(1)
    with pytest.raises(TypeError):
        c.add(bad)
    with pytest.raises(TypeError):
        StripedCounter(bad)  # type: ignore[arg-type]
    assert c.load() == 1


@pytest.mark.parametrize("make", [StripedCounter, spread])
@pytest.mark.parametrize(
    ("start", "call"),
    [
        (BASE_MAX, lambda c: c.add(2**63)),
        (BASE_MIN, lambda c: c.add(INT64_MIN - 1)),
        (BASE_MAX, lambda c: c.add(GUARD + 1)),  # result leaves int64
        (BASE_MIN, lambda c: c.add(-GUARD - 1)),
    ],
)
def test_results_outside_int64_raise_and_change_nothing(make: Any, start: int, call: Any) -> None:
    c = make(start)
    with pytest.raises(OverflowError):
        call(c)
    assert c.load() == start


@pytest.mark.parametrize("value", [BASE_MAX + 1, BASE_MIN - 1, 2**63, INT64_MIN - 1])
def test_constructor_refuses_the_guard_band(value: int) -> None:
    with pytest.raises(OverflowError):
        StripedCounter(value)
    assert StripedCounter(BASE_MAX).load() == BASE_MAX
    assert StripedCounter(BASE_MIN).load() == BASE_MIN


def test_guard_band_may_raise_early_but_never_wraps() -> None:
    # Documented: within 2**56 of a limit an add may raise although the
    # result would fit; it never wraps, and nothing changes when it raises.
    c = StripedCounter(BASE_MAX)
    with pytest.raises(OverflowError):
        c.inc()
    assert c.load() == BASE_MAX
    s = spread(BASE_MAX)
    limit = GUARD // s._spread()
    s.add(limit)  # fits in this thread's stripe: the value passes BASE_MAX
    assert s.load() == BASE_MAX + limit <= INT64_MAX
    with pytest.raises(OverflowError):
        s.inc()  # stripe full, base at its bound
    assert s.load() == BASE_MAX + limit
    s.add(-limit)
    s.dec()
    assert s.load() == BASE_MAX - 1


def test_far_from_the_limits_never_raises() -> None:
    # Results within [INT64_MIN + 2*GUARD, INT64_MAX - 2*GUARD] always succeed.
    s = spread(INT64_MAX - 2 * GUARD - 10)
    limit = GUARD // s._spread()
    s.add(limit - 1)
    s.add(5)  # the stripe is (nearly) full: goes to base
    s.add(5)
    assert s.load() == INT64_MAX - 2 * GUARD - 10 + limit - 1 + 10


def test_full_stripe_overflows_into_base() -> None:
    s = spread()
    limit = GUARD // s._spread()
    s.add(limit)
    s.add(3)
    cells = s._cells()
    assert cells[0] == 3
    assert sorted(cells[1:])[-1] == limit
    assert s.load() == limit + 3
    s.add(-(limit + 3))
    assert s.load() == 0


def test_no_reference_leaks() -> None:
    c = spread()
    big = 2**40
    before = sys.getrefcount(big)
    for _ in range(1000):
        c.add(big)
        c.add(-big)
    assert sys.getrefcount(big) == before


ops = st.one_of(
    st.tuples(st.just("inc")),
    st.tuples(st.just("dec")),
    # far from the guard band (start +-2**61, 40 steps of +-2**55 stay < 2**62) ...
    st.tuples(st.just("add"), st.integers(-(2**55), 2**55)),
    # ... or outside int64 altogether, where both must raise
    st.tuples(st.just("add"), st.integers(2**63, 2**65) | st.integers(-(2**65), -(2**63) - 1)),
    st.tuples(st.just("reset")),
    st.tuples(st.just("load")),
)


@given(
    start=st.integers(-(2**61), 2**61),
    program=st.lists(ops, max_size=40),
    spread_first=st.booleans(),
)
def test_equivalent_to_mutex_counter(
    start: int, program: list[tuple[Any, ...]], spread_first: bool
) -> None:
    striped, mutex = StripedCounter(start), MutexCounter(start)
    if spread_first:
        striped._spread()
    for op in program:
        assert apply_op(striped, op) == apply_op(mutex, op), op
        assert striped.load() == mutex.load()


@pytest.mark.parametrize("make", [StripedCounter, spread])
def test_concurrent_updates_are_exact(make: Any, switch_fast: object) -> None:
    c = make()
    n = 20_000

    def work(_: int) -> None:
        inc, dec, add = c.inc, c.dec, c.add
        for _ in range(n):
            inc()
            add(3)
            dec()

    run_threads(THREADS, work)
    assert c.load() == THREADS * n * 3
    cells = c._cells()
    assert sum(cells) == THREADS * n * 3
    if len(cells) > 1:
        limit = GUARD // (len(cells) - 1)
        assert all(-limit <= v <= limit for v in cells[1:])


def _run_reader_last(work: Callable[[int], None], done: threading.Event) -> None:
    """``run_threads(THREADS, work)`` where thread ``THREADS - 1`` reads until
    ``done``, which is set once every other thread (a writer) has returned."""
    writers = THREADS - 1
    finished = AtomicCounter()

    def guarded(i: int) -> None:
        try:
            work(i)
        finally:
            if i != writers and finished.fetch_add(1) == writers - 1:
                done.set()

    run_threads(THREADS, guarded)


@pytest.mark.parametrize("make", [StripedCounter, spread])
def test_reader_sees_monotonic_bounded_values_while_writers_run(
    make: Any, switch_fast: object
) -> None:
    c = make()
    writers, n = THREADS - 1, 20_000
    done = threading.Event()
    seen: list[int] = []

    def work(i: int) -> None:
        if i == writers:  # the reader
            last = 0
            while not done.is_set():
                v = c.load()
                assert last <= v <= writers * n, (last, v)
                last = v
                seen.append(v)
            return
        inc = c.inc
        for _ in range(n):
            inc()

    _run_reader_last(work, done)
    assert c.load() == writers * n
    assert seen, "the reader never ran"


def test_concurrent_resets_lose_nothing(switch_fast: object) -> None:
    c = spread()
    writers, n = THREADS - 1, 20_000
    harvested: list[int] = []
    done = threading.Event()

    def work(i: int) -> None:
        if i == writers:
            while not done.is_set():
                harvested.append(c.reset())
            return
        add = c.add
        for _ in range(n):
            add(2)

    _run_reader_last(work, done)
    assert all(h >= 0 for h in harvested)
    assert sum(harvested) + c.load() == writers * n * 2
