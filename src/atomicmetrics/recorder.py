"""Recorders: apply metric calls off the hot path (async), in place (sync), or not at all.

``AsyncMetricRecorder`` puts a call ``fn(*args)`` -- typically a bound metric
method such as ``counter.add`` or ``rule_metric.record`` -- into a bounded
lock-free ring (``atomicmetrics._core.Ring``, csrc/ring.c) and returns at
once; worker threads take calls in batches and apply them. ``SyncRecorder``
applies each call in the caller; ``NullRecorder`` ignores it. The three share
one interface (``record``, ``flush``, ``close``, ``stats``, context manager)
and ``make_recorder(config)`` picks one from a ``MetricsConfig``'s level.

Decisions (docs/recorder.md has the reasoning):

* Failing calls are logged on the ``atomicmetrics`` logger at WARNING, at
  most one record per recorder per second: the first failure of a quiet
  period is logged at once with its traceback; the ones that follow within
  the second are counted and the count goes into the next record (or into a
  summary at close()). ``stats().failed`` counts every one.
* Interpreter exit: an ``atexit`` hook closes every recorder still open.
  ``atexit`` runs after the non-daemon threads were joined, so calls that
  those threads recorded until their end are applied; each close waits at
  most the recorder's ``flush_timeout_s``.
* fork(): the child's recorder starts empty. Calls still queued at the fork
  belong to the parent, which applies them; applying them in the child too
  would count them twice (in a shared multi-process arena, literally). The
  child's counts restart at 0, its worker threads (threads do not survive
  fork) start on its first accepted ``record()``, and a recorder closed in
  the parent stays closed.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from atomicmetrics import _fork
from atomicmetrics._closing import ClosingContext
from atomicmetrics._core import AtomicCounter, NullSink, Ring
from atomicmetrics.config import AsyncMetricsConfig, MetricsConfig, MetricsLevel
from atomicmetrics.samples import MetricFamily, Sample

__all__ = [
    "AsyncMetricRecorder",
    "NullRecorder",
    "RecorderStats",
    "SyncRecorder",
    "make_recorder",
]

_LOG = logging.getLogger("atomicmetrics")

#: At most one failure record per recorder per this many nanoseconds (1 s).
_FAILURE_LOG_INTERVAL_NS = 1_000_000_000
#: Safety nets, not polling: a parked worker, a flush() and a producer
#: blocked for room are woken by notifications; these bound the wait if a
#: notification raced past (the Python-level waiter counts are not fenced).
_IDLE_WAIT_S = 1.0
_CLOSING_WAIT_S = 0.001
_FLUSH_RECHECK_S = 0.05
_ROOM_RECHECK_S = 0.005


@dataclass(frozen=True)
class RecorderStats:
    """A recorder's counts at one moment.

    ``enqueued``: ``record()`` calls accepted. ``processed``: calls applied,
    failed ones included. ``dropped``: calls refused (ring full with
    ``drop_on_overflow``, or recorder closed). ``failed``: applied calls that
    raised. ``queue_length``: accepted calls not yet taken by a worker.
    ``capacity``: the buffer size. ``utilization``: ``queue_length /
    capacity`` (0.0 without a buffer). ``oldest_age_s``: seconds since the
    oldest queued call was accepted (0.0 when the queue is empty).

    Read without stopping the recorder: each field is exact, and
    ``processed <= enqueued`` holds in every snapshot; the fields are not
    one atomic cut of the recorder.
    """

    enqueued: int
    processed: int
    dropped: int
    failed: int
    queue_length: int
    capacity: int
    utilization: float
    oldest_age_s: float


def _check_timeout(timeout_s: float | None) -> float | None:
    if timeout_s is None:
        return None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
        raise TypeError(f"timeout_s must be a number or None, not {type(timeout_s).__name__}")
    if math.isnan(timeout_s) or timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0 or None, not {timeout_s!r}")
    return float(timeout_s)


class _FailureLog:
    """Rate-limited WARNING records about calls that raised.

    Lock-free (two atomic words), so a signal handler or a finalizer that
    records a failing call while this thread is inside ``report`` or
    ``summarize`` cannot deadlock on it; a failure is counted by exactly one
    record or summary. Never on the recording path. The log call itself
    takes the logging module's handler locks (re-entrant).
    """

    def __init__(self, owner: str) -> None:
        self._owner = owner
        #: Atomic: monotonic ns before which failures are counted, not logged
        #: (0: the first is logged at once); moved by a CAS, so one report
        #: per interval wins the right to log.
        self._next_report_ns = AtomicCounter()
        self._suppressed = AtomicCounter()  # atomic: failures not yet reported

    def report(self, failures: list[tuple[Callable[..., object], BaseException]]) -> None:
        """Count ``failures``; log the first one unless one was logged within
        the last interval."""
        now = time.monotonic_ns()
        due = self._next_report_ns.load()
        if now < due or not self._next_report_ns.compare_and_swap(
            due, now + _FAILURE_LOG_INTERVAL_NS
        ):
            self._suppressed.add(len(failures))
            return
        earlier = self._suppressed.swap(0) + len(failures) - 1
        fn, exc = failures[0]
        more = f" (and {earlier} more failed calls not logged one by one)" if earlier else ""
        _LOG.warning(
            "%s: recorded call %r raised %s: %s%s",
            self._owner,
            fn,
            type(exc).__name__,
            exc,
            more,
            exc_info=exc,
        )

    def summarize(self) -> None:
        """Log the count of failures not yet reported, if any."""
        count = self._suppressed.swap(0)
        if count:
            _LOG.warning(
                "%s: %d more recorded calls raised (not logged one by one)", self._owner, count
            )


def _stats_families(prefix: str, stats: RecorderStats) -> Iterator[MetricFamily]:
    counters = (
        ("enqueued", "Calls accepted by record().", stats.enqueued),
        ("processed", "Calls applied by the workers, failed ones included.", stats.processed),
        ("dropped", "Calls refused: buffer full or recorder closed.", stats.dropped),
        ("failed", "Applied calls that raised an exception.", stats.failed),
    )
    for name, help_text, value in counters:
        full = f"{prefix}_{name}"
        yield MetricFamily(full, "counter", help_text, (Sample(f"{full}_total", (), value),))
    gauges = (
        ("queue_length", "Calls accepted and not yet taken by a worker.", stats.queue_length),
        ("capacity", "Calls the buffer holds at most.", stats.capacity),
        ("utilization", "queue_length / capacity.", stats.utilization),
        ("oldest_age_seconds", "Age of the oldest queued call.", stats.oldest_age_s),
    )
    for name, help_text, gauge in gauges:
        full = f"{prefix}_{name}"
        yield MetricFamily(full, "gauge", help_text, (Sample(full, (), gauge),))


class _Worker:
    """One worker thread and its batch counter."""

    __slots__ = ("busy", "thread")

    def __init__(self, loop: Callable[[_Worker], None], name: str) -> None:
        self.thread = threading.Thread(target=loop, args=(self,), name=name, daemon=True)
        #: Atomic; odd while the worker is taking and applying a batch. A
        #: flush waits for every worker that was busy once the calls it waits
        #: for were all taken.
        self.busy = AtomicCounter()


class _Collecting:
    """The ``collect()`` of the three recorders: their stats as metrics."""

    __slots__ = ()

    #: Family name prefix of the exposed figures.
    metric_prefix = "atomicmetrics_recorder"

    def stats(self) -> RecorderStats:
        raise NotImplementedError

    def collect(self) -> Iterator[MetricFamily]:
        """The recorder's stats as metric families (a ``Collector``):
        ``atomicmetrics_recorder_{enqueued,processed,dropped,failed}_total``
        (counters) and ``atomicmetrics_recorder_{queue_length,capacity,
        utilization,oldest_age_seconds}`` (gauges)."""
        return _stats_families(self.metric_prefix, self.stats())


class AsyncMetricRecorder(_Collecting, ClosingContext):
    """Applies recorded calls on worker threads, off the caller's hot path.

    ``record(fn, *args) -> bool`` enqueues the call ``fn(*args)`` into a
    bounded lock-free ring and returns True without blocking. When the ring
    is full it drops the call, counts it and returns False
    (``drop_on_overflow=True``), or waits until there is room
    (``drop_on_overflow=False``; the producer parks on a condition, it does
    not spin). After ``close()`` it returns False, applies nothing and counts
    the call as dropped. ``fn`` must be callable (``TypeError`` otherwise,
    nothing counted); arguments are held by strong reference until applied
    and are not otherwise checked.

    ``config.worker_count`` daemon threads take up to ``config.batch_size``
    calls at a time and apply them in order of acceptance per batch. A call
    that raises is counted in ``stats().failed`` and logged (see the module
    docstring), and never stops a worker.

    Thread-safe: any number of threads may record, flush, read stats and
    close, on GIL and free-threaded builds. Hot-path cost: ``record`` is the
    C method ``Ring.record`` itself -- one C call, one CAS, one release store
    and a clock read, no allocation for up to two arguments, no lock; only a
    full ring in blocking mode goes to Python (to wait).

    Every ``record()`` counts once in ``enqueued`` or ``dropped``; after a
    ``flush()`` that returned True, ``processed == enqueued`` unless calls
    were accepted meanwhile. Do not call ``flush()``, ``close()`` or a
    blocking ``record()`` on the same recorder from inside a recorded call:
    the worker would wait for itself.
    """

    def __init__(self, config: AsyncMetricsConfig | None = None) -> None:
        if config is None:
            config = AsyncMetricsConfig()
        if not isinstance(config, AsyncMetricsConfig):
            raise TypeError(f"config must be an AsyncMetricsConfig, not {type(config).__name__}")
        self._config = config
        on_full = None if config.drop_on_overflow else self._wait_for_room
        self._ring = Ring(config.buffer_size, self._wake, on_full)
        # The hot path: the bound C method itself, shadowing the Python
        # method below for this instance (one C call per record()).
        vars(self)["record"] = self._ring.record
        self._init_process_state()
        self._pid = os.getpid()  # the process whose threads are the workers
        self._start_workers()
        _LIVE.add(self)
        _fork.register(self)

    def _init_process_state(self) -> None:
        """Locks, conditions and worker handles: made anew in a fork child."""
        self._work = threading.Condition()  # parked workers wait here
        self._progress = threading.Condition()  # flush() and blocked producers wait here
        self._waiters = AtomicCounter()  # atomic: threads waiting on _progress
        # Serializes starting the workers in a fork child. Reentrant: a
        # signal handler or a finalizer on this thread may record (which may
        # start them) or close() meanwhile; nothing else takes it, and
        # close() never holds it while it waits.
        self._lifecycle = threading.RLock()
        self._workers: list[_Worker] = []  # replaced, never mutated in place
        self._failures = _FailureLog(f"AsyncMetricRecorder@{id(self):#x}")

    @property
    def config(self) -> AsyncMetricsConfig:
        """The configuration this recorder was made with."""
        return self._config

    # ---- workers -----------------------------------------------------------

    def _start_workers(self) -> None:
        workers = [
            _Worker(self._work_loop, f"atomicmetrics-recorder-{i}")
            for i in range(self._config.worker_count)
        ]
        self._workers = workers
        for worker in workers:
            worker.thread.start()

    def _work_loop(self, worker: _Worker) -> None:
        ring = self._ring
        batch_size = self._config.batch_size
        failures: list[tuple[Callable[..., object], BaseException]] = []
        busy = worker.busy
        while True:
            busy.inc()
            taken = ring.apply_batch(batch_size, failures)
            if taken < 0:
                # A recorded call forked and this is the child's copy of the
                # thread: the batch was the parent's (applied there, released
                # here unapplied), and this process's workers are its own,
                # started on its first record(). Leave; if this was the
                # child's only thread, the child ends here.
                return
            if failures:
                self._failures.report(failures)  # logged before the batch ends
                failures.clear()
            busy.inc()
            if taken:
                if self._waiters.load():
                    with self._progress:
                        self._progress.notify_all()
                continue
            if ring.closed and ring.taken() >= ring.enqueued():
                break
            self._park()
        with self._progress:
            self._progress.notify_all()

    def _park(self) -> None:
        ring = self._ring
        with self._work:
            try:
                if ring.park_begin():
                    self._work.wait(_CLOSING_WAIT_S if ring.closed else _IDLE_WAIT_S)
            finally:
                ring.park_end()

    def _wake(self) -> None:
        """Called by the ring after a push that found a worker parked (or,
        in a fork child, the first push: then it starts the workers)."""
        if self._pid != os.getpid():
            self._start_workers_in_child()
            return
        with self._work:
            self._work.notify()

    def _start_workers_in_child(self) -> None:
        """In a fork child, start this process's workers once.

        The process id is claimed before anything else, so a call that
        re-enters from a signal handler or a finalizer in the middle finds
        the workers started (or being started) and leaves it to this one.
        """
        with self._lifecycle:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._ring.park_end()  # the phantom sleeper of reset_after_fork
            self._start_workers()

    def _after_fork_in_child(self) -> None:
        """In a fork child (``_fork``): an empty ring, fresh locks, no workers
        until the first accepted ``record()``."""
        self._ring.reset_after_fork()
        self._init_process_state()

    # ---- recording ---------------------------------------------------------

    def record(self, fn: Callable[..., object], /, *args: object) -> bool:
        """Enqueue ``fn(*args)``: True, or False when dropped (see the class
        docstring). Each instance replaces this with ``Ring.record`` bound to
        its ring, so a call never runs this Python frame."""
        return self._ring.record(fn, *args)

    def _wait_for_room(self, fn: Callable[..., object], /, *args: object) -> bool:
        """The ring's on_full in blocking mode: wait until the call fits."""
        ring = self._ring
        self._waiters.inc()
        try:
            with self._progress:
                while True:
                    if ring.try_push(fn, *args):
                        return True
                    if ring.closed:
                        ring.count_dropped()
                        return False
                    self._progress.wait(_ROOM_RECHECK_S)
        finally:
            self._waiters.dec()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every call accepted before this call has been applied.

        Returns True once they have, False if ``timeout_s`` seconds passed
        first (None: wait as long as it takes; 0: just check). Calls accepted
        meanwhile are not waited for. Waits on a condition that the workers
        notify after each batch. ``TypeError``/``ValueError`` for a timeout
        that is not a number >= 0 or None.
        """
        timeout = _check_timeout(timeout_s)
        deadline = None if timeout is None else time.monotonic() + timeout
        ring = self._ring
        target = ring.enqueued()
        # Once every call before `target` is taken, the ones not yet applied
        # are in batches of workers that are busy at that moment: wait until
        # each of those workers has moved on.
        busy: list[tuple[AtomicCounter, int]] | None = None
        self._waiters.inc()
        try:
            with self._progress:
                while True:
                    if busy is None and ring.taken() >= target:
                        busy = [(w.busy, b) for w in self._workers if (b := w.busy.load()) & 1]
                    if busy is not None:
                        busy = [(c, b) for c, b in busy if c.load() == b]
                        if not busy:
                            return True
                    wait = _FLUSH_RECHECK_S
                    if deadline is not None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return False
                        wait = min(wait, remaining)
                    self._progress.wait(wait)
        finally:
            self._waiters.dec()

    def close(self) -> None:
        """Stop intake, let the workers drain the ring, and join them.

        Later ``record()`` calls return False and count as dropped. Waits at
        most ``config.flush_timeout_s`` for the drain: past it the workers
        (daemon threads) go on draining in the background and ``close()``
        returns. Idempotent; thread-safe; takes no lock, so a signal handler
        or a finalizer may call it while this thread is inside ``close()``
        (SIGTERM during the exit-time close): the nested call waits for the
        same workers within its own bound and returns, and the interrupted
        call then goes on. A close that interrupts the start of the workers
        (a fork child's first ``record()``) returns without waiting for them.
        """
        ring = self._ring
        ring.close()
        if self._pid != os.getpid() and ring.enqueued():
            # A fork child that accepted calls: their wake-up may not have
            # started the workers yet.
            self._start_workers_in_child()
        with self._work:
            self._work.notify_all()
        with self._progress:
            self._progress.notify_all()
        deadline = time.monotonic() + self._config.flush_timeout_s
        me = threading.current_thread()
        for worker in self._workers:  # replaced, never mutated: a snapshot
            if worker.thread is not me and worker.thread.ident is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
        self._failures.summarize()

    def stats(self) -> RecorderStats:
        """The recorder's counts now (see ``RecorderStats``); lock-free."""
        enqueued, processed, dropped, failed, length, age_ns = self._ring.counts()
        capacity = self._ring.capacity
        return RecorderStats(
            enqueued=enqueued,
            processed=processed,
            dropped=dropped,
            failed=failed,
            queue_length=length,
            capacity=capacity,
            utilization=length / capacity,
            oldest_age_s=age_ns / 1e9,
        )

    def __repr__(self) -> str:
        s = self.stats()
        state = "closed" if self._ring.closed else "open"
        return (
            f"<AsyncMetricRecorder {state} queue={s.queue_length}/{s.capacity} "
            f"enqueued={s.enqueued} processed={s.processed} dropped={s.dropped}>"
        )


class SyncRecorder(_Collecting, ClosingContext):
    """Applies each recorded call at once, in the caller's thread.

    The recorder of the ``DEBUG`` level: numbers are exact as soon as
    ``record()`` returns. Same interface as ``AsyncMetricRecorder``:
    ``record(fn, *args)`` applies ``fn(*args)`` and returns True (an
    exception from ``fn`` -- an ``Exception``, not ``KeyboardInterrupt`` and
    the like -- is counted as failed and logged, not raised); after
    ``close()`` it returns False and counts a drop. ``flush()`` returns True
    at once; ``stats()`` has no queue (capacity 0, utilization 0.0).
    Thread-safe (atomic counters); cost: the call itself plus three atomic adds.
    """

    def __init__(self) -> None:
        self._enqueued = AtomicCounter()  # atomic: accepted calls
        self._processed = AtomicCounter()  # atomic: applied calls
        self._dropped = AtomicCounter()  # atomic: calls after close()
        self._failed = AtomicCounter()  # atomic: calls that raised
        self._closed = False  # set once by close(); a plain attribute store
        self._failures = _FailureLog(f"SyncRecorder@{id(self):#x}")

    def record(self, fn: Callable[..., object], /, *args: object) -> bool:
        """Apply ``fn(*args)`` now; True, or False after ``close()``."""
        if not callable(fn):
            raise TypeError(f"record(): fn must be callable, not {type(fn).__name__}")
        if self._closed:
            self._dropped.inc()
            return False
        self._enqueued.inc()
        try:
            fn(*args)
        except Exception as e:  # counted and logged: the recorder contract
            self._failed.inc()
            self._failures.report([(fn, e)])
        finally:
            self._processed.inc()
        return True

    def flush(self, timeout_s: float | None = None) -> bool:
        """Return True: every call was applied when ``record()`` returned."""
        _check_timeout(timeout_s)
        return True

    def close(self) -> None:
        """Refuse later calls (they return False and count as dropped)."""
        self._closed = True
        self._failures.summarize()

    def stats(self) -> RecorderStats:
        """The counts now; ``queue_length``, ``capacity`` and ages are 0."""
        processed = self._processed.load()
        return RecorderStats(
            enqueued=self._enqueued.load(),  # read after processed: never below it
            processed=processed,
            dropped=self._dropped.load(),
            failed=self._failed.load(),
            queue_length=0,
            capacity=0,
            utilization=0.0,
            oldest_age_s=0.0,
        )


class NullRecorder(NullSink, _Collecting, ClosingContext):
    """A recorder that records nothing: the ``OFF`` level.

    ``record(fn, *args)`` is a C method that ignores its arguments and
    returns False: it applies nothing and counts nothing (off means off, so
    its cost is one bare C method call). ``stats()`` is all zeros,
    ``flush()`` returns True, ``close()`` does nothing. Thread-safe (no state).
    """

    __slots__ = ()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Return True: there is never anything to apply."""
        _check_timeout(timeout_s)
        return True

    def close(self) -> None:
        """Do nothing: there is nothing to stop."""

    def stats(self) -> RecorderStats:
        """All zeros."""
        return RecorderStats(0, 0, 0, 0, 0, 0, 0.0, 0.0)


Recorder = AsyncMetricRecorder | SyncRecorder | NullRecorder


def make_recorder(config: MetricsConfig) -> Recorder:
    """The recorder for ``config.level``: ``OFF`` -> ``NullRecorder``,
    ``BASIC``/``STANDARD`` -> ``AsyncMetricRecorder(config.async_metrics)``
    (started: call ``close()`` or use it as a context manager), ``DEBUG`` ->
    ``SyncRecorder``. ``TypeError`` unless ``config`` is a ``MetricsConfig``."""
    if not isinstance(config, MetricsConfig):
        raise TypeError(f"config must be a MetricsConfig, not {type(config).__name__}")
    if config.level is MetricsLevel.OFF:
        return NullRecorder()
    if config.level is MetricsLevel.DEBUG:
        return SyncRecorder()
    return AsyncMetricRecorder(config.async_metrics)


# ---- process-wide hook: interpreter exit (the fork hook is _fork's) ----------

#: Recorders alive in this process (weak: a recorder dies with its last
#: reference). Read by the exit hook below.
_LIVE: weakref.WeakSet[AsyncMetricRecorder] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for recorder in list(_LIVE):
        recorder.close()


atexit.register(_close_all_at_exit)
