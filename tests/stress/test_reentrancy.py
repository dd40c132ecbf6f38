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
import signal
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atomicmetrics import (
    AsyncMetricRecorder,
    AsyncMetricsConfig,
    AtomicCounter,
    AtomicDuration,
    AtomicFloat,
    AtomicHistogram,
    AtomicMinMax,
    Registry,
    RuleExecutionMetric,
    StripedCounter,
    ThroughputMetric,
    generate_openmetrics,
    generate_text,
)
from atomicmetrics.multiprocess import MultiProcessRegistry
from tests.reliability_helpers import KINDS, Kind, scaled, watchdog

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
    """SIGALRM at ``interval_s`` running ``handler``; counts the invocations."""

    def __init__(self, handler: Callable[[int], None], interval_s: float = ALARM_S) -> None:
        self.handler = handler
        self.interval_s = interval_s
        self._calls = AtomicCounter()  # handlers nest: a plain += would lose counts

    @property
    def calls(self) -> int:
        return self._calls.load()

    def _on_alarm(self, signum: int, frame: object) -> None:
        self.handler(self._calls.fetch_add(1))

    def __enter__(self) -> Alarm:
        self._old = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.interval_s, self.interval_s)
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


def _primitive_recorders() -> list[tuple[str, Callable[[], None], Callable[[], float]]]:
    counter = AtomicCounter()
    flt = AtomicFloat()
    duration = AtomicDuration()
    minmax = AtomicMinMax()
    histogram = AtomicHistogram([1.0, 2.0])
    rule = RuleExecutionMetric()
    throughput = ThroughputMetric()
    striped = StripedCounter()
    seen = AtomicCounter()  # minmax has no count: counts its observations

    def observe_minmax() -> None:
        minmax.observe(seen.fetch_add(1))

    return [
        ("counter", counter.inc, counter.load),
        ("float", lambda: flt.add(1.0), flt.load),
        ("duration", lambda: duration.add_ns(1), duration.load_ns),
        ("minmax", observe_minmax, lambda: (minmax.max() or 0) + 1),
        ("histogram", lambda: histogram.observe(1.5), histogram.count),
        ("rule", lambda: rule.record(10, True), rule.error_count),
        ("throughput", throughput.record, throughput.events_processed),
        ("striped", striped.inc, striped.load),
    ]


@pytest.mark.stress
def test_signal_handler_on_every_primitive(bounded: None) -> None:
    recorders = _primitive_recorders()

    def handler(n: int) -> None:
        for _, record, _ in recorders:
            record()

    iterations = scaled(20_000)
    with Alarm(handler) as alarm:
        for _ in range(iterations):
            for _, record, _ in recorders:
                record()
    for name, _, read in recorders:
        assert read() == iterations + alarm.calls, name


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
