"""Helpers shared by every suite (fixtures live in conftest.py).

Sections: constants; concurrency (threads released together on a barrier,
``apply_op`` for comparing a metric with its mutex twin, a CAS retry loop);
the command line (usage errors); exposition
(hand-made collectors, bucket samples, promtool, HTTP and server processes);
reliability (size scaling, watchdogs, the registry family kinds and the C
cell types, each with a way to record one unit and count them).

``ATOMICMETRICS_STRESS_SCALE`` (a positive float, default 1) multiplies the
sizes and durations of the reliability tests: the default keeps each test to
a few seconds; ``ATOMICMETRICS_STRESS_SCALE=10`` gives the figures quoted in
docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from atomicmetrics import (
    AtomicCounter,
    AtomicDuration,
    AtomicFloat,
    AtomicHistogram,
    AtomicMinMax,
    AtomicNativeHistogram,
    Registry,
    RuleExecutionMetric,
    StripedCounter,
    ThroughputMetric,
)
from atomicmetrics.formatting import format_bound, render_labels
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample

# ---- constants -----------------------------------------------------------------

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INF = float("inf")
T = TypeVar("T")

# ---- concurrency ---------------------------------------------------------------

THREADS = 8


def run_threads(n: int, target: Callable[[int], object]) -> list[object]:
    """Run ``target(i)`` on ``n`` threads that start together on a barrier.

    Returns the results in thread order; re-raises the first exception.
    """
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as e:  # re-raised in the caller below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def read_while_writing(
    write: Callable[[int], object], check: Callable[[], object], writers: int = THREADS - 1
) -> list[object]:
    """Invariants checked while writers run: ``write(i)`` on ``writers``
    threads, ``check()`` in a loop on one more, all started on a barrier.

    The checker runs until every writer has returned, then once more; what
    its calls return that is not None (the violations it saw) comes back, in
    order, for the test to assert empty. Re-raises the first exception.
    """
    left = [writers]
    lock = threading.Lock()

    def body(i: int) -> list[object]:
        if i < writers:
            try:
                write(i)
            finally:
                with lock:
                    left[0] -= 1
            return []
        bad: list[object] = []
        while True:
            with lock:
                running = left[0] > 0
            seen = check()
            if seen is not None:
                bad.append(seen)
            if not running:
                return bad

    return cast(list[object], run_threads(writers + 1, body)[writers])


def observe_on_threads(h: Any, values: Sequence[float], n: int) -> None:
    """``THREADS`` threads started on a barrier; thread ``i`` observes
    ``values[i % len(values)]`` ``n`` times."""

    def work(i: int) -> None:
        observe, x = h.observe, values[i % len(values)]
        for _ in range(n):
            observe(x)

    run_threads(THREADS, work)


def snapshots_stay_consistent(
    h: Any, values: Sequence[float], consistent: Callable[[Any], bool], n: int = 10_000
) -> None:
    """The race every hot/cold histogram passes: writer ``i`` observes
    ``values[(i + 1) % len(values)]`` ``n`` times while a checker takes
    snapshots; each must be ``consistent`` and no count may go back, and
    the final one holds every observation."""
    last = [0]

    def write(i: int) -> None:
        observe, x = h.observe, values[(i + 1) % len(values)]
        for _ in range(n):
            observe(x)

    def check() -> object:
        snap = h.snapshot()
        bad = not consistent(snap) or snap.count < last[0]
        last[0] = snap.count
        return snap if bad else None

    assert read_while_writing(write, check) == []
    snap = h.snapshot()
    assert snap.count == (THREADS - 1) * n
    assert consistent(snap)


def resets_keep_snapshots_consistent(
    h: Any, values: Sequence[float], consistent: Callable[[Any], bool], n: int = 10_000
) -> None:
    """The reset race of every hot/cold histogram: two readers take
    snapshots (each must be ``consistent``), one of them resetting after
    each, while writer ``i`` observes ``values[i % len(values)]`` ``n``
    times; nothing is counted twice."""
    done = threading.Event()

    def work(i: int) -> list[object]:
        if i < 2:  # readers; reader 0 also resets
            bad: list[object] = []
            while not done.is_set():
                snap = h.snapshot()
                if not consistent(snap):
                    bad.append(snap)
                if i == 0:
                    h.reset()
            return bad
        observe, x = h.observe, values[i % len(values)]
        for _ in range(n):
            observe(x)
        if i == THREADS - 1:
            done.set()
        return []

    results = run_threads(THREADS, work)
    assert all(r == [] for r in results)
    snap = h.snapshot()
    assert consistent(snap)
    assert snap.count <= (THREADS - 2) * n


def apply_op(
    obj: object,
    op: tuple[Any, ...],
    errors: tuple[type[Exception], ...] = (OverflowError, TypeError),
    normal: Callable[[Any], object] = lambda v: v,
) -> object:
    """What ``obj.<op[0]>(*op[1:])`` did, comparable between a metric and its twin.

    ``("ok", normal(result))``, or ``("raised", type)`` for an exception in
    ``errors``; any other exception propagates (fails the test).
    """
    try:
        result = getattr(obj, op[0])(*op[1:])
    except errors as e:
        return ("raised", type(e))
    return ("ok", normal(result))


def cas_add_loses_nothing(cell: Any, step: float, n: int = 5_000) -> None:
    """THREADS threads each add ``step`` ``n`` times to ``cell`` by a
    load / ``compare_and_swap`` retry loop; the total must be exact."""

    def work(_: int) -> None:
        for _ in range(n):
            while True:
                cur = cell.load()
                if cell.compare_and_swap(cur, cur + step):
                    break

    run_threads(THREADS, work)
    assert cell.load() == THREADS * n * step


def assert_placed_cells_pin_the_export_not_the_view(
    place: Callable[[memoryview], object], nbytes: int = 64
) -> None:
    """Ten cells placed on one view by ``place(view)`` (``Type._from_buffer``)
    leave the view's reference count alone, while they live and after."""
    view = memoryview(bytearray(nbytes))
    before = sys.getrefcount(view)
    cells = [place(view) for _ in range(10)]
    assert sys.getrefcount(view) == before  # each pins the export, not the view
    del cells
    assert sys.getrefcount(view) == before


# ---- the command line ------------------------------------------------------------


def assert_usage_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``atomicmetrics.cli.main(argv)`` exits 2 with ``message`` in its stderr."""
    from atomicmetrics.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# ---- exposition ----------------------------------------------------------------


class StaticCollector:
    """A collector that yields the families it was given, every time."""

    def __init__(self, families: Iterable[MetricFamily]) -> None:
        self.families = tuple(families)

    def collect(self) -> tuple[MetricFamily, ...]:
        return self.families


def histogram_samples(
    name: str,
    labels: LabelPairs,
    bounds: Sequence[float],
    per_bucket: Sequence[int],
    total: float,
) -> list[Sample]:
    """Samples of one histogram child as a registry exposes them (le last)."""
    samples = []
    running = 0
    for bound, count in zip([*bounds, INF], per_bucket, strict=True):
        running += count
        samples.append(Sample(f"{name}_bucket", (*labels, ("le", format_bound(bound))), running))
    samples.append(Sample(f"{name}_count", labels, running))
    samples.append(Sample(f"{name}_sum", labels, total))
    return samples


def ci() -> bool:
    """True when running under CI (``CI=true``), where every tool must exist."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """Path of an external tool: skip without it locally, FAIL without it in CI."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found on PATH (Debian: apt-get install -y prometheus)"
    if ci():
        pytest.fail(message)
    pytest.skip(message)


def promtool_check(text: bytes) -> subprocess.CompletedProcess[str]:
    """Run ``promtool check metrics`` on exposition text (bounded wait)."""
    return subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=text.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that cannot take 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(argv: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    """Run a server process for the body; always stop it (bounded), even on failure."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def wait_until(
    condition: Callable[[], T | None],
    what: str,
    timeout_s: float = 60.0,
    proc: subprocess.Popen[str] | None = None,
) -> T:
    """Poll ``condition`` until it returns non-None; fail after ``timeout_s``.

    Fails at once, with the process's output, if ``proc`` exits meanwhile.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"process exited with {proc.returncode} waiting for {what}:\n{output}")
        result = condition()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """GET with urllib; returns status, headers (case-insensitive) and body.

    HTTP error statuses are returned, not raised.
    """
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def answers(url: str) -> bool | None:
    """True once ``url`` answers 200; None while it refuses or fails (for wait_until)."""
    try:
        return True if http_get(url)[0] == 200 else None
    except (urllib.error.URLError, OSError):
        return None


@contextlib.contextmanager
def prometheus_server(
    tmp_path: Path, jobs: dict[str, str], features: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A real Prometheus scraping each job's ``host:port`` every second.

    ``features`` are passed as ``--enable-feature=`` (``native-histograms``,
    ``exemplar-storage``). Yields its base URL (once ready) and its process,
    for ``wait_until``; stops it afterwards. Skips (fails in CI) without the
    ``prometheus`` binary.
    """
    prometheus = require_tool("prometheus")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        + "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"
            for job, target in jobs.items()
        )
    )
    argv = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        *(f"--enable-feature={feature}" for feature in features),
    ]
    with running(argv, cwd=tmp_path) as proc:
        wait_until(lambda: answers(f"{base}/-/ready"), "Prometheus to be ready", proc=proc)
        yield base, proc


def query(base: str, promql: str) -> list[dict[str, Any]] | None:
    """Prometheus instant query; the result vector, or None while it is still empty."""
    status, _, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    if status != 200:
        return None
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result or None


def exposed(reg: Registry) -> dict[str, MetricFamily]:
    """The collected families by name, samples without their rendered-label cache.

    Checks that cache on the way: every sample carries exactly
    ``render_labels(labels)``.
    """
    families = list(reg.collect())
    out = {f.name: plain(f) for f in families}
    assert len(out) == len(families), "duplicate family names"
    return out


def plain(family: MetricFamily) -> MetricFamily:
    """``family`` without the rendered-label cache, which must be exactly
    ``render_labels(labels)`` on every sample."""
    for s in family.samples:
        assert s.rendered_labels == render_labels(s.labels)
    samples = tuple(Sample(s.name, s.labels, s.value) for s in family.samples)
    return MetricFamily(family.name, family.type, family.help, samples)


# ---- reliability ---------------------------------------------------------------


def scale() -> float:
    """The stress scale from ``ATOMICMETRICS_STRESS_SCALE`` (default 1.0)."""
    raw = os.environ.get("ATOMICMETRICS_STRESS_SCALE", "1")
    value = float(raw)
    if not value > 0:
        raise ValueError(f"ATOMICMETRICS_STRESS_SCALE must be > 0, not {raw!r}")
    return value


def scaled(n: float) -> int:
    """``n`` times the stress scale, at least 1."""
    return max(1, int(n * scale()))


@contextlib.contextmanager
def watchdog(timeout_s: float) -> Iterator[None]:
    """Abort the process with every thread's traceback if the body deadlocks.

    A deadlocked main thread cannot fail a test by itself; ``faulthandler``
    dumps the stacks to stderr and exits with status 1 from its own C
    thread after ``timeout_s``, which fails the run loudly.
    """
    faulthandler.dump_traceback_later(timeout_s, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@dataclass(frozen=True)
class Kind:
    """One registry family type: how to make it, record one unit, read the units."""

    name: str
    make: Callable[..., Any]  # (registry, name, labelnames, **factory_kwargs)
    record: Callable[[Any], None]
    units: Callable[[Any], float]


KINDS = (
    Kind(
        "counter",
        lambda r, n, ls, **kw: r.counter(n, "c", ls, **kw),
        lambda c: c.inc(),
        lambda c: c.value(),
    ),
    Kind(
        "gauge",
        lambda r, n, ls, **kw: r.gauge(n, "g", ls, **kw),
        lambda c: c.inc(),
        lambda c: c.value(),
    ),
    Kind(
        "histogram",
        lambda r, n, ls, **kw: r.histogram(n, "h", ls, **kw),
        lambda c: c.observe(0.25),
        lambda c: c.snapshot().count,
    ),
    Kind(
        "rule_execution",
        lambda r, n, ls, **kw: r.rule_execution(n, "r", ls, **kw),
        lambda c: c.record(1500, False),
        lambda c: c.execution_count(),
    ),
    Kind(
        "throughput",
        lambda r, n, ls, **kw: r.throughput(n, "t", ls, sla_ns=1000, **kw),
        lambda c: c.record(1, 2000),
        lambda c: c.events_processed(),
    ),
)


@dataclass(frozen=True)
class Cell:
    """One C cell type: how to make one, record one unit, read how many were recorded.

    ``record(cell, i)`` gets the sequence number ``i`` (0, 1, 2, ... each once)
    of the record; a min/max cell has no count, so it observes ``i`` and its
    count is ``max + 1``.
    """

    name: str
    make: Callable[[], Any]
    record: Callable[[Any, int], None]
    count: Callable[[Any], int | float]


CELLS = (
    Cell("counter", AtomicCounter, lambda c, i: c.inc(), lambda c: c.load()),
    Cell("float", AtomicFloat, lambda c, i: c.add(1.0), lambda c: c.load()),
    Cell("duration", AtomicDuration, lambda c, i: c.add_ns(1), lambda c: c.load_ns()),
    Cell("minmax", AtomicMinMax, lambda c, i: c.observe(i), lambda c: (c.max() or 0) + 1),
    Cell(
        "histogram",
        lambda: AtomicHistogram([1.0, 2.0]),
        lambda c, i: c.observe(i % 3),
        lambda c: c.count(),
    ),
    Cell(
        "native_histogram",
        AtomicNativeHistogram,
        lambda c, i: c.observe(float(i % 1000) - 500.5),
        lambda c: c.snapshot().count,
    ),
    Cell(
        "rule",
        RuleExecutionMetric,
        lambda c, i: c.record(i, i % 7 == 0),
        lambda c: c.execution_count(),
    ),
    Cell(
        "throughput", ThroughputMetric, lambda c, i: c.record(1, i), lambda c: c.events_processed()
    ),
    Cell("striped", StripedCounter, lambda c, i: c.inc(), lambda c: c.load()),
)


# ---- forked children (the multi-process tests) ----------------------------


def fork(fn: Callable[[], object]) -> int:
    """Run ``fn`` in a forked child that exits 0 on success, 1 on an exception."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            fn()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def join(pid: int) -> int:
    """Wait for a child; its exit code."""
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def run_at_once(n: int, body: Callable[[int], None]) -> list[int]:
    """``n`` forked children, all started (each past its fork hook, so holding
    its slot), run ``body(i)`` together; their exit codes."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()

    def make(i: int) -> Callable[[], None]:
        def run() -> None:
            os.write(ready_w, b"r")
            os.read(go_r, 1)
            body(i)

        return run

    pids = [fork(make(i)) for i in range(n)]
    for _ in range(n):
        os.read(ready_r, 1)
    os.write(go_w, b"g" * n)
    codes = [join(p) for p in pids]
    for fd in (ready_r, ready_w, go_r, go_w):
        os.close(fd)
    return codes
