"""The benchmark engine behind ``atomicmetrics bench`` and ``benchmarks/``.

A *candidate* is one way of doing one thing (``AtomicCounter.inc()``,
``MutexCounter.inc()``, prometheus_client's ``Counter.inc()``): a statement,
and a setup that builds the objects the statement uses. Every candidate,
including the FLOOR (a bare C method call, ``(12345).bit_length()``), is
timed in the same loop shape, generated once per candidate::

    def _loop(_n, op, x):
        for _ in _repeat(None, _n):
            op(x)      # the statement, unrolled UNROLL times
            op(x)
            ...

with every name the statement uses bound as a fast local, so loop and lookup
overheads are the same for everyone and small next to the operation.

Method (docs/benchmarks.md has the long form):

* For each thread count T, each candidate's *shared* objects are built once
  (``setup()``, in the coordinating thread, as a module builds its metrics at
  import) and used by T worker threads.
* Each worker thread has its own namespace, built in that thread from the
  shared one (``bind``; by default the shared objects themselves): a
  candidate timing the cost of one call binds ``op = shared.inc`` in every
  thread, and the floor binds a method of its own, so that on a
  free-threaded build it measures a call that shares nothing (a method
  object shared between threads pays reference-count contention on 3.13t).
  The ``shared`` group instead writes statements as users do, on the shared
  object itself (``REQUESTS.inc()``, ``family.labels("GET").inc()``): the
  figure that says whether idiomatic code scales.
* One *repetition* releases the T threads from a barrier; each runs the loop
  ``ops_per_thread`` times (calibrated per candidate so a single-thread
  repetition takes about ``rep_ms``). Its wall time runs from the first
  thread's start to the last thread's end.
* ``ns_per_op`` of a repetition = wall time / ``ops_per_thread``: the time one
  thread needs per operation while T threads do the same. Perfect scaling
  keeps it flat as T grows; a serialising lock or the GIL makes it grow
  about linearly with T. Total throughput is ``T * 1e9 / ns_per_op`` ops/s.
* Candidates are interleaved: each *round* runs one repetition of every
  candidate in a freshly shuffled order, so drifting machine load hits all
  of them alike. The reported figure is the median over rounds.
* ``ratio_to_floor`` = median / the floor's median at the same T.
* Exact totals: a candidate with a ``total`` reads back what its shared
  objects counted at the end of the run; anything but the number of
  statements run (calibration included) fails the candidate ("wrong total").

Nothing here imports optional libraries at module level; candidates that
cannot be built are reported as skipped with the reason.
"""

from __future__ import annotations

import gc
import itertools
import os
import platform
import random
import statistics
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FLOOR",
    "Candidate",
    "Measurement",
    "Report",
    "Settings",
    "Skipped",
    "Unavailable",
    "environment",
    "run",
    "thread_namespace",
]

Kind = Literal["floor", "ours", "baseline"]
Namespace = Mapping[str, Any]
Setup = Callable[[], Namespace]
Bind = Callable[[Namespace], Namespace]
ProgressFn = Callable[[int, int, str], None]

#: Statements per loop iteration; cuts the ``for`` overhead to ~1/10 per op.
UNROLL = 10


class Unavailable(Exception):
    """Raised by a candidate's setup when what it measures is not installed."""


@dataclass(frozen=True)
class Candidate:
    """One way of doing one thing, timed against the others of its group.

    ``stmt`` is one line of Python (several statements may be joined with
    ``;``) using the names that ``setup()`` returns. ``kind`` says whether it
    is the floor, one of ours, or a baseline that ours are compared with;
    ``label`` is the short name used in "2.1x faster than <label>".
    ``between`` runs (untimed) after every repetition, e.g. to drain a queue;
    ``teardown`` once per built namespace at the end (close what setup opened).
    ``max_threads`` caps the thread counts it is measured at.

    ``bind(shared)`` runs in each worker thread and returns that thread's
    own namespace (the names the statement uses) from the shared one; None
    uses the shared namespace as it is. ``total(shared)`` returns how many
    statements the shared objects counted, checked against how many ran
    (None: not checked, e.g. reads and the recorder that drops by design).
    """

    name: str
    group: str
    stmt: str
    setup: Setup
    kind: Kind = "ours"
    label: str = ""
    unroll: int = UNROLL
    between: Callable[[Namespace], object] | None = None
    teardown: Callable[[Namespace], object] | None = None
    max_threads: int | None = None
    bind: Bind | None = None
    total: Callable[[Namespace], int] | None = None

    @property
    def short(self) -> str:
        """The name used in ratio texts."""
        return self.label or self.name


def _floor_bind(shared: Namespace) -> Namespace:
    # Made in the worker thread: a method object no other thread references
    # (a shared one costs refcount contention on 3.13t, which the floor must
    # not: shared, it read 2,037 ns instead of 36 ns at 16 threads).
    return {"op": int("12345").bit_length}


FLOOR = Candidate(
    name="floor: (12345).bit_length()",
    group="floor",
    stmt="op()",
    setup=dict,
    kind="floor",
    label="floor",
    bind=_floor_bind,
)


@dataclass(frozen=True)
class Settings:
    """How long and how wide to measure."""

    threads: tuple[int, ...] = (1, 2, 4, 8)
    rounds: int = 15
    rep_ms: float = 3.0
    seed: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A candidate that was not measured, and why."""

    name: str
    group: str
    reason: str


@dataclass(frozen=True)
class Measurement:
    """The repetitions of one candidate at one thread count."""

    candidate: Candidate
    threads: int
    ops_per_thread: int
    samples: tuple[float, ...]  # ns per op per thread, one per repetition

    @property
    def ns_per_op(self) -> float:
        """Median ns per operation per thread over the repetitions."""
        return statistics.median(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        """25th and 75th percentile of the repetitions (the spread)."""
        if len(self.samples) < 2:
            return self.samples[0], self.samples[0]
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[0], q[2]

    @property
    def ops_per_s(self) -> float:
        """Total throughput of all threads together."""
        return self.threads * 1e9 / self.ns_per_op


@dataclass
class Report:
    """Everything one run measured, with the ratios the table shows."""

    environment: dict[str, Any]
    settings: Settings
    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def floor(self, threads: int) -> Measurement | None:
        """The floor's measurement at ``threads``."""
        for m in self.measurements:
            if m.candidate.kind == "floor" and m.threads == threads:
                return m
        return None

    def ratio_to_floor(self, m: Measurement) -> float | None:
        """How many floors one operation of ``m`` costs, at the same thread count."""
        f = self.floor(m.threads)
        return None if f is None else m.ns_per_op / f.ns_per_op

    def baseline_ratios(self, m: Measurement) -> list[tuple[str, float]]:
        """``(baseline label, baseline ns / m ns)`` for the baselines of m's group.

        Only candidates of kind ``ours`` get ratios; a value above 1 means
        ``m`` is that many times faster.
        """
        if m.candidate.kind != "ours":
            return []
        return [
            (b.candidate.short, b.ns_per_op / m.ns_per_op)
            for b in self.measurements
            if b.candidate.kind == "baseline"
            and b.candidate.group == m.candidate.group
            and b.threads == m.threads
        ]

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per measurement (the ``results`` of ``--json``)."""
        out = []
        for m in self.measurements:
            p25, p75 = m.quartiles
            ratio = self.ratio_to_floor(m)
            out.append(
                {
                    "name": m.candidate.name,
                    "group": m.candidate.group,
                    "kind": m.candidate.kind,
                    "threads": m.threads,
                    "ns_per_op": round(m.ns_per_op, 3),
                    "ratio_to_floor": None if ratio is None else round(ratio, 3),
                    "ns_per_op_p25": round(p25, 3),
                    "ns_per_op_p75": round(p75, 3),
                    "ops_per_s": round(m.ops_per_s),
                    "repetitions": len(m.samples),
                    "ops_per_thread": m.ops_per_thread,
                    "speedup_vs": {k: round(v, 3) for k, v in self.baseline_ratios(m)},
                }
            )
        return out

    def ordered(self) -> list[Measurement]:
        """Measurements by group (floor first, then catalogue order), threads, candidate."""
        groups: dict[str, int] = {"floor": -1}
        cands: dict[str, int] = {}
        for m in self.measurements:
            groups.setdefault(m.candidate.group, len(groups))
            cands.setdefault(m.candidate.name, len(cands))
        return sorted(
            self.measurements,
            key=lambda m: (groups[m.candidate.group], m.threads, cands[m.candidate.name]),
        )

    _HEADER = ("group", "candidate", "thr", "ns/op", "x floor", "vs baselines")

    def _cells(self) -> list[tuple[str, ...]]:
        lines: list[tuple[str, ...]] = []
        for m in self.ordered():
            ratio = self.ratio_to_floor(m)
            versus = "; ".join(_versus(label, r) for label, r in self.baseline_ratios(m))
            lines.append(
                (
                    m.candidate.group,
                    m.candidate.name,
                    str(m.threads),
                    f"{m.ns_per_op:,.1f}",
                    "-" if ratio is None else f"{ratio:.2f}",
                    versus,
                )
            )
        return lines

    def table(self) -> str:
        """The human table: group, candidate, threads, ns/op, x floor, x baselines."""
        header, lines = self._HEADER, self._cells()
        widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
        numeric = {2, 3, 4}

        def fmt(row: tuple[str, ...]) -> str:
            cells = [
                c.rjust(widths[i]) if i in numeric else c.ljust(widths[i])
                for i, c in enumerate(row)
            ]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        body = [fmt(header), rule, *(fmt(r) for r in lines)]
        if self.skipped:
            body.append("")
            body.extend(f"skipped {s.name} ({s.group}): {s.reason}" for s in self.skipped)
        return "\n".join(body)

    def markdown(self) -> str:
        """The same table in Markdown, under the environment it was measured in."""
        rows: list[tuple[str, ...]] = [self._HEADER, ("---", "---", "---:", "---:", "---:", "---")]
        rows += [tuple(c.replace("|", "\\|") for c in r) for r in self._cells()]
        env = describe_environment(self.environment).splitlines()
        s = self.settings
        method = (
            f"threads {','.join(map(str, s.threads))}; {s.rounds} interleaved repetitions "
            f"of ~{s.rep_ms:g} ms; median ns per operation per thread"
        )
        body = [*(f"- {line}" for line in env), f"- method: {method}", ""]
        body += ["| " + " | ".join(r) + " |" for r in rows]
        if self.skipped:
            body.append("")
            body += [f"- skipped {k.name} ({k.group}): {k.reason}" for k in self.skipped]
        return "\n".join(body) + "\n"


def _versus(label: str, ratio: float) -> str:
    if ratio >= 1.0:
        return f"{ratio:.1f}x faster than {label}"
    return f"{1.0 / ratio:.1f}x slower than {label}"


def environment() -> dict[str, Any]:
    """Interpreter, build, machine and load: the header every number must carry."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without getloadavg
        load = None
    from atomicmetrics import __version__

    return {
        "python": sys.version.replace("\n", " "),
        "implementation": platform.python_implementation(),
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": True if is_gil_enabled is None else bool(is_gil_enabled()),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "load_average": load,
        "atomicmetrics": __version__,
        "libraries": _library_versions(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown"


def _library_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for dist in ("prometheus_client", "opentelemetry-sdk"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def describe_environment(env: Mapping[str, Any]) -> str:
    """The header lines printed above the table."""
    build = "free-threaded" if env["free_threaded_build"] else "GIL"
    gil = "on" if env["gil_enabled"] else "off"
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items() if v) or "none"
    load = env["load_average"]
    return "\n".join(
        [
            f"interpreter: {env['implementation']} {env['python']}",
            f"build: {build} build, GIL {gil} at run time; atomicmetrics "
            f"{env['atomicmetrics']}; baselines: {libs}",
            f"machine: {env['cpu_count']} CPUs, {env['cpu_model']}, {env['platform']}",
            f"load average: {' '.join(map(str, load)) if load else 'unknown'}",
        ]
    )


# ---------------------------------------------------------------------------
# timing


def compile_loop(c: Candidate, names: Iterable[str]) -> Callable[..., None]:
    """The timed loop of ``c``: ``_loop(_n, *values)`` runs the statement ``_n * unroll`` times."""
    params = ", ".join(["_n", *names])
    body = "\n".join(f"        {c.stmt}" for _ in range(c.unroll))
    src = f"def _loop({params}):\n    for _ in _repeat(None, _n):\n{body}\n"
    scope: dict[str, Any] = {"_repeat": itertools.repeat}
    exec(compile(src, f"<bench loop {c.name}>", "exec"), scope)
    loop: Callable[..., None] = scope["_loop"]
    return loop


def thread_namespace(c: Candidate, shared: Namespace) -> Namespace:
    """The namespace one thread runs ``c`` with: ``c.bind(shared)``, made in that
    thread, with every plain number copied into an object of this thread's own.

    The numbers are arguments (``x``, ``d``), not the metric under test: in real
    code each thread computes its own. One number object shared by every thread
    would cost reference-count contention on 3.13t (a constant loaded from a
    .pyc is not immortal there), which the metric would be blamed for.
    """
    own = shared if c.bind is None else c.bind(shared)
    return {k: _private(v) for k, v in own.items()}


def _private(v: Any) -> Any:
    """A copy of an int or float made by this thread (other values as they are)."""
    if type(v) is float:
        return v + 0.0  # a new float object
    if type(v) is int:
        return int(str(v))  # a new int object (small ints are immortal anyway)
    return v


class _Crew:
    """``size`` worker threads that run one repetition at a time, released together.

    ``run`` returns the wall time from the first thread's start to the last
    thread's end. Each worker builds its own namespace (``thread_namespace``)
    before the start barrier, in its own thread. Shared fields are written by
    the coordinating thread before the start barrier and read by workers
    after it (the barrier orders them).
    """

    def __init__(self, size: int) -> None:
        self._ready = threading.Barrier(size + 1)
        self._start = threading.Barrier(size + 1)
        self._done = threading.Barrier(size + 1)
        self._job: _Job | None = None
        self._spans = [(0, 0)] * size
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"bench-{i}", daemon=True)
            for i in range(size)
        ]
        for t in self._threads:
            t.start()

    def _work(self, i: int) -> None:
        clock = time.perf_counter_ns
        while True:
            self._ready.wait()
            job = self._job
            if job is None:
                return
            args: tuple[Any, ...] = ()
            try:
                own = thread_namespace(job.candidate, job.shared)
                args = (job.iterations, *[own[k] for k in job.names])
                del own
            except BaseException as e:  # handed to the coordinator below
                self._errors.append(e)
            self._start.wait()
            t0 = clock()
            if args:
                try:
                    job.loop(*args)
                except BaseException as e:  # handed to the coordinator below
                    self._errors.append(e)
            self._spans[i] = (t0, clock())
            del args  # this thread's objects die with the repetition
            self._done.wait()

    def run(self, job: _Job) -> int:
        self._job = job
        self._ready.wait()
        self._start.wait()
        self._done.wait()
        if self._errors:
            err = self._errors[0]
            self._errors.clear()
            raise err
        return max(end for _, end in self._spans) - min(start for start, _ in self._spans)

    def close(self) -> None:
        self._job = None
        self._ready.wait()
        for t in self._threads:
            t.join()


@dataclass(frozen=True)
class _Job:
    """One repetition as the crew runs it."""

    candidate: Candidate
    loop: Callable[..., None]
    names: tuple[str, ...]  # the loop's parameters after _n, in order
    shared: Namespace
    iterations: int


@dataclass
class _Prepared:
    candidate: Candidate
    loop: Callable[..., None]
    names: tuple[str, ...]
    iterations: int  # loop iterations per thread per repetition
    namespaces: dict[int, Namespace] = field(default_factory=dict)
    samples: dict[int, list[float]] = field(default_factory=dict)
    # statements run on each shared namespace (by thread count), for `total`
    executed: dict[int, int] = field(default_factory=dict)

    @property
    def ops(self) -> int:
        return self.iterations * self.candidate.unroll

    def namespace(self, threads: int) -> Namespace:
        ns = self.namespaces.get(threads)
        if ns is None:
            ns = self.namespaces[threads] = self.candidate.setup()
        return ns

    def wrong_totals(self) -> list[str]:
        """What ``total`` disagrees on, one text per namespace (empty: exact)."""
        total = self.candidate.total
        if total is None:
            return []
        out = []
        for threads, ns in sorted(self.namespaces.items()):
            ran = self.executed.get(threads, 0)
            counted = total(ns)
            if counted != ran:
                out.append(f"{threads} thread(s): counted {counted}, ran {ran}")
        return out


def _calibrate(c: Candidate, rep_ms: float) -> _Prepared:
    """Build ``c`` once, and pick the iterations that make one repetition ~rep_ms."""
    ns = c.setup()
    ran = 0
    try:
        own = thread_namespace(c, ns)
        names = tuple(own)
        loop = compile_loop(c, names)
        args = tuple(own[k] for k in names)
        target = rep_ms * 1e6
        n = 1
        while True:
            t0 = time.perf_counter_ns()
            loop(n, *args)
            elapsed = max(time.perf_counter_ns() - t0, 1)
            ran += n * c.unroll
            if c.between is not None:
                c.between(ns)
            if elapsed >= target / 5 or n >= 1 << 30:
                break
            n *= max(2, min(100, int(target / 5 / elapsed) + 1))
        del own, args
    except BaseException:
        if c.teardown is not None:
            c.teardown(ns)
        raise
    iterations = max(1, round(n * target / elapsed))
    p = _Prepared(c, loop, names, iterations)
    p.namespaces[1] = ns
    p.executed[1] = ran
    return p


def run(
    candidates: Sequence[Candidate],
    settings: Settings,
    progress: ProgressFn | None = None,
) -> Report:
    """Measure ``candidates`` (the floor is always added) and return the report.

    Candidates whose setup raises ``Unavailable``/``ImportError`` or whose
    operation raises are reported as skipped with the reason.
    """
    rng = random.Random(settings.seed)
    report = Report(environment=environment(), settings=settings)
    todo = [FLOOR, *(c for c in candidates if c is not FLOOR)]
    names = [c.name for c in todo]
    if len(set(names)) != len(names):
        raise ValueError("candidate names must be unique")

    prepared: list[_Prepared] = []
    for c in todo:
        try:
            prepared.append(_calibrate(c, settings.rep_ms))
        except (Unavailable, ImportError) as e:
            report.skipped.append(Skipped(c.name, c.group, str(e)))
        except Exception as e:
            report.skipped.append(Skipped(c.name, c.group, f"failed: {type(e).__name__}: {e}"))

    plan = [
        (
            t,
            [
                p
                for p in prepared
                if p.candidate.max_threads is None or t <= p.candidate.max_threads
            ],
        )
        for t in settings.threads
    ]
    planned = {p.candidate.name for _, ps in plan for p in ps}
    for p in prepared:
        if p.candidate.name not in planned:
            c = p.candidate
            report.skipped.append(
                Skipped(c.name, c.group, f"runs on at most {c.max_threads} thread(s) only")
            )
            if c.teardown is not None:
                for ns in p.namespaces.values():
                    c.teardown(ns)
    prepared = [p for p in prepared if p.candidate.name in planned]
    total = sum(len(ps) for _, ps in plan) * settings.rounds
    done = 0
    failed: set[str] = set()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: no cyclic collection inside a repetition
    try:
        for threads, group in plan:
            crew = _Crew(threads)
            try:
                for _ in range(settings.rounds):
                    order = list(group)
                    rng.shuffle(order)
                    for p in order:
                        done += 1
                        if progress is not None:
                            progress(done, total, f"{p.candidate.name} x{threads}")
                        if p.candidate.name in failed:
                            continue
                        try:
                            _repetition(p, threads, crew)
                        except Exception as e:
                            failed.add(p.candidate.name)
                            report.skipped.append(
                                Skipped(
                                    p.candidate.name,
                                    p.candidate.group,
                                    f"failed at {threads} threads: {type(e).__name__}: {e}",
                                )
                            )
                    gc.collect()  # between rounds, untimed
            finally:
                crew.close()
        for p in prepared:
            if p.candidate.name in failed:
                continue
            try:
                wrong = p.wrong_totals()
            except Exception as e:
                wrong = [f"{type(e).__name__}: {e}"]
            if wrong:
                failed.add(p.candidate.name)
                c = p.candidate
                report.skipped.append(Skipped(c.name, c.group, "wrong total: " + "; ".join(wrong)))
    finally:
        if gc_was_enabled:
            gc.enable()
        for p in prepared:
            if p.candidate.teardown is not None:
                for ns in p.namespaces.values():
                    p.candidate.teardown(ns)

    for threads, group in plan:
        for p in group:
            if p.candidate.name not in failed and threads in p.samples:
                report.measurements.append(
                    Measurement(p.candidate, threads, p.ops, tuple(p.samples[threads]))
                )
    return report


def _repetition(p: _Prepared, threads: int, crew: _Crew) -> None:
    ns = p.namespace(threads)
    wall = crew.run(_Job(p.candidate, p.loop, p.names, ns, p.iterations))
    p.executed[threads] = p.executed.get(threads, 0) + p.ops * threads
    if p.candidate.between is not None:
        p.candidate.between(ns)
    p.samples.setdefault(threads, []).append(wall / p.ops)
