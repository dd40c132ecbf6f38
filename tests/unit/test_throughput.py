"""ThroughputMetric: its contract, a model, and its races."""

from __future__ import annotations

import dataclasses
import gc
import math
import mmap
import sys
import threading
import time
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomicmetrics import ThroughputMetric, ThroughputSnapshot
from tests.helpers import INT64_MAX, THREADS, run_threads

S = 1_000_000_000  # ns per second


class FakeClock:
    """A settable nanosecond clock; thread-safe ticking for the race tests."""

    def __init__(self, now: int = 0, step: int = 0) -> None:
        self.now = now
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = self.now
            self.now += self.step
            return now


class Model:
    """The contract's definitions, computed directly from every slot ever seen."""

    def __init__(self, window_ns: int, res_ns: int, sla_ns: int | None, now: int) -> None:
        self.window_ns, self.res_ns, self.sla_ns = window_ns, res_ns, sla_ns
        self.reset(now)

    def reset(self, now: int) -> None:
        self.t0 = now
        self.slots: dict[int, int] = {}
        self.events = self.samples = self.violations = 0

    def record(self, events: int, latency_ns: int | None, now: int) -> None:
        self.events += events
        self.samples += 1
        if latency_ns is not None and self.sla_ns is not None and latency_ns > self.sla_ns:
            self.violations += 1
        if events:
            k = now // self.res_ns
            self.slots[k] = self.slots.get(k, 0) + events

    def read(self, now: int) -> tuple[int, int, int, float, float, float]:
        k, n = now // self.res_ns, self.window_ns // self.res_ns
        in_window = sum(c for j, c in self.slots.items() if k - n < j <= k)
        window_s, res_s = self.window_ns / S, self.res_ns / S
        denom = min(window_s, max(res_s, (now - self.t0) / S))
        peak = max(self.slots.values(), default=0) / res_s
        rate = self.violations / self.samples if self.samples else 0.0
        return (self.events, self.samples, self.violations, rate, in_window / denom, peak)


# ---- construction and validation -----------------------------------------


def test_defaults() -> None:
    t = ThroughputMetric()
    assert (t.window_s, t.resolution_s, t.sla_ns) == (60.0, 1.0, None)
    assert repr(t) == "ThroughputMetric(window_s=60.0, resolution_s=1.0, sla_ns=None)"
    assert t.snapshot() == ThroughputSnapshot(0, 0, 0, 0.0, 0.0, 0.0)
    assert ThroughputMetric(0.3, 0.1).window_s == 0.3  # taken to whole ns: 3 slots


@pytest.mark.parametrize(
    ("window_s", "resolution_s"),
    [
        (0, 1),
        (60, 0),
        (-60, 1),
        (60, -1),
        (math.nan, 1),
        (60, math.nan),
        (math.inf, 1),
        (60, math.inf),
        (10, 3),  # not a whole multiple
        (1.5, 1),
        (1, 2),
        (1e-10, 1e-10),  # below one nanosecond
        (1e300, 1),
        (2**21, 1),  # too many slots
    ],
)
def test_bad_window_or_resolution_raises_value_error(window_s: float, resolution_s: float) -> None:
    with pytest.raises(ValueError, match=r"window_s|resolution_s|slots"):
        ThroughputMetric(window_s, resolution_s)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"window_s": "60"}, TypeError),
        ({"resolution_s": None}, TypeError),
        ({"sla_ns": 1.5}, TypeError),
        ({"sla_ns": "1"}, TypeError),
        ({"sla_ns": -1}, ValueError),
        ({"sla_ns": 2**63}, OverflowError),
        ({"clock": 5}, TypeError),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        ThroughputMetric(**kwargs)


def test_snapshot_is_a_frozen_dataclass_named_after_the_getters() -> None:
    clock = FakeClock()
    t = ThroughputMetric(10, 1, sla_ns=100, clock=clock)
    t.record(4, 150)
    t.record(2, 50)
    snap = t.snapshot()
    names = [f.name for f in dataclasses.fields(ThroughputSnapshot)]
    assert names == [
        "events_processed",
        "sample_count",
        "sla_violations",
        "sla_violation_rate",
        "throughput",
        "peak_throughput",
    ]
    assert [getattr(snap, name) for name in names] == [getattr(t, name)() for name in names]
    assert snap == ThroughputSnapshot(6, 2, 1, 0.5, 6.0, 6.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.sample_count = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        t.extra = 1  # type: ignore[attr-defined]


# ---- record and its errors --------------------------------------------------


def test_record_counts_samples_events_and_violations() -> None:
    t = ThroughputMetric(sla_ns=1_000, clock=FakeClock())
    t.record()
    t.record(5)
    t.record(0, 1_000)  # equal to the SLA: not a violation
    t.record(2, 1_001)
    t.record(events=1, latency_ns=5_000)
    t.record(latency_ns=None)
    t.record(True, False)
    assert (t.events_processed(), t.sample_count(), t.sla_violations()) == (11, 7, 2)
    assert t.sla_violation_rate() == 2 / 7


def test_latency_without_sla_never_violates() -> None:
    t = ThroughputMetric(clock=FakeClock())
    t.record(1, 10**15)
    assert (t.sla_violations(), t.sla_violation_rate()) == (0, 0.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        ((-1,), {}, ValueError),
        ((1, -1), {}, ValueError),
        ((1.0,), {}, TypeError),
        ((1, 1.0), {}, TypeError),
        (("1",), {}, TypeError),
        ((2**63,), {}, OverflowError),
        ((1, 2**63), {}, OverflowError),
        ((1, 2, 3), {}, TypeError),
        ((), {"event": 1}, TypeError),
        ((1,), {"events": 1}, TypeError),
    ],
)
def test_record_errors_change_nothing(
    args: tuple[Any, ...], kwargs: dict[str, Any], exc: type[Exception]
) -> None:
    t = ThroughputMetric(sla_ns=0, clock=FakeClock())
    t.record(3, 1)
    before = t.snapshot()
    with pytest.raises(exc):
        t.record(*args, **kwargs)
    assert t.snapshot() == before


def test_events_total_overflow_raises_and_changes_nothing() -> None:
    t = ThroughputMetric(clock=FakeClock())
    t.record(INT64_MAX)
    before = t.snapshot()
    with pytest.raises(OverflowError):
        t.record(1)
    assert t.snapshot() == before
    assert t.events_processed() == INT64_MAX
    t.record(0)  # a sample without events still fits
    assert t.sample_count() == 2


def test_a_failing_clock_changes_nothing() -> None:
    calls = iter([0])

    def clock() -> int:
        return next(calls)  # StopIteration after the constructor's read

    t = ThroughputMetric(clock=clock)
    with pytest.raises(StopIteration):
        t.record(5)
    assert (t.events_processed(), t.sample_count()) == (0, 0)
    with pytest.raises(TypeError):
        ThroughputMetric(clock=lambda: 1.5)  # type: ignore[arg-type,return-value]


# ---- the window: exact numbers from a fake clock -----------------------------


def test_denominator_grows_from_resolution_to_window() -> None:
    clock = FakeClock(now=100 * S)
    t = ThroughputMetric(10, 1, clock=clock)
    t.record(30)
    assert t.throughput() == 30 / 1  # elapsed 0 s: at least one resolution
    clock.now += S // 2
    assert t.throughput() == 30 / 1  # elapsed 0.5 s
    clock.now += 2 * S
    assert t.throughput() == 30 / 2.5  # elapsed 2.5 s
    clock.now += 7 * S
    assert t.throughput() == 30 / 9.5  # elapsed 9.5 s, slot 100 still in the window
    clock.now += S // 2
    assert t.throughput() == 0.0  # elapsed 10 s: slot 100 left (slots 101..110)
    assert t.peak_throughput() == 30.0


def test_slot_boundaries_are_multiples_of_the_resolution() -> None:
    clock = FakeClock(now=1_900_000_000)  # 1.9 s: inside slot [1, 2)
    t = ThroughputMetric(4, 1, clock=clock)
    t.record(3)
    clock.now = 2_000_000_000  # a new slot starts at exactly 2 s, not 2.9 s
    t.record(5)
    assert t.peak_throughput() == 5.0  # two slots: 3 and 5, not one of 8
    clock.now = 4_999_999_999  # slots 1..4: both still in
    assert t.throughput() == 8 / ((4_999_999_999 - 1_900_000_000) / S)
    clock.now = 5_000_000_000  # slots 2..5: slot 1 left
    assert t.throughput() == 5 / 3.1
    clock.now = 6_000_000_000
    assert t.throughput() == 0.0


def test_fractional_resolution_and_peak_per_second() -> None:
    clock = FakeClock()
    t = ThroughputMetric(1, 0.25, clock=clock)
    for ms, n in [(0, 1), (100, 2), (250, 4), (600, 1), (900, 3)]:
        clock.now = ms * 1_000_000
        t.record(n)
    # slots [0,.25)=3, [.25,.5)=4, [.5,.75)=1, [.75,1)=3
    assert t.peak_throughput() == 4 / 0.25
    assert t.throughput() == 11 / 0.9
    clock.now = 1_300_000_000  # slots 2..5 of 0.25 s: [.5,1.5): 1 + 3
    assert t.throughput() == 4 / 1.0


def test_rotation_over_many_laps_keeps_the_peak() -> None:
    clock = FakeClock()
    t = ThroughputMetric(3, 1, clock=clock)
    model = Model(3 * S, S, None, 0)
    for second in range(20):
        clock.now = second * S + 123
        events = 100 if second == 4 else second % 5
        t.record(events)
        model.record(events, None, clock.now)
        assert t._read() == model.read(clock.now)
    assert t.peak_throughput() == 100.0  # slot 4 left the ring long ago


def test_idle_for_exactly_a_tag_period_sees_no_stale_slot() -> None:
    # Slot tags are laps mod 2**24: after exactly 2**24 windows the old slot
    # has the current tag again; the LAST word keeps it out of the window.
    clock = FakeClock()
    t = ThroughputMetric(2, 1, clock=clock)
    t.record(5)
    clock.now = 2**24 * 2 * S
    assert t.throughput() == 0.0
    t.record(1)
    assert t.throughput() == 1 / 2
    assert t.peak_throughput() == 5.0


def test_reset_zeroes_everything_and_restarts_the_elapsed_time() -> None:
    clock = FakeClock()
    t = ThroughputMetric(10, 1, sla_ns=0, clock=clock)
    t.record(50, 1)
    clock.now = 20 * S
    t.record(7, 1)
    assert t.reset() is None
    assert t.snapshot() == ThroughputSnapshot(0, 0, 0, 0.0, 0.0, 0.0)
    clock.now += 2 * S
    t.record(6)
    assert t.throughput() == 6 / 2  # elapsed since the reset, not since creation
    assert t.peak_throughput() == 6.0


def test_a_clock_running_backwards_loses_no_event() -> None:
    clock = FakeClock(now=50 * S)
    t = ThroughputMetric(5, 1, clock=clock)
    t.record(2)
    clock.now = 40 * S  # a whole window back: counted in the newer slot
    t.record(3)
    assert t.events_processed() == 5
    clock.now = 50 * S
    assert t.throughput() == 5 / 1


ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 4 * S)),
        st.tuples(st.just("advance"), st.sampled_from([1, S - 1, S, 10**12])),
        st.tuples(st.just("record"), st.integers(0, 1_000), st.none() | st.integers(0, 2_000)),
        st.tuples(st.just("read")),
        st.tuples(st.just("reset")),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 6),
    resolution_s=st.sampled_from([0.001, 0.25, 1.0, 1.5]),
    sla_ns=st.none() | st.integers(0, 2_000),
    start=st.integers(-(10**15), 10**15),
    program=ops,
)
def test_equivalent_to_the_model(
    n: int, resolution_s: float, sla_ns: int | None, start: int, program: list[tuple[Any, ...]]
) -> None:
    clock = FakeClock(now=start)
    t = ThroughputMetric(n * resolution_s, resolution_s, sla_ns, clock)
    res_ns = round(resolution_s * S)
    model = Model(n * res_ns, res_ns, sla_ns, start)
    for op in program:
        if op[0] == "advance":
            clock.now += op[1]
        elif op[0] == "record":
            t.record(op[1], op[2])
            model.record(op[1], op[2], clock.now)
        elif op[0] == "reset":
            t.reset()
            model.reset(clock.now)
        assert t._read() == model.read(clock.now), op


# ---- the native clock ------------------------------------------------------


@pytest.mark.parametrize("explicit", [False, True])
def test_monotonic_clock_is_read_in_c(explicit: bool) -> None:
    t = ThroughputMetric(60, 60, clock=time.monotonic_ns) if explicit else ThroughputMetric(60, 60)
    t.record(6)
    assert t.throughput() == 6 / 60  # one 60 s slot, less than 60 s elapsed
    assert t.peak_throughput() == 6 / 60


# ---- arena storage -----------------------------------------------------------


def test_arena_storage_is_shared_and_the_first_attach_starts_the_clock() -> None:
    m = mmap.mmap(-1, mmap.PAGESIZE)
    view = memoryview(m)
    nbytes = ThroughputMetric._cell_bytes(4, 1)
    assert nbytes == (9 + 4) * 8
    clock = FakeClock(now=5 * S)
    a = ThroughputMetric._from_buffer(view, 64, 4, 1, 10, clock)
    assert isinstance(a, ThroughputMetric)
    clock.now = 7 * S
    b = ThroughputMetric._from_buffer(view, 64, 4, 1, 10, clock)
    a.record(3, 11)
    b.record(2, 9)
    clock.now = 7 * S + S // 2
    assert a.snapshot() == b.snapshot() == ThroughputSnapshot(5, 2, 1, 0.5, 5 / 2.5, 5.0)
    assert m[:64] == bytes(64)
    assert m[64 + nbytes :] == bytes(mmap.PAGESIZE - 64 - nbytes)
    with pytest.raises(ValueError, match="aligned"):
        ThroughputMetric._from_buffer(view, mmap.PAGESIZE - 64, 4, 1, None, clock)
    with pytest.raises(ValueError, match="multiple"):
        ThroughputMetric._cell_bytes(4, 3)
    view.release()
    with pytest.raises(BufferError):
        m.close()
    del a, b
    m.close()


def test_size_counts_the_owned_ring_only() -> None:
    small, big = ThroughputMetric(1, 1), ThroughputMetric(1000, 1)
    assert sys.getsizeof(big) - sys.getsizeof(small) == 999 * 8
    view = memoryview(bytearray(ThroughputMetric._cell_bytes(1000, 1)))
    shared = ThroughputMetric._from_buffer(view, 0, 1000, 1, None, time.monotonic_ns)
    assert sys.getsizeof(shared) < sys.getsizeof(small)  # the arena holds its words


# ---- references --------------------------------------------------------------


def test_no_reference_leaks() -> None:
    clock = FakeClock()
    t = ThroughputMetric(sla_ns=10, clock=clock)
    big, lat = 2**40, 2**41
    big_refs, lat_refs, clock_refs = (
        sys.getrefcount(big),
        sys.getrefcount(lat),
        sys.getrefcount(clock),
    )
    for _ in range(1000):
        t.record(big, lat)
        t.record(events=big, latency_ns=lat)
        t.snapshot()
        with pytest.raises(ValueError, match="events"):
            t.record(-big)
    assert sys.getrefcount(big) == big_refs
    assert sys.getrefcount(lat) == lat_refs
    assert sys.getrefcount(clock) == clock_refs
    del t
    assert sys.getrefcount(clock) == clock_refs - 1


def test_a_clock_cycle_is_collected() -> None:
    class Holder:
        def __init__(self) -> None:
            self.metric = ThroughputMetric(clock=self.clock)

        def clock(self) -> int:
            return 0

    h = Holder()
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None


# ---- races -------------------------------------------------------------------


def test_concurrent_records_in_one_slot_are_exact(switch_fast: object) -> None:
    clock = FakeClock(now=3 * S)
    t = ThroughputMetric(10, 1, sla_ns=4, clock=clock)  # latencies 5..9 of 0..9 violate
    n = 5_000

    def work(i: int) -> None:
        record = t.record
        for k in range(n):
            record(i + 1, k % 10)

    run_threads(THREADS, work)
    events = n * THREADS * (THREADS + 1) // 2
    assert t.snapshot() == ThroughputSnapshot(
        events, THREADS * n, THREADS * n // 2, 0.5, events / 1.0, events / 1.0
    )


def test_invariants_hold_while_writers_rotate_the_ring(switch_fast: object) -> None:
    # Every clock read moves time 1 µs on; slots are 100 µs wide and the
    # window holds 100k of them, so the ring never wraps: at the end the
    # window holds every event, exactly.
    clock = FakeClock(step=1_000)
    t = ThroughputMetric(10, 0.0001, sla_ns=50, clock=clock)
    n = 3_000
    done = threading.Event()

    def work(i: int) -> list[str]:
        if i == 0:  # the reader
            bad: list[str] = []
            last = (0, 0, 0, 0.0)
            while not done.is_set():
                s = t.snapshot()
                if s.sla_violations > s.sample_count or not 0.0 <= s.sla_violation_rate <= 1.0:
                    bad.append(f"violations {s}")
                if s.throughput * 0.0001 > s.events_processed * (1 + 1e-9):
                    bad.append(f"window above total {s}")
                if s.peak_throughput * 0.0001 > s.events_processed * (1 + 1e-9):
                    bad.append(f"peak above total {s}")
                now = (s.events_processed, s.sample_count, s.sla_violations, s.peak_throughput)
                if any(b < a for a, b in zip(last, now, strict=True)):
                    bad.append(f"went backwards {last} -> {now}")
                last = now
            return bad
        try:
            for k in range(n):
                t.record(i, k % 100)
        finally:
            if i == THREADS - 1:
                done.set()
        return []

    results = run_threads(THREADS, work)
    assert [b for r in results for b in r] == []  # type: ignore[attr-defined]
    events = n * THREADS * (THREADS - 1) // 2
    samples = n * (THREADS - 1)
    clock.step = 0
    snap = t.snapshot()
    elapsed = clock.now / S
    assert snap.events_processed == events
    assert snap.sample_count == samples
    assert snap.sla_violations == samples * 49 // 100
    assert snap.throughput == events / max(0.0001, elapsed)
