"""os.fork() while other threads record, create label children and scrape.

Threads do not survive fork, but the locks they held do: a child that needs
a lock some parent thread held at the fork waits for it forever. The child
here records (existing and new label children, a new family), renders both
exposition formats, records through an async recorder made before the fork,
and exits 0; the parent polls ``waitpid`` against a deadline and SIGKILLs a
child that hangs, failing the test.
"""

from __future__ import annotations

import faulthandler
import os
import pathlib
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable

import pytest

from atomicmetrics import (
    AsyncMetricRecorder,
    AsyncMetricsConfig,
    RecorderStats,
    Registry,
    generate_openmetrics,
    generate_text,
)
from atomicmetrics import _fork as fork_hook
from tests.helpers import scaled

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

CHILD_TIMEOUT_S = 30.0


def _fork(child: Callable[[], None]) -> int:
    """Fork; the child runs ``child`` and ``os._exit``s 0 (1 on any exception)."""
    with warnings.catch_warnings():
        # 3.12+ warns that forking a process with threads may deadlock the
        # child: that is exactly what this suite checks does not happen.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        # A hung child prints where it hangs before the parent kills it.
        faulthandler.dump_traceback_later(CHILD_TIMEOUT_S - 5, exit=True)
        try:
            child()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def _wait(pid: int) -> int:
    """Exit status of ``pid``; SIGKILL and fail if it runs past the deadline."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"forked child {pid} hung for {CHILD_TIMEOUT_S} s (killed)")
        time.sleep(0.01)


class Busy:
    """Threads that record, create children and scrape until stopped."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.counter = registry.counter("fork_requests", "r", ("path",))
        self.histogram = registry.histogram("fork_latency", "l", ("path",))
        self.rule = registry.rule_execution("fork_rule", "r", ("rule",))
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        targets = (self._record, self._record, self._create, self._scrape)
        self.threads = [threading.Thread(target=self._guard, args=(t,)) for t in targets]

    def _guard(self, target: Callable[[], None]) -> None:
        try:
            while not self.stop.is_set():
                target()
        except BaseException as e:  # re-raised by __exit__
            self.errors.append(e)

    def _record(self) -> None:
        for _ in range(100):
            self.counter.labels("/a").inc()
            self.histogram.labels("/a").observe(0.01)
            self.rule.labels("r").record(1000)

    def _create(self) -> None:
        for i in range(50):
            self.counter.labels(f"/new/{i}")
            self.histogram.labels(f"/new/{i}")
            self.rule.labels(f"new{i}")
        self.counter.clear()
        self.histogram.clear()
        self.rule.clear()

    def _scrape(self) -> None:
        generate_text(self.registry)
        generate_openmetrics(self.registry)

    def __enter__(self) -> Busy:
        for t in self.threads:
            t.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(CHILD_TIMEOUT_S)
        if self.errors:
            raise self.errors[0]


def _child_work(busy: Busy, recorder: AsyncMetricRecorder | None) -> None:
    """What every child must manage: record, create, register, expose."""
    registry = busy.registry
    before = busy.counter.labels("/a").value()
    for _ in range(1000):
        busy.counter.labels("/a").inc()
    assert busy.counter.labels("/a").value() == before + 1000
    busy.counter.labels("/child").inc()
    busy.histogram.labels("/child").observe(0.5)
    busy.rule.labels("child").record(10)
    registry.gauge("fork_child_gauge", "g").set(1.0)
    text = generate_text(registry)
    assert b'fork_requests_total{path="/child"} 1\n' in text
    assert b"fork_child_gauge 1.0" in text
    assert generate_openmetrics(registry).endswith(b"# EOF\n")
    if recorder is not None:
        child_counter = registry.counter("fork_async", "a")
        for _ in range(500):
            assert recorder.record(child_counter.inc)
        assert recorder.flush(10.0)
        assert child_counter.value() == 500


@pytest.mark.stress
def test_fork_while_threads_record_create_and_scrape() -> None:
    rounds = scaled(10)
    with Busy(Registry()) as busy:
        for _ in range(rounds):
            pid = _fork(lambda: _child_work(busy, None))
            assert _wait(pid) == 0
            time.sleep(0.005)


@pytest.mark.stress
def test_fork_while_async_recorder_workers_run() -> None:
    rounds = scaled(5)
    config = AsyncMetricsConfig(buffer_size=4096, worker_count=2, batch_size=64)
    with AsyncMetricRecorder(config) as recorder, Busy(Registry()) as busy:
        feeding = threading.Event()
        fed = busy.registry.counter("fork_fed", "f")  # Busy clears the labelled ones

        def feed() -> None:
            while not feeding.is_set():
                recorder.record(fed.inc)

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            for _ in range(rounds):
                pid = _fork(lambda: _child_work(busy, recorder))
                assert _wait(pid) == 0
        finally:
            feeding.set()
            feeder.join(CHILD_TIMEOUT_S)
        assert recorder.flush(CHILD_TIMEOUT_S)
        stats = recorder.stats()
        assert stats.processed == stats.enqueued
        assert fed.value() == stats.enqueued


class _Owner:
    def __init__(self) -> None:
        self.renewed = False

    def _after_fork_in_child(self) -> None:
        self.renewed = True


class _BrokenOwner:
    def _after_fork_in_child(self) -> None:
        raise RuntimeError("this owner's fork hook fails")


def test_one_failing_owner_does_not_keep_the_others_from_renewing() -> None:
    owners = [_Owner(), _BrokenOwner(), _Owner(), _BrokenOwner(), _Owner()]
    for owner in owners:
        fork_hook.register(owner)

    def child() -> None:
        assert all(o.renewed for o in owners if isinstance(o, _Owner))

    assert _wait(_fork(child)) == 0
    assert not any(o.renewed for o in owners if isinstance(o, _Owner))  # the parent's


def test_fork_inside_a_recorded_call_applies_nothing_twice(tmp_path: pathlib.Path) -> None:
    """A recorded call that forks and returns in the child: the child's copy
    of the worker holds the rest of the batch it had taken, which the parent
    applies. It used to apply them too (50 records showed as 100 in a shared
    arena) and count them (the child's processed > enqueued)."""
    applied = os.open(tmp_path / "applied", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    report_r, report_w = os.pipe()
    config = AsyncMetricsConfig(buffer_size=256, worker_count=1, batch_size=128)
    recorder = AsyncMetricRecorder(config)
    children: list[int] = []

    def note(what: object) -> None:
        os.write(applied, f"{os.getpid()} {what}\n".encode())

    def fields(s: RecorderStats) -> str:
        return f"{s.enqueued},{s.processed},{s.queue_length}"

    def forker() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid:
            children.append(pid)
            return
        # The child: its recorder starts empty and works; then return into
        # the batch, as a call that forks and does not exit would.
        before = recorder.stats()
        ok = recorder.record(note, "child")
        flushed = recorder.flush(CHILD_TIMEOUT_S)
        after = recorder.stats()
        recorder.close()
        os.write(report_w, f"{fields(before)}|{ok},{flushed}|{fields(after)}".encode())

    gate = threading.Event()
    try:
        recorder.record(gate.wait, CHILD_TIMEOUT_S)  # the worker waits: the rest is one batch
        for i in range(25):
            recorder.record(note, i)
        recorder.record(forker)
        for i in range(25, 50):
            recorder.record(note, i)
        gate.set()
        assert recorder.flush(CHILD_TIMEOUT_S)
        assert children, "the call that forks ran"
        assert _wait(children[0]) == 0
        stats = recorder.stats()
    finally:
        recorder.close()
        os.close(applied)
        os.close(report_w)
    with os.fdopen(report_r) as report:
        assert report.read() == "0,0,0|True,True|1,1,0"
    lines = (tmp_path / "applied").read_text().splitlines()
    parent = [what for pid, what in (line.split() for line in lines) if int(pid) == os.getpid()]
    child = [what for pid, what in (line.split() for line in lines) if int(pid) == children[0]]
    assert parent == [str(i) for i in range(50)]  # each once, in order
    assert child == ["child"]
    assert (stats.enqueued, stats.processed, stats.failed) == (52, 52, 0)
