"""``atomicmetrics bench --processes``: forked workers recording into one arena.

The question: does recording from N forked workers into a multi-process
registry go N times as fast as from one? Each *layout* is timed at each
process count, interleaved round after round (drift in machine load hits
every layout alike), and reported as the median total rate and its ratio to
one process of the same layout:

* ``one arena series``: every worker calls ``counter.inc()`` on the SAME
  unlabelled counter of a ``MultiProcessRegistry`` made before the fork --
  what a pre-fork server does; each process records into its own shard.
* ``one series per process``: worker ``i`` calls ``.inc()`` on
  ``counter.labels(str(i))`` (bound once).
* ``one shared word``: every worker calls ``inc()`` on one ``AtomicCounter``
  placed in a shared arena record -- the layout before shards, for
  comparison: every add contends for one cache line.

A repetition forks the workers, waits until each is ready, releases them
together through a pipe, and takes the time from the first worker's start to
the last worker's end (CLOCK_MONOTONIC, one clock for every process). Every
repetition checks the exact total afterwards (a scrape of the registry, or
the word), and fails loudly if one add is missing. Works from an installed
wheel: it needs nothing but ``atomicmetrics``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import statistics
import struct
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Protocol

from atomicmetrics._core import AtomicCounter
from atomicmetrics.multiprocess import MultiProcessRegistry
from atomicmetrics.multiprocess.arena import KIND_SERIES, dumps

__all__ = ["LAYOUTS", "ProcessResult", "run_processes", "table"]

_TIMES = struct.Struct("<2q")


@dataclass(frozen=True)
class ProcessResult:
    """The median of one layout at one process count."""

    layout: str
    processes: int
    ops_per_process: int
    seconds: float  # median wall time of a repetition

    @property
    def ops_per_s(self) -> float:
        """Total rate of all processes together."""
        return self.processes * self.ops_per_process / self.seconds

    @property
    def ns_per_op(self) -> float:
        """Wall time per operation per process."""
        return self.seconds * 1e9 / self.ops_per_process


class _Incrementable(Protocol):
    def inc(self) -> None: ...


class _Layout:
    """One way of recording: what each worker calls ``inc()`` on, and the total."""

    name = ""

    def __init__(self, registry: MultiProcessRegistry) -> None:
        self.registry = registry

    def target(self, index: int) -> _Incrementable:
        raise NotImplementedError

    def total(self) -> int:
        raise NotImplementedError

    def _scraped(self, family: str) -> int:
        return int(
            sum(s.value for f in self.registry.collect() if f.name == family for s in f.samples)
        )


class _OneSeries(_Layout):
    name = "one arena series"

    def __init__(self, registry: MultiProcessRegistry) -> None:
        super().__init__(registry)
        self.counter = registry.counter("bench_one", "One series for every worker.")

    def target(self, index: int) -> _Incrementable:
        return self.counter

    def total(self) -> int:
        return self._scraped("bench_one")


class _SeriesEach(_Layout):
    name = "one series per process"

    def __init__(self, registry: MultiProcessRegistry) -> None:
        super().__init__(registry)
        self.family = registry.counter("bench_each", "A series per worker.", ("worker",))

    def target(self, index: int) -> _Incrementable:
        return self.family.labels(str(index))

    def total(self) -> int:
        return self._scraped("bench_each")


class _SharedWord(_Layout):
    name = "one shared word"

    def __init__(self, registry: MultiProcessRegistry) -> None:
        super().__init__(registry)
        # A shared cell of a label set no family record names: never exposed.
        arena = registry._arena
        arena.get_or_create(KIND_SERIES, dumps(["bench_shared_word", [], "*", 0]))
        key = dumps(["bench_shared_word", [], "word", 0])
        record = arena.get_or_create(KIND_SERIES, key, "", AtomicCounter._cell_bytes())
        self.word = AtomicCounter._from_buffer(record.view, record.cell_offset)

    def target(self, index: int) -> _Incrementable:
        return self.word

    def total(self) -> int:
        return self.word.load()


def _loop(target: _Incrementable, ops: int) -> None:
    """Idiomatic recording: ``target.inc()`` looked up at every call."""
    for _ in repeat(None, ops):
        target.inc()


LAYOUTS: tuple[type[_Layout], ...] = (_OneSeries, _SeriesEach, _SharedWord)


def _repetition(layout: _Layout, processes: int, ops: int) -> float:
    """Fork ``processes`` workers, release them together; seconds first start -> last end."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    pids = []
    try:
        for index in range(processes):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                code = 1
                try:
                    target = layout.target(index)
                    os.write(ready_w, b"r")
                    os.read(go_r, 1)
                    start = time.monotonic_ns()
                    _loop(target, ops)
                    os.write(done_w, _TIMES.pack(start, time.monotonic_ns()))
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        _read_exactly(ready_r, processes)
        os.write(go_w, b"g" * processes)
        raw = _read_exactly(done_r, processes * _TIMES.size)
        times = [_TIMES.unpack_from(raw, i * _TIMES.size) for i in range(processes)]
    except BaseException:
        for pid in pids:  # a worker that died or hangs must not hang the benchmark
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise
    finally:
        for fd in (ready_r, ready_w, go_r, go_w, done_r, done_w):
            os.close(fd)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    if any(codes):
        raise RuntimeError(f"a worker of {layout.name!r} failed")
    starts, ends = [int(t[0]) for t in times], [int(t[1]) for t in times]
    return (max(ends) - min(starts)) / 1e9


def _read_exactly(fd: int, n: int, timeout_s: float = 300.0) -> bytes:
    """``n`` bytes from a pipe; RuntimeError when workers stop sending meanwhile."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < n:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise RuntimeError("a worker stopped answering (died or hung)")
        data += os.read(fd, n - len(data))
    return data


def run_processes(
    counts: Sequence[int],
    *,
    ops: int = 2_000_000,
    rounds: int = 5,
    directory: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[ProcessResult]:
    """Median seconds of every layout at every process count (see the module docstring).

    Raises ``RuntimeError`` when a worker fails or a total is not exact.
    """
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        registry = MultiProcessRegistry(os.path.join(tmp, "arena"))
        layouts = [cls(registry) for cls in LAYOUTS]
        expected = dict.fromkeys((layout.name for layout in layouts), 0)
        runs: dict[tuple[str, int], list[float]] = {}
        total, done = rounds * len(counts) * len(layouts), 0
        for _ in range(rounds):
            for n in counts:
                for layout in layouts:
                    runs.setdefault((layout.name, n), []).append(_repetition(layout, n, ops))
                    expected[layout.name] += n * ops
                    got = layout.total()
                    if got != expected[layout.name]:
                        raise RuntimeError(
                            f"{layout.name}: total {got} after {n} workers, "
                            f"{expected[layout.name]} expected"
                        )
                    done += 1
                    if progress is not None:
                        progress(done, total, f"{layout.name} x{n}")
        # Gone before its directory is: a registry still alive (families and
        # their registry form cycles) would claim a slot in every later fork.
        del registry, layouts, layout
        gc.collect()
    return [
        ProcessResult(name, n, ops, statistics.median(seconds))
        for (name, n), seconds in runs.items()
    ]


def table(results: Sequence[ProcessResult]) -> str:
    """The human table: layout, processes, Mops/s total, ns/op, x one process."""
    one = {r.layout: r.ops_per_s for r in results if r.processes == 1}
    rows = [("layout", "processes", "Mops/s total", "ns/op", "x 1 process")]
    for r in sorted(
        results, key=lambda r: ([x.layout for x in results].index(r.layout), r.processes)
    ):
        base = one.get(r.layout)
        ratio = f"{r.ops_per_s / base:.2f}" if base else "-"
        rows.append(
            (r.layout, str(r.processes), f"{r.ops_per_s / 1e6:.1f}", f"{r.ns_per_op:.1f}", ratio)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
