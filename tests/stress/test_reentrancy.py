"""Recording from signal handlers and GC callbacks never deadlocks and stays exact.

A Python signal handler runs in the main thread between two bytecodes of
whatever the main thread was doing, and a finalizer (``__del__``,
``weakref.finalize``) runs wherever the cyclic GC happens to start: both can
interrupt code that holds a lock and then try to take it again. With a plain
``threading.Lock`` that is a self-deadlock (prometheus_client's metrics take
such a lock on every ``inc``). Here the main thread records and creates label
children (which take the family's creation lock) while SIGALRM fires at a
high rate or the GC runs finalizers on every few allocations, and the
handlers record *and create children* themselves, while another thread
scrapes with ``generate_text``. Every test runs under a watchdog that aborts
the run with all stacks if it hangs; totals are compared exactly with the
number of handler invocations.
"""

from __future__ import annotations

import gc
import logging
import random
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atomicmetrics import (
    AsyncMetricRecorder,
    AsyncMetricsConfig,
    AtomicCounter,
    Registry,
    SyncRecorder,
    generate_openmetrics,
    generate_text,
)
from atomicmetrics.multiprocess import MultiProcessRegistry
from tests.helpers import CELLS, KINDS, Kind, scaled, watchdog

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="signal.setitimer is POSIX-only"
)

WATCHDOG_S = 60.0
# SIGALRM every 100 µs: far more often than a label child is created, so
# handlers land inside creations (the main thread does little else).
ALARM_S = 0.0001
# In a multi-process registry a creation links records in the arena (~0.2 ms
# on a loaded 2-core machine): an alarm every 100 µs would nest handlers
# without end; every 700 µs still lands them at random points inside.
ALARM_ARENA_S = 0.0007


def alarm_s(registry: Registry) -> float:
    return ALARM_ARENA_S if isinstance(registry, MultiProcessRegistry) else ALARM_S


class Scraper:
    """A thread that runs ``generate_text`` (and OpenMetrics) until stopped."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.stop = threading.Event()
        self.scrapes = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="scraper")

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                generate_text(self.registry)
                generate_openmetrics(self.registry)
                self.scrapes += 1
        except BaseException as e:  # reported by the test
            self.error = e

    def __enter__(self) -> Scraper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(WATCHDOG_S)
        assert not self.thread.is_alive(), "the scraper thread hung"
        if self.error is not None:
            raise self.error


class Alarm:
    """SIGALRM at ``interval_s`` (the first after ``first_s``, default
    ``interval_s``) running ``handler``; counts the invocations."""

    def __init__(
        self,
        handler: Callable[[int], None],
        interval_s: float = ALARM_S,
        first_s: float | None = None,
    ) -> None:
        self.handler = handler
        self.interval_s = interval_s
        self.first_s = interval_s if first_s is None else first_s
        self._calls = AtomicCounter()  # handlers nest: a plain += would lose counts

    @property
    def calls(self) -> int:
        return self._calls.load()

    def _on_alarm(self, signum: int, frame: object) -> None:
        self.handler(self._calls.fetch_add(1))

    def __enter__(self) -> Alarm:
        self._old = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.first_s, self.interval_s)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, self._old)


@pytest.fixture
def bounded() -> Iterator[None]:
    with watchdog(WATCHDOG_S):
        yield


@pytest.fixture(params=["in-process", "multi-process"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    """A plain registry, and one over a shared arena: its arena, storage and
    registry locks are taken by every creation and every scrape."""
    if request.param == "in-process":
        return Registry()
    return MultiProcessRegistry(tmp_path / "arena")


def _children(family: Any) -> int:
    return len(family._children)


@pytest.mark.stress
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_signal_handler_records_and_creates_children(
    kind: Kind, registry: Registry, bounded: None
) -> None:
    family = kind.make(registry, "sig_" + kind.name, ("k",))
    plain = kind.make(registry, "plain_" + kind.name, ())
    main_child = family.labels("main")
    iterations = scaled(1500)

    def handler(n: int) -> None:
        kind.record(family.labels("sig"))  # an existing child after the first call
        kind.record(family.labels(f"s{n}"))  # a new child: takes the creation lock
        kind.record(plain)

    with Scraper(registry) as scraper, Alarm(handler, alarm_s(registry)) as alarm:
        for i in range(iterations):
            kind.record(family.labels(f"m{i}"))  # creation, the lock held in between
            kind.record(main_child)
            kind.record(plain)
    calls = alarm.calls
    assert calls > 0, "SIGALRM never fired"
    assert scraper.scrapes > 0
    assert kind.units(main_child) == iterations
    assert kind.units(family.labels("sig")) == calls
    assert kind.units(plain) == iterations + calls
    for n in range(calls):
        assert kind.units(family.labels(f"s{n}")) == 1
    assert _children(family) == 2 + iterations + calls
    generate_text(registry)


class _Cyclic:
    """Cyclic garbage whose ``__del__`` records (runs only when the GC collects it)."""

    def __init__(self, on_del: Callable[[], None]) -> None:
        self.on_del = on_del
        self.me = self

    def __del__(self) -> None:
        self.on_del()


@pytest.mark.stress
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_gc_finalizers_record_and_create_children(
    kind: Kind, registry: Registry, bounded: None
) -> None:
    family = kind.make(registry, "gc_" + kind.name, ("k",))
    plain = kind.make(registry, "plain_" + kind.name, ())
    iterations = scaled(250)
    fired = AtomicCounter()
    finalized = AtomicCounter()

    def on_del() -> None:
        n = fired.fetch_add(1)
        kind.record(family.labels("del"))
        kind.record(family.labels(f"d{n}"))  # a new child from inside the GC
        kind.record(plain)

    def on_finalize() -> None:
        finalized.inc()
        kind.record(family.labels("fin"))

    old_threshold = gc.get_threshold()
    gc.set_threshold(5, 1, 1)  # the GC starts on almost every allocation
    try:
        with Scraper(registry):
            for i in range(iterations):
                garbage = _Cyclic(on_del)
                weakref.finalize(garbage, on_finalize)
                del garbage
                kind.record(family.labels(f"m{i}"))  # allocates under the lock
                kind.record(plain)
                if i % 50 == 0:
                    gc.collect()
            gc.collect()
    finally:
        gc.set_threshold(*old_threshold)
    n = fired.load()
    assert n == iterations, "every cycle was collected and finalized once"
    assert finalized.load() == iterations
    assert kind.units(family.labels("del")) == n
    assert kind.units(family.labels("fin")) == iterations
    assert kind.units(plain) == iterations + n
    assert _children(family) == 2 + iterations + n


@pytest.mark.stress
def test_signal_handler_on_every_primitive(bounded: None) -> None:
    # Each cell with the sequence of its records (handlers included): a
    # number is taken once even when a handler interrupts between two takes.
    cells = [(spec, spec.make(), AtomicCounter()) for spec in CELLS]

    def record_all() -> None:
        for spec, cell, sequence in cells:
            spec.record(cell, sequence.fetch_add(1))

    iterations = scaled(20_000)
    with Alarm(lambda n: record_all()) as alarm:
        for _ in range(iterations):
            record_all()
    for spec, cell, _ in cells:
        assert spec.count(cell) == iterations + alarm.calls, spec.name


@pytest.mark.stress
def test_recorder_record_from_signal_handler(bounded: None) -> None:
    registry = Registry()
    family = registry.counter("async_sig", "c", ("k",))
    config = AsyncMetricsConfig(buffer_size=1 << 16, worker_count=2, batch_size=64)
    iterations = scaled(20_000)
    with AsyncMetricRecorder(config) as recorder:
        accepted_in_handler = AtomicCounter()

        def handler(n: int) -> None:
            if recorder.record(family.labels("sig").inc):
                accepted_in_handler.inc()
            recorder.record(family.labels, f"s{n}")  # child creation on a worker

        accepted = 0
        with Scraper(registry), Alarm(handler) as alarm:
            for _ in range(iterations):
                accepted += recorder.record(family.labels("main").inc)
        assert recorder.flush(WATCHDOG_S / 2)
        stats = recorder.stats()
    assert alarm.calls > 0
    assert stats.enqueued + stats.dropped == iterations + 2 * alarm.calls
    assert stats.processed == stats.enqueued
    assert stats.failed == 0
    assert family.labels("main").value() == accepted
    assert family.labels("sig").value() == accepted_in_handler.load()


@pytest.mark.stress
def test_signal_handler_makes_families_while_main_thread_does(
    registry: Registry, bounded: None
) -> None:
    iterations = scaled(400)

    def handler(n: int) -> None:
        kind = KINDS[n % len(KINDS)]
        kind.record(kind.make(registry, f"h{n}_{kind.name}", ("k",)).labels("x"))
        kind.record(kind.make(registry, "shared_" + kind.name, ()))  # existing after once

    with Scraper(registry), Alarm(handler, interval_s=max(0.0005, alarm_s(registry))) as alarm:
        for i in range(iterations):
            kind = KINDS[i % len(KINDS)]
            kind.record(kind.make(registry, f"m{i}_{kind.name}", ("k",)).labels("y"))
    calls = alarm.calls
    assert calls > 0
    names = [f.name for f in registry._collectors]  # type: ignore[attr-defined]
    assert len(names) == len(set(names)), "one family per name"
    used = {n % len(KINDS) for n in range(calls)}
    assert len(names) == iterations + calls + len(used)
    for n in range(calls):
        kind = KINDS[n % len(KINDS)]
        assert kind.units(kind.make(registry, f"h{n}_{kind.name}", ("k",)).labels("x")) == 1
    shared = [KINDS[i].make(registry, "shared_" + KINDS[i].name, ()) for i in used]
    assert sum(KINDS[i].units(f) for i, f in zip(used, shared, strict=True)) == calls


def _close_under_alarms(first_s: float) -> None:
    """One round: close() a recorder draining slow calls while SIGALRM, from
    ``first_s`` on, runs handlers that record, flush, read stats and close."""
    config = AsyncMetricsConfig(
        buffer_size=1024, worker_count=2, batch_size=4, flush_timeout_s=WATCHDOG_S / 4
    )
    recorder = AsyncMetricRecorder(config)
    applied = AtomicCounter()

    def slow() -> None:
        time.sleep(0.0001)
        applied.inc()

    accepted = sum(recorder.record(slow) for _ in range(200))

    def handler(n: int) -> None:
        recorder.record(applied.inc)  # accepted before the close, dropped after
        recorder.flush(0)
        recorder.stats()
        if n < 4:  # closes nest 4 deep at most (each waits for the drain)
            recorder.close()

    with Alarm(handler, interval_s=0.001, first_s=first_s) as alarm:  # handlers nest
        recorder.close()
    stats = recorder.stats()
    assert stats.enqueued + stats.dropped == 200 + alarm.calls
    assert stats.enqueued >= accepted
    assert stats.processed == stats.enqueued == applied.load()
    assert recorder.record(applied.inc) is False


@pytest.mark.stress
def test_recorder_close_from_a_signal_handler_while_close_runs(bounded: None) -> None:
    """SIGTERM during the exit-time close, at random points: a handler that
    closes the recorder interrupts ``close()`` while it drains slow calls.
    The nested close returns instead of waiting for a lock the interrupted
    one holds, and nothing is lost."""
    rng = random.Random(15)
    for _ in range(scaled(12)):
        _close_under_alarms(first_s=rng.uniform(0.00001, 0.005))


@pytest.mark.stress
def test_sync_recorder_failures_from_a_signal_handler(bounded: None) -> None:
    """Failed calls are counted and logged through a rate limiter that a
    handler re-enters while the main thread is inside it: no lock there."""
    recorder = SyncRecorder()

    def fail() -> None:
        raise ValueError("expected")

    iterations = scaled(20_000)
    logging.getLogger("atomicmetrics").disabled = True
    try:
        with Alarm(lambda n: recorder.record(fail)) as alarm:
            for _ in range(iterations):
                recorder.record(fail)
    finally:
        logging.getLogger("atomicmetrics").disabled = False
    stats = recorder.stats()
    assert alarm.calls > 0
    assert stats.failed == stats.processed == stats.enqueued == iterations + alarm.calls


def test_sigterm_during_the_exit_time_close() -> None:
    """The scenario as users hit it: a SIGTERM handler that closes the
    recorder runs while the interpreter's exit hook is closing it."""
    script = """
import atexit, os, signal, threading, time
box = []
atexit.register(lambda: print("after exit close", box[0].load(), box[1].stats()))
import atomicmetrics as am
applied = am.AtomicCounter()
config = am.AsyncMetricsConfig(worker_count=1, batch_size=1, flush_timeout_s=30)
recorder = am.AsyncMetricRecorder(config)
box[:] = [applied, recorder]

def on_term(signum, frame):
    recorder.close()
    print("handler closed", flush=True)

def slow():
    time.sleep(0.001)
    applied.inc()

signal.signal(signal.SIGTERM, on_term)
for _ in range(300):
    recorder.record(slow)
# A daemon thread runs during the exit hooks: SIGTERM in the middle of the
# ~0.3 s that the exit-time close() drains.
kill = lambda: (time.sleep(0.1), os.kill(os.getpid(), signal.SIGTERM))
threading.Thread(target=kill, daemon=True).start()
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "handler closed"
    assert lines[1].startswith("after exit close 300 RecorderStats(enqueued=300, processed=300,")
