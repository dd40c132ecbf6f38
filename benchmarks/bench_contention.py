"""How does recording scale when threads share (or do not share) a metric?

One question: total ops/s of T threads hammering one metric object, and the
scaling factor ops/s(T threads) / ops/s(1 thread), for AtomicCounter,
StripedCounter, MutexCounter, RuleExecutionMetric (one rule per thread, and
one shared rule) and prometheus_client's Counter. Run it once per
interpreter: on a free-threaded build (python3.13t) threads run in parallel;
on its GIL twin they take turns, so nothing should scale there.

Every run checks its exact total (a lost update fails the benchmark).
Figures are medians of --repeat runs; the environment line (interpreter,
GIL state, CPUs, load average) belongs with every published number.

    python benchmarks/bench_contention.py --threads 1,2 --ops 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from atomicmetrics import AtomicCounter, StripedCounter
from atomicmetrics.reference import MutexCounter

# A candidate makes, for T threads, one (object, method name, argument or
# None) per thread plus a check of the exact total after n calls per thread.
# Each thread binds the method itself: on 3.13t an object is cheap to
# reference only from the thread that created it (biased refcounting), so a
# bound method made by the main thread would add refcount traffic to the loop.
Worker = tuple[object, str, "int | None"]
Setup = Callable[[int, int], tuple[list[Worker], Callable[[], bool]]]


@dataclass(frozen=True)
class Candidate:
    name: str
    setup: Setup


def _shared(make: Callable[[], object], method: str, total: Callable[[object], int]) -> Setup:
    def setup(threads: int, n: int) -> tuple[list[Worker], Callable[[], bool]]:
        obj = make()
        # A bound method per thread: each thread owns its method object, so
        # free-threaded refcounting does not contend on the shared object.
        workers: list[Worker] = [(obj, method, None) for _ in range(threads)]
        return workers, lambda: total(obj) == threads * n

    return setup


def _rule_metric_setups() -> list[Candidate]:
    try:
        from atomicmetrics import RuleExecutionMetric  # type: ignore[attr-defined]
    except ImportError:
        print("# RuleExecutionMetric not available in this build: skipped", file=sys.stderr)
        return []

    def own(threads: int, n: int) -> tuple[list[Worker], Callable[[], bool]]:
        rules = [RuleExecutionMetric() for _ in range(threads)]
        workers: list[Worker] = [(r, "record", 1500) for r in rules]
        return workers, lambda: all(r.execution_count() == n for r in rules)

    def shared(threads: int, n: int) -> tuple[list[Worker], Callable[[], bool]]:
        rule = RuleExecutionMetric()
        workers: list[Worker] = [(rule, "record", 1500) for _ in range(threads)]

        def exact() -> bool:
            s = rule.snapshot()
            return bool(
                s.execution_count == threads * n
                and s.total_duration_ns == threads * n * 1500
                and sum(s.bucket_counts) == threads * n
            )

        return workers, exact

    return [
        Candidate("RuleExecutionMetric.record own rule", own),
        Candidate("RuleExecutionMetric.record shared", shared),
    ]


def _prometheus_setups() -> list[Candidate]:
    try:
        from prometheus_client import CollectorRegistry
        from prometheus_client import Counter as PromCounter
    except ImportError:
        print("# prometheus_client not installed: skipped", file=sys.stderr)
        return []

    def make() -> object:
        return PromCounter("bench", "contention benchmark", registry=CollectorRegistry())

    def total(c: object) -> int:
        return int(c._value.get())  # type: ignore[attr-defined]

    return [Candidate("prometheus_client Counter.inc", _shared(make, "inc", total))]


def candidates() -> list[Candidate]:
    return [
        Candidate("control: Python no-op method", _control_setup),
        Candidate("AtomicCounter.inc shared", _shared(AtomicCounter, "inc", _load)),
        Candidate("StripedCounter.inc shared", _shared(StripedCounter, "inc", _load)),
        Candidate("MutexCounter.inc shared", _shared(MutexCounter, "inc", _load)),
        *_rule_metric_setups(),
        *_prometheus_setups(),
    ]


def _load(obj: object) -> int:
    return int(obj.load())  # type: ignore[attr-defined]


def _control_setup(threads: int, n: int) -> tuple[list[Worker], Callable[[], bool]]:
    """Calibration: a pure-Python call with no shared state at all. If this
    does not scale, the machine (other load) is the limit, not the metric."""
    sink = _Sink()
    return [(sink, "touch", None) for _ in range(threads)], lambda: True


class _Sink:
    def touch(self) -> None:
        pass


def run_once(c: Candidate, threads: int, n: int) -> float:
    """ops/s of one run: `threads` threads, n calls each, released together."""
    workers, exact = c.setup(threads, n)
    barrier = threading.Barrier(threads + 1)

    def body(obj: object, name: str, arg: int | None) -> None:
        call = getattr(obj, name)
        barrier.wait()
        if arg is not None:
            for _ in itertools.repeat(None, n):
                call(arg)
        else:
            for _ in itertools.repeat(None, n):
                call()

    ts = [threading.Thread(target=body, args=w) for w in workers]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    if not exact():
        raise SystemExit(f"{c.name}: WRONG TOTAL with {threads} threads (lost updates)")
    return threads * n / elapsed


def environment() -> str:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    version = " ".join(sys.version.split())
    return (
        f"# {platform.python_implementation()} {version}; GIL {'on' if gil else 'OFF'}; "
        f"{os.cpu_count()} CPUs; load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (1 first)")
    p.add_argument("--ops", type=int, default=200_000, help="calls per thread per run")
    p.add_argument("--repeat", type=int, default=5, help="runs per cell; the median is shown")
    p.add_argument("--only", default="", help="run only candidates whose name contains this")
    a = p.parse_args(argv)
    counts = [int(x) for x in a.threads.split(",")]
    print(environment())
    print(f"# {a.ops} calls per thread, median of {a.repeat} runs, exact totals checked")
    header = f"{'candidate':40s}" + "".join(f"{f'{t} thr Mops/s':>15s}" for t in counts)
    header += "".join(f"{f'x{t}/1':>8s}" for t in counts[1:])
    print(header)
    results: dict[str, dict[int, float]] = {}
    for c in candidates():
        if a.only and a.only not in c.name:
            continue
        # Thread counts alternate within each repetition, so a burst of load
        # from other processes hits every column alike.
        runs: dict[int, list[float]] = {t: [] for t in counts}
        for _ in range(a.repeat):
            for t in counts:
                runs[t].append(run_once(c, t, a.ops))
        row = results.setdefault(c.name, {})
        for t in counts:
            row[t] = statistics.median(runs[t])
        line = f"{c.name:40s}" + "".join(f"{row[t] / 1e6:15.2f}" for t in counts)
        line += "".join(f"{row[t] / row[counts[0]]:8.2f}" for t in counts[1:])
        print(line, flush=True)
    _targets(results, counts)
    return 0


def _targets(results: dict[str, dict[int, float]], counts: list[int]) -> None:
    """The issue's targets for a free-threaded build, printed as met or not."""
    if 1 not in counts or 2 not in counts:
        return
    checks: list[tuple[str, str, str, float]] = [
        ("striped 2 thr >= 1.7x 1 thr", "StripedCounter.inc shared", "", 1.7),
        ("shared AtomicCounter 2 thr >= 3x Mutex", "AtomicCounter.inc shared", "Mutex", 3.0),
        ("rule own-rule 2 thr >= 1.5x 1 thr", "RuleExecutionMetric.record own rule", "", 1.5),
    ]
    for label, name, against, want in checks:
        if name not in results:
            continue
        if against:
            got = results[name][2] / results["MutexCounter.inc shared"][2]
        else:
            got = results[name][2] / results[name][1]
        print(f"# target {label}: {got:.2f} {'met' if got >= want else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
