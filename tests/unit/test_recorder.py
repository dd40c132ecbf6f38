"""The recorders and the C ring under them: contract, races, fork."""

from __future__ import annotations

import collections
import gc
import logging
import os
import re
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import (
    AsyncMetricRecorder,
    AsyncMetricsConfig,
    AtomicCounter,
    MetricsConfig,
    MetricsLevel,
    NullRecorder,
    RecorderStats,
    SyncRecorder,
    make_recorder,
)
from atomicmetrics._core import Ring
from atomicmetrics.samples import Collector
from tests.helpers import THREADS, run_threads

FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


@pytest.fixture
def make() -> Iterator[Callable[..., AsyncMetricRecorder]]:
    """Build recorders from AsyncMetricsConfig keywords; all closed at teardown."""
    made: list[AsyncMetricRecorder] = []

    def build(**kw: Any) -> AsyncMetricRecorder:
        kw.setdefault("flush_timeout_s", 2.0)
        r = AsyncMetricRecorder(AsyncMetricsConfig(**kw))
        made.append(r)
        return r

    yield build
    for r in made:
        r.close()


class Gate:
    """A call that blocks a worker until opened (to fill the ring on purpose)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        assert self.opened.wait(10)


def stuck_recorder(
    make: Callable[..., AsyncMetricRecorder], **kw: Any
) -> tuple[AsyncMetricRecorder, Gate]:
    """A one-worker recorder whose worker is held inside a Gate call."""
    r = make(worker_count=1, batch_size=1, **kw)
    gate = Gate()
    assert r.record(gate) is True
    assert gate.entered.wait(5)
    return r, gate


# ---- the C ring -------------------------------------------------------------


def test_ring_fifo_and_argument_shapes() -> None:
    ring = Ring(8)
    calls: list[tuple[Callable[..., object], tuple[object, ...]]] = [
        (print, ()),
        (print, (1,)),
        (print, (1, "a")),
        (print, (1, 2, 3)),
        (print, tuple(range(9))),
    ]
    for fn, args in calls:
        assert ring.record(fn, *args) is True
    assert len(ring) == 5
    assert ring.pop_batch(3) == calls[:3]
    assert ring.pop_batch(100) == calls[3:]
    assert ring.pop_batch(1) == []
    assert len(ring) == 0


def test_ring_full_then_room_again() -> None:
    ring = Ring(3)
    assert ring.capacity == 3
    assert [ring.record(print, i) for i in range(5)] == [True, True, True, False, False]
    assert ring.try_push(print) is False
    assert ring.counts()[:5] == (3, 0, 2, 0, 3)  # try_push counts nothing
    assert ring.pop_batch(1) == [(print, (0,))]
    assert ring.try_push(print, 9) is True
    assert [args for _, args in ring.pop_batch(9)] == [(1,), (2,), (9,)]


def test_ring_on_full_answers_a_full_record() -> None:
    seen: list[tuple[object, ...]] = []

    def on_full(*args: object) -> bool:
        seen.append(args)
        return True

    ring = Ring(1, None, on_full)
    assert ring.record(print, 1) is True
    assert seen == []
    assert ring.record(print, 2, 3) is True  # on_full's answer
    assert seen == [(print, 2, 3)]
    assert ring.counts()[:3] == (1, 0, 0)  # on_full decides what to count
    ring.close()
    assert ring.record(print) is False  # closed: counted, on_full not asked
    assert ring.counts()[2] == 1
    assert len(seen) == 1


def test_ring_capacity_one() -> None:
    ring = Ring(1)
    assert ring.record(print, 1) is True
    assert ring.record(print, 2) is False
    assert ring.pop_batch(5) == [(print, (1,))]
    assert ring.record(print, 3) is True
    assert len(ring) == 1


@pytest.mark.parametrize("bad", [0, -1, 2**32 + 1])
def test_ring_capacity_bounds(bad: int) -> None:
    with pytest.raises(ValueError, match="capacity"):
        Ring(bad)


def test_ring_argument_errors_change_nothing() -> None:
    ring = Ring(4)
    with pytest.raises(TypeError):
        ring.record()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="callable"):
        ring.record(42, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.try_push("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.pop_batch(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max"):
        ring.pop_batch(0)
    with pytest.raises(TypeError, match="failures"):
        ring.apply_batch(1, ())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Ring(4, wake=3)  # type: ignore[arg-type]
    assert ring.counts() == (0, 0, 0, 0, 0, 0)


def test_ring_apply_batch_counts_and_reports_failures() -> None:
    ring = Ring(16)
    seen: list[int] = []

    def boom(x: int) -> None:
        raise KeyError(x)

    for i in range(5):
        ring.record(seen.append, i)
    ring.record(boom, 7)
    ring.record(seen.append, 5)
    failures: list[tuple[Callable[..., object], BaseException]] = []
    assert ring.apply_batch(4, failures) == 4
    assert ring.apply_batch(100, failures) == 3
    assert ring.apply_batch(100, failures) == 0
    assert seen == [0, 1, 2, 3, 4, 5]
    assert len(failures) == 1
    fn, exc = failures[0]
    assert fn is boom
    assert isinstance(exc, KeyError)
    assert exc.__traceback__ is not None
    assert ring.counts()[:5] == (7, 7, 0, 1, 0)


def test_ring_apply_batch_stops_after_a_call_that_forked() -> None:
    """What the child of a forking call sees, without a fork: the recorder's
    fork hook (reset_after_fork) runs inside a call; the rest of the batch is
    the parent's and is released unapplied, and nothing is counted."""
    ring = Ring(16)
    seen: list[int] = []
    arg = object()
    before = sys.getrefcount(arg)
    for i in range(3):
        ring.record(seen.append, i)
    ring.record(ring.reset_after_fork)
    for i in range(3, 6):
        ring.record(seen.append, i)
        ring.record(id, arg)
    failures: list[tuple[Callable[..., object], BaseException]] = []
    assert ring.apply_batch(100, failures) == -1
    assert seen == [0, 1, 2]
    assert ring.counts() == (0, 0, 0, 0, 0, 0)
    assert sys.getrefcount(arg) == before  # released, not leaked
    ring.park_end()  # the phantom sleeper of the reset
    assert ring.record(seen.append, 9) is True
    assert ring.apply_batch(100, failures) == 1  # a fresh start
    assert seen == [0, 1, 2, 9]


def test_ring_close_refuses_and_counts() -> None:
    ring = Ring(4)
    ring.record(print)
    assert ring.closed is False
    assert ring.close() == 1
    assert ring.closed is True
    assert ring.close() == 1
    assert ring.record(print) is False
    assert ring.try_push(print) is False
    assert ring.counts()[:3] == (1, 0, 1)
    assert ring.pop_batch(4) == [(print, ())]  # what was accepted can still be taken


def test_ring_oldest_age() -> None:
    ring = Ring(4)
    assert ring.counts()[5] == 0
    ring.record(print)
    time.sleep(0.02)
    ring.record(print)
    age_ns = ring.counts()[5]
    assert 15e6 < age_ns < 10e9
    ring.pop_batch(1)
    assert ring.counts()[5] < age_ns
    ring.pop_batch(1)
    assert ring.counts()[5] == 0


def test_ring_wake_is_called_only_for_a_parked_consumer() -> None:
    wakes = AtomicCounter()
    ring = Ring(8, wakes.inc)
    ring.record(print)
    assert wakes.load() == 0  # nobody parked
    ring.pop_batch(8)
    assert ring.park_begin() is True  # empty: would wait
    ring.record(print)
    ring.record(print)
    assert wakes.load() == 1  # one wake per parking episode
    ring.park_end()
    assert ring.park_begin() is False  # work is there: would not wait
    ring.park_end()


def test_ring_releases_references() -> None:
    arg = object()
    before = sys.getrefcount(arg)
    ring = Ring(64)
    for _ in range(10):
        ring.record(print, arg)
        ring.record(print, arg, arg, arg)
    assert sys.getrefcount(arg) == before + 40
    ring.pop_batch(4)
    ring.apply_batch(4, [])  # print(arg) to a closed stdout would raise: fine either way
    del ring
    assert sys.getrefcount(arg) == before


def test_ring_gc_collects_cycles_through_queued_calls() -> None:
    class Holder:
        ring: Ring

    h = Holder()
    h.ring = Ring(4)
    h.ring.record(print, h)  # h -> ring -> queued call -> h
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("record"), st.integers(0, 4)),
        st.tuples(st.just("try_push"), st.integers(0, 4)),
        st.tuples(st.just("pop"), st.integers(1, 6)),
        st.tuples(st.just("apply"), st.integers(1, 6)),
        st.tuples(st.just("close"), st.just(0)),
    ),
    max_size=60,
)


@given(capacity=st.integers(1, 5), ops=OPS)
def test_ring_equals_a_bounded_deque(capacity: int, ops: list[tuple[str, int]]) -> None:
    """Single-threaded, the ring is a bounded FIFO: a deque model answers
    every operation and every count identically."""
    ring = Ring(capacity)
    model: collections.deque[tuple[object, ...]] = collections.deque()
    closed = False
    enqueued = dropped = processed = 0
    applied: list[tuple[object, ...]] = []
    for serial, (op, k) in enumerate(ops):
        if op in ("record", "try_push"):
            args = tuple(range(serial, serial + k))
            fits = not closed and len(model) < capacity
            assert getattr(ring, op)(_Sink(applied), *args) is fits
            if fits:
                model.append(args)
                enqueued += 1
            elif op == "record":
                dropped += 1
        elif op == "pop":
            got = [args for _, args in ring.pop_batch(k)]
            assert got == [model.popleft() for _ in range(min(k, len(model)))]
        elif op == "apply":
            expected = [model.popleft() for _ in range(min(k, len(model)))]
            before = len(applied)
            assert ring.apply_batch(k, []) == len(expected)
            assert applied[before:] == expected
            processed += len(expected)
        else:
            assert ring.close() == enqueued
            closed = True
        assert ring.closed is closed
        assert len(ring) == len(model)
        assert ring.counts()[:5] == (enqueued, processed, dropped, 0, len(model))


class _Sink:
    """A callable that appends its arguments, as one tuple, to a list."""

    def __init__(self, out: list[tuple[object, ...]]) -> None:
        self.out = out

    def __call__(self, *args: object) -> None:
        self.out.append(args)


@pytest.mark.usefixtures("switch_fast")
def test_ring_no_loss_under_concurrent_producers_and_consumers() -> None:
    ring = Ring(64)
    per_thread = 5_000
    producers = THREADS // 2
    pushed = [0] * producers
    finished = AtomicCounter()
    taken = AtomicCounter()
    seen: list[list[tuple[object, ...]]] = [[] for _ in range(THREADS)]

    def body(i: int) -> None:
        if i < producers:
            for n in range(per_thread):
                pushed[i] += ring.record(print, i, n)
            finished.inc()
            return
        while True:
            done = finished.load() == producers  # read before the last pop
            got = ring.pop_batch(16)
            taken.add(len(got))
            seen[i].extend(args for _, args in got)
            if not got and done:
                return

    run_threads(THREADS, body)
    enqueued, _, dropped, *_ = ring.counts()
    assert enqueued + dropped == producers * per_thread
    assert enqueued == sum(pushed) == taken.load()
    everything = [args for per in seen for args in per]
    assert len(set(everything)) == len(everything)  # nothing taken twice
    for per in seen:  # one consumer sees each producer's calls in order
        for i in range(producers):
            mine = [n for p, n in per if p == i]  # type: ignore[misc]
            assert mine == sorted(mine)


# ---- AsyncMetricRecorder: the contract ---------------------------------------


def test_record_applies_and_flush_waits(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make()
    c = AtomicCounter()
    assert all(r.record(c.add, 2) for _ in range(1000))
    assert r.flush() is True
    assert c.load() == 2000
    s = r.stats()
    assert s == RecorderStats(
        enqueued=1000,
        processed=1000,
        dropped=0,
        failed=0,
        queue_length=0,
        capacity=10_000,
        utilization=0.0,
        oldest_age_s=0.0,
    )


def test_default_config() -> None:
    with AsyncMetricRecorder() as r:
        assert r.config == AsyncMetricsConfig()
        assert r.stats().capacity == 10_000
    with pytest.raises(TypeError):
        AsyncMetricRecorder(MetricsConfig())  # type: ignore[arg-type]


def test_record_argument_shapes(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make()
    got: list[tuple[object, ...]] = []

    def fn(*args: object) -> None:
        got.append(args)

    shapes = [(), (1,), (1, 2), (1, 2, 3), tuple(range(10))]
    for args in shapes:
        r.record(fn, *args)
    assert r.flush(5)
    assert sorted(got, key=len) == shapes


def test_record_non_callable_raises_and_counts_nothing(
    make: Callable[..., AsyncMetricRecorder],
) -> None:
    r = make()
    with pytest.raises(TypeError):
        r.record(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        r.record()  # type: ignore[call-arg]
    s = r.stats()
    assert (s.enqueued, s.dropped) == (0, 0)


def test_full_ring_drops_and_counts(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make, buffer_size=4)
    c = AtomicCounter()
    results = [r.record(c.inc) for _ in range(10)]
    assert results == [True] * 4 + [False] * 6
    s = r.stats()
    assert (s.enqueued, s.dropped, s.queue_length, s.capacity) == (5, 6, 4, 4)
    assert s.utilization == 1.0
    gate.opened.set()
    assert r.flush(5)
    assert c.load() == 4
    s = r.stats()
    assert (s.processed, s.enqueued, s.queue_length, s.utilization) == (5, 5, 0, 0.0)


def test_stats_while_stuck(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make, buffer_size=10)
    for _ in range(3):
        r.record(print)
    time.sleep(0.02)
    s = r.stats()
    assert s.queue_length == 3
    assert s.utilization == pytest.approx(0.3)
    assert 0.015 < s.oldest_age_s < 10
    assert (s.enqueued, s.processed) == (4, 0)  # the gate call is taken, not applied
    gate.opened.set()
    r.close()  # drains: nothing queued may be lost
    assert r.stats().processed == 4


def test_flush_times_out_on_a_slow_call(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make)
    t0 = time.monotonic()
    assert r.flush(0.1) is False
    assert 0.09 < time.monotonic() - t0 < 5
    assert r.flush(0) is False
    gate.opened.set()
    assert r.flush(5) is True
    assert r.stats().processed == r.stats().enqueued == 1


def test_flush_waits_for_calls_in_flight_on_every_worker(
    make: Callable[..., AsyncMetricRecorder],
) -> None:
    """Calls taken by a worker but not yet applied are waited for, even when
    another worker has already applied later calls."""
    r = make(worker_count=2, batch_size=1)
    gate = Gate()
    c = AtomicCounter()
    r.record(gate)
    assert gate.entered.wait(5)
    for _ in range(50):
        r.record(c.inc)
    assert r.flush(0.2) is False  # the gate call is still running
    assert c.load() == 50  # the other worker applied the rest
    gate.opened.set()
    assert r.flush(5) is True


def test_flush_empty_and_none(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make()
    assert r.flush(0) is True
    assert r.flush() is True
    r.record(time.sleep, 0.05)
    assert r.flush(None) is True


@pytest.mark.parametrize(
    ("bad", "exc"),
    [(-1, ValueError), (float("nan"), ValueError), ("1", TypeError), (True, TypeError)],
)
def test_flush_rejects_bad_timeouts(
    make: Callable[..., AsyncMetricRecorder], bad: object, exc: type[Exception]
) -> None:
    r = make()
    with pytest.raises(exc):
        r.flush(bad)  # type: ignore[arg-type]


def test_failure_is_counted_logged_and_does_not_stop_the_worker(
    make: Callable[..., AsyncMetricRecorder], caplog: pytest.LogCaptureFixture
) -> None:
    r = make(worker_count=1)
    c = AtomicCounter()

    def boom() -> None:
        raise RuntimeError("bad metric")

    with caplog.at_level(logging.WARNING, logger="atomicmetrics"):
        r.record(boom)
        assert r.flush(5)
        r.record(c.inc)
        assert r.flush(5)
    assert c.load() == 1
    s = r.stats()
    assert (s.failed, s.processed, s.enqueued) == (1, 2, 2)
    records = [rec for rec in caplog.records if rec.name == "atomicmetrics"]
    assert len(records) == 1
    assert records[0].levelno >= logging.WARNING
    assert "RuntimeError" in records[0].getMessage()
    assert "bad metric" in records[0].getMessage()
    assert records[0].exc_info is not None


def test_failures_are_rate_limited_but_all_counted(
    make: Callable[..., AsyncMetricRecorder], caplog: pytest.LogCaptureFixture
) -> None:
    r = make(worker_count=2)

    def boom() -> None:
        raise ValueError("x")

    with caplog.at_level(logging.WARNING, logger="atomicmetrics"):
        for _ in range(500):
            r.record(boom)
        assert r.flush(5)
        r.close()
    assert r.stats().failed == 500
    records = [rec for rec in caplog.records if rec.name == "atomicmetrics"]
    assert 1 <= len(records) <= 4  # first failure, maybe one per second, summary
    reported = 0
    for rec in records:
        msg = rec.getMessage()
        reported += "raised ValueError" in msg
        reported += sum(int(n) for n in re.findall(r"\(and (\d+) more", msg))
        reported += sum(int(n) for n in re.findall(r": (\d+) more recorded calls raised", msg))
    assert reported == 500  # every failure is in some record


def test_close_drains_joins_and_refuses(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make(worker_count=2, batch_size=8)
    c = AtomicCounter()
    for _ in range(5000):
        r.record(c.inc)
    r.close()
    assert c.load() == 5000
    s = r.stats()
    assert s.processed == s.enqueued == 5000
    assert r.record(c.inc) is False
    assert r.flush(0) is True
    assert c.load() == 5000
    assert r.stats().dropped == 1
    r.close()  # idempotent


def test_close_joins_the_workers() -> None:
    before = {t.ident for t in threading.enumerate()}
    r = AsyncMetricRecorder(AsyncMetricsConfig(worker_count=3))
    workers = [t for t in threading.enumerate() if t.ident not in before]
    assert len(workers) == 3
    assert all(t.daemon and t.name.startswith("atomicmetrics-recorder") for t in workers)
    r.close()
    assert not any(t.is_alive() for t in workers)


def test_context_manager_closes() -> None:
    c = AtomicCounter()
    with AsyncMetricRecorder() as r:
        r.record(c.inc)
    assert c.load() == 1
    assert r.record(c.inc) is False


def test_close_bounded_by_flush_timeout(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make, flush_timeout_s=0.1)
    t0 = time.monotonic()
    r.close()
    assert time.monotonic() - t0 < 5
    gate.opened.set()
    assert r.flush(5)  # the worker finished in the background


def test_worker_wakes_promptly_after_idling(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make(worker_count=2)
    for _ in range(3):
        time.sleep(0.05)  # let the workers park
        done = threading.Event()
        t0 = time.monotonic()
        r.record(done.set)
        assert done.wait(5)
        assert time.monotonic() - t0 < 0.5  # woken, not found by a 1 s re-check


def test_blocking_mode_waits_for_room(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make, buffer_size=2, drop_on_overflow=False)
    c = AtomicCounter()
    r.record(c.inc)
    r.record(c.inc)
    finished = threading.Event()

    def producer() -> None:
        assert r.record(c.inc) is True
        finished.set()

    threading.Thread(target=producer).start()
    assert not finished.wait(0.1)  # blocked: the ring is full
    gate.opened.set()
    assert finished.wait(5)
    assert r.flush(5)
    assert c.load() == 3
    assert r.stats().dropped == 0


def test_blocking_producer_released_by_close(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make, buffer_size=1, drop_on_overflow=False, flush_timeout_s=0.05)
    r.record(print)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(r.record(print)))
    t.start()
    time.sleep(0.05)
    r.close()
    t.join(5)
    assert result == [False]
    assert r.stats().dropped == 1
    gate.opened.set()


def test_blocking_mode_loses_nothing(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make(buffer_size=8, worker_count=2, batch_size=4, drop_on_overflow=False)
    c = AtomicCounter()
    run_threads(4, lambda i: [r.record(c.inc) for _ in range(2000)])
    assert r.flush(10)
    assert c.load() == 8000
    assert r.stats().dropped == 0


def no_loss_with_drops(make: Callable[..., AsyncMetricRecorder], per_thread: int) -> None:
    """4 producers, drops happening, a reader checking invariants, and close()
    racing the producers: every call applied exactly once or counted dropped."""
    r = make(buffer_size=32, worker_count=2, batch_size=8)
    applied = AtomicCounter()
    producers = 4
    accepted = [0] * producers
    calls = [0] * producers
    stop_reader = threading.Event()

    def body(i: int) -> None:
        if i < producers:
            ok = 0
            for n in range(per_thread):
                ok += r.record(applied.add, 1)
                calls[i] = n + 1
            accepted[i] = ok
        elif i == producers:
            while not stop_reader.is_set():
                s = r.stats()
                assert s.processed <= s.enqueued
                assert 0 <= s.queue_length <= s.capacity
                assert 0.0 <= s.utilization <= 1.0
        else:
            while sum(calls) < producers * per_thread // 2:
                time.sleep(0.0005)
            r.close()  # while producers still record
            stop_reader.set()

    run_threads(producers + 2, body)
    r.close()
    s = r.stats()
    assert s.enqueued + s.dropped == producers * per_thread
    assert s.enqueued == sum(accepted) == applied.load() == s.processed
    assert s.dropped > 0
    assert s.queue_length == 0


def test_no_loss_under_producers_with_drops_and_racing_close(
    make: Callable[..., AsyncMetricRecorder],
) -> None:
    no_loss_with_drops(make, 5_000)


@pytest.mark.stress
def test_no_loss_stress(make: Callable[..., AsyncMetricRecorder]) -> None:
    """Bounded in the default run; ATOMICMETRICS_STRESS_ROUNDS=50 for a long one."""
    for _ in range(int(os.environ.get("ATOMICMETRICS_STRESS_ROUNDS", "2"))):
        no_loss_with_drops(make, 20_000)


def test_calls_release_their_references(make: Callable[..., AsyncMetricRecorder]) -> None:
    r = make()
    arg = object()
    before = sys.getrefcount(arg)
    for _ in range(100):
        r.record(id, arg)
        r.record(lambda *a: None, arg, arg, arg)
    assert r.flush(5)
    assert sys.getrefcount(arg) == before


def test_recorder_is_collected_after_close() -> None:
    r = AsyncMetricRecorder(AsyncMetricsConfig(worker_count=1))
    r.record(int)
    r.close()
    ref = weakref.ref(r)
    del r
    gc.collect()
    assert ref() is None


def test_collect_exposes_the_stats(make: Callable[..., AsyncMetricRecorder]) -> None:
    r, gate = stuck_recorder(make, buffer_size=4)
    for _ in range(6):
        r.record(print)
    assert isinstance(r, Collector)
    families = {f.name: f for f in r.collect()}
    expected_types = {
        "atomicmetrics_recorder_enqueued": "counter",
        "atomicmetrics_recorder_processed": "counter",
        "atomicmetrics_recorder_dropped": "counter",
        "atomicmetrics_recorder_failed": "counter",
        "atomicmetrics_recorder_queue_length": "gauge",
        "atomicmetrics_recorder_capacity": "gauge",
        "atomicmetrics_recorder_utilization": "gauge",
        "atomicmetrics_recorder_oldest_age_seconds": "gauge",
    }
    assert {n: f.type for n, f in families.items()} == expected_types
    values = {s.name: s.value for f in families.values() for s in f.samples}
    assert values["atomicmetrics_recorder_enqueued_total"] == 5
    assert values["atomicmetrics_recorder_dropped_total"] == 2
    assert values["atomicmetrics_recorder_queue_length"] == 4
    assert values["atomicmetrics_recorder_capacity"] == 4
    assert values["atomicmetrics_recorder_utilization"] == 1.0
    assert values["atomicmetrics_recorder_oldest_age_seconds"] >= 0.0
    assert all(f.help for f in families.values())
    gate.opened.set()


# ---- fork and interpreter exit -----------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings(FORK_WARNING)
def test_fork_child_gets_a_fresh_working_recorder(
    make: Callable[..., AsyncMetricRecorder],
) -> None:
    r, gate = stuck_recorder(make, buffer_size=8)
    c = AtomicCounter()
    for _ in range(3):
        r.record(c.inc)  # queued behind the gate at fork time
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            s0 = r.stats()
            ok = [r.record(c.add, 10) for _ in range(5)]
            flushed = r.flush(5)
            s1 = r.stats()
            r.close()
            report = f"{s0.enqueued},{s0.queue_length},{all(ok)},{flushed},{c.load()},"
            report += f"{s1.enqueued},{s1.processed}"
            os.write(write_fd, report.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    report = os.read(read_fd, 1000).decode()
    os.close(read_fd)
    assert os.waitstatus_to_exitcode(status) == 0
    # The child started empty, applied its own 5 calls only (the parent's 3
    # queued ones are the parent's), and its workers started on demand.
    assert report == "0,0,True,True,50,5,5"
    gate.opened.set()
    assert r.flush(5)
    assert c.load() == 3  # the parent applied its own calls, once


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings(FORK_WARNING)
def test_fork_child_of_a_closed_recorder_stays_closed(
    make: Callable[..., AsyncMetricRecorder],
) -> None:
    r = make()
    r.close()
    pid = os.fork()
    if pid == 0:
        os._exit(0 if r.record(print) is False and r.flush(1) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_interpreter_exit_drains_open_recorders() -> None:
    script = """
import atexit
box = []
# registered first, so it runs after the recorder's own exit hook
atexit.register(lambda: print(box[0].load(), box[1].stats().enqueued))
import atomicmetrics as am
c = am.AtomicCounter()
r = am.AsyncMetricRecorder(am.AsyncMetricsConfig(buffer_size=50_000, worker_count=1))
box[:] = [c, r]
for _ in range(20000):
    r.record(c.inc)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    applied, enqueued = map(int, out.stdout.split())
    assert applied == enqueued == 20000


# ---- SyncRecorder, NullRecorder, make_recorder -------------------------------


def test_sync_recorder_applies_in_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    r = SyncRecorder()
    threads: list[int] = []
    assert r.record(lambda: threads.append(threading.get_ident())) is True
    assert threads == [threading.get_ident()]

    def boom() -> None:
        raise OSError("disk")

    with caplog.at_level(logging.WARNING, logger="atomicmetrics"):
        assert r.record(boom) is True
    assert any("OSError" in rec.getMessage() for rec in caplog.records)
    assert r.flush() is True
    assert r.flush(0) is True
    with pytest.raises(TypeError):
        r.record(1)  # type: ignore[arg-type]
    with r:
        pass
    assert r.record(threads.clear) is False
    assert threads != []
    assert r.stats() == RecorderStats(2, 2, 1, 1, 0, 0, 0.0, 0.0)
    assert {f.name for f in r.collect()} >= {"atomicmetrics_recorder_enqueued"}


def test_sync_recorder_exact_under_threads() -> None:
    r = SyncRecorder()
    c = AtomicCounter()
    run_threads(THREADS, lambda i: [r.record(c.inc) for _ in range(2000)])
    assert c.load() == THREADS * 2000
    s = r.stats()
    assert s.enqueued == s.processed == THREADS * 2000


def test_null_recorder_does_nothing() -> None:
    r = NullRecorder()
    applied: list[int] = []
    assert r.record(applied.append, 1) is False
    assert r.record(applied.append) is False
    assert r.record() is False
    assert applied == []
    assert r.flush() is True
    assert r.flush(0.5) is True
    with r:
        pass
    assert r.stats() == RecorderStats(0, 0, 0, 0, 0, 0, 0.0, 0.0)
    assert len(list(r.collect())) == 8


@pytest.mark.parametrize(
    ("level", "cls"),
    [
        (MetricsLevel.OFF, NullRecorder),
        (MetricsLevel.BASIC, AsyncMetricRecorder),
        (MetricsLevel.STANDARD, AsyncMetricRecorder),
        (MetricsLevel.DEBUG, SyncRecorder),
    ],
)
def test_make_recorder_by_level(level: MetricsLevel, cls: type) -> None:
    am = AsyncMetricsConfig(buffer_size=123, worker_count=1)
    r = make_recorder(MetricsConfig(level=level, async_metrics=am))
    try:
        assert type(r) is cls
        if isinstance(r, AsyncMetricRecorder):
            assert r.config is am
            assert r.stats().capacity == 123
        c = AtomicCounter()
        result = r.record(c.inc)
        assert r.flush(5)
        assert (result, c.load()) == ((False, 0) if level is MetricsLevel.OFF else (True, 1))
    finally:
        r.close()


def test_make_recorder_needs_a_metrics_config() -> None:
    with pytest.raises(TypeError):
        make_recorder(AsyncMetricsConfig())  # type: ignore[arg-type]


def test_registered_recorder_is_exposed(make: Callable[..., AsyncMetricRecorder]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from atomicmetrics import Registry, generate_openmetrics, generate_text

    r = make(buffer_size=100)
    c = AtomicCounter()
    for _ in range(7):
        r.record(c.inc)
    assert r.flush(5)
    registry = Registry()
    registry.register(r)
    text = generate_text(registry).decode()
    parsed = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert parsed["atomicmetrics_recorder_enqueued_total"] == 7
    assert parsed["atomicmetrics_recorder_processed_total"] == 7
    assert parsed["atomicmetrics_recorder_dropped_total"] == 0
    assert parsed["atomicmetrics_recorder_capacity"] == 100
    assert parsed["atomicmetrics_recorder_oldest_age_seconds"] == 0.0
    assert "# TYPE atomicmetrics_recorder_queue_length gauge" in text
    assert generate_openmetrics(registry).endswith(b"# EOF\n")
