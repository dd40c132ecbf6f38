"""Does idiomatic recording on ONE shared metric scale with threads?

One question: total calls/s of T threads that all record into the same
module-level metric, written the way users write it --

    REQUESTS = REGISTRY.counter("requests", "Requests.")     # at import
    ...
    REQUESTS.inc()                                             # in every thread

-- and the scaling factor calls/s(T threads) / calls/s(1 thread). Each
statement runs in a function whose globals hold the shared objects (a module,
in effect), so every call loads the shared object from a global and looks its
method up, as real code does; nothing is bound in advance. The arguments
(``x``, ``d``, ``lat``) are numbers each thread makes itself, as values a
thread computes are: one number object passed by every thread would add
reference-count contention of its own on 3.13t (a float constant is not
always immortal there; a shared ``0.03`` cost hist.observe x4 in CPU time
per call at 2 threads). Rows:

* ``control``: a pure-Python method on an object of each thread's own, and a
  bare C method call bound in each thread. They share nothing: if they do not
  scale, the machine (other load) is the limit, not the metric.
* the idioms of a metrics user: ``REQUESTS.inc()``,
  ``family.labels("GET").inc()``, ``hist.observe(x)``, ``rule.record(d)``,
  ``with rule.time(): ...``, ``throughput.record(1, lat)`` on families of a
  registry, and ``counter.inc()`` on a module-level ``AtomicCounter`` and
  ``StripedCounter``;
* ``--prebound`` adds the same calls with the method bound once per thread
  (``inc = REQUESTS.inc`` in the thread), the form the earlier version of
  this script measured.

Every run checks its exact total (a lost update fails the benchmark). Figures
are medians of ``--repeat`` runs; thread counts alternate within each
repetition, so a burst of load from other processes hits every column alike.
The environment line (interpreter, GIL state, CPUs, load average) belongs
with every published number. Run it once per interpreter: on a free-threaded
build (python3.13t) threads run in parallel; on a GIL build they take turns,
so nothing can scale there.

    python benchmarks/bench_contention.py --threads 1,2 --ops 200000 --repeat 5
    python benchmarks/bench_contention.py --threads 1,2,4,8,16   # a 16-core machine
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
from typing import Any

from atomicmetrics import AtomicCounter, Registry, StripedCounter

Globals = dict[str, Any]

#: Upper bounds of the histogram (seconds) and of the rule metric (ns).
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BUCKETS_NS = tuple(round(b * 1e9) for b in BUCKETS_S)


@dataclass(frozen=True)
class Case:
    """One statement, the module globals it runs in, and its exact total.

    ``setup()`` builds the globals (the shared objects) once per run;
    ``bind(globals)``, when given, runs in each thread and returns names of
    that thread's own (a pre-bound method, a private object); every thread
    also gets its own copies of ``ARGS``; ``total`` returns what the shared
    objects counted.
    """

    name: str
    stmt: str
    setup: Callable[[], Globals]
    total: Callable[[Globals], int] | None = None
    bind: Callable[[Globals], Globals] | None = None


#: The arguments of the statements; each thread gets objects of its own.
ARGS: dict[str, float | int] = {"x": 0.03, "d": 1500, "lat": 30_000_000}


def _own_args() -> Globals:
    """Copies of ARGS made by the calling thread (new objects, not shared)."""
    return {k: v + 0.0 if isinstance(v, float) else int(str(v)) for k, v in ARGS.items()}


def _registry() -> Globals:
    reg = Registry()
    return {
        "REQUESTS": reg.counter("requests", "Requests."),
        "family": reg.counter("hits", "Hits.", ["method"]),
        "hist": reg.histogram("latency_seconds", "Latency.", buckets=BUCKETS_S),
        "rule": reg.rule_execution("rule", "A rule.", buckets=BUCKETS_NS),
        "throughput": reg.throughput("events", "Events.", sla_ns=50_000_000),
    }


def _counters() -> Globals:
    return {"atomic": AtomicCounter(), "striped": StripedCounter()}


class _Sink:
    def touch(self) -> None:
        pass


def _own_sink(g: Globals) -> Globals:
    return {"sink": _Sink()}


def _own_c_method(g: Globals) -> Globals:
    return {"op": int("12345").bit_length}


def _prebound(attr: str) -> Callable[[Globals], Globals]:
    obj, method = attr.split(".")
    return lambda g: {"bound": getattr(g[obj], method)}


def cases(prebound: bool) -> list[Case]:
    out = [
        Case("control: Python method, own object", "sink.touch()", dict, bind=_own_sink),
        Case("control: C method bound per thread", "op()", dict, bind=_own_c_method),
        Case(
            "REQUESTS.inc()",
            "REQUESTS.inc()",
            _registry,
            lambda g: int(g["REQUESTS"].value()),
        ),
        Case(
            'family.labels("GET").inc()',
            'family.labels("GET").inc()',
            _registry,
            lambda g: int(g["family"].labels("GET").value()),
        ),
        Case(
            "hist.observe(x)",
            "hist.observe(x)",
            _registry,
            lambda g: int(g["hist"].snapshot().count),
        ),
        Case(
            "rule.record(d)",
            "rule.record(d)",
            _registry,
            lambda g: int(g["rule"].execution_count()),
        ),
        Case(
            "with rule.time(): pass",
            "with rule.time(): pass",
            _registry,
            lambda g: int(g["rule"].execution_count()),
        ),
        Case(
            "throughput.record(1, lat)",
            "throughput.record(1, lat)",
            _registry,
            lambda g: int(g["throughput"].events_processed()),
        ),
        Case(
            "counter.inc() (AtomicCounter)",
            "atomic.inc()",
            _counters,
            lambda g: int(g["atomic"].load()),
        ),
        Case(
            "counter.inc() (StripedCounter)",
            "striped.inc()",
            _counters,
            lambda g: int(g["striped"].load()),
        ),
    ]
    if prebound:
        out += [
            Case(
                "pre-bound REQUESTS.inc",
                "bound()",
                _registry,
                lambda g: int(g["REQUESTS"].value()),
                _prebound("REQUESTS.inc"),
            ),
            Case(
                "pre-bound hist.observe",
                "bound(x)",
                _registry,
                lambda g: int(g["hist"].snapshot().count),
                _prebound("hist.observe"),
            ),
            Case(
                "pre-bound rule.record",
                "bound(d)",
                _registry,
                lambda g: int(g["rule"].execution_count()),
                _prebound("rule.record"),
            ),
            Case(
                "pre-bound StripedCounter.inc",
                "bound()",
                _counters,
                lambda g: int(g["striped"].load()),
                _prebound("striped.inc"),
            ),
        ]
    return out


_LOOP = """
def loop(n{params}):
    for _ in repeat(None, n):
        {stmt}
"""


def _compile(case: Case, g: Globals, own: list[str]) -> Callable[..., None]:
    """``loop(n, *own values)`` running the statement n times with ``g`` as its
    module globals; names a thread binds itself come in as fast locals."""
    params = "".join(f", {name}" for name in own)
    src = _LOOP.format(params=params, stmt=case.stmt)
    g["repeat"] = itertools.repeat
    exec(compile(src, f"<bench_contention {case.name}>", "exec"), g)
    loop: Callable[..., None] = g.pop("loop")
    return loop


def run_once(case: Case, threads: int, n: int) -> float:
    """Calls/s of one run: ``threads`` threads, n calls each, released together."""
    g = case.setup()
    own_names = [*ARGS, *(case.bind(g) if case.bind is not None else ())]
    loop = _compile(case, g, own_names)
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def body() -> None:
        own = _own_args()
        if case.bind is not None:
            own.update(case.bind(g))
        args = [own[k] for k in own_names]
        barrier.wait()
        try:
            loop(n, *args)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    ts = [threading.Thread(target=body) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    if case.total is not None:
        got = case.total(g)
        if got != threads * n:
            raise SystemExit(
                f"{case.name}: WRONG TOTAL with {threads} threads: {got} != {threads * n}"
            )
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
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (1 first)")
    p.add_argument("--ops", type=int, default=1_000_000, help="calls per thread per run")
    p.add_argument("--repeat", type=int, default=5, help="runs per cell; the median is shown")
    p.add_argument("--only", default="", help="run only cases whose name contains this")
    p.add_argument("--prebound", action="store_true", help="also time pre-bound methods")
    a = p.parse_args(argv)
    counts = [int(x) for x in a.threads.split(",")]
    if not counts or counts[0] != 1 or any(t < 1 for t in counts):
        p.error("--threads must start with 1 (the ratios are to one thread)")
    print(environment())
    print(f"# {a.ops} calls per thread, median of {a.repeat} runs, exact totals checked")
    header = f"{'idiomatic call on one shared object':40s}"
    header += "".join(f"{f'{t} thr Mops/s':>14s}" for t in counts)
    header += "".join(f"{f'x{t}/1':>8s}" for t in counts[1:])
    print(header)
    results: dict[str, dict[int, float]] = {}
    for case in cases(a.prebound):
        if a.only and a.only not in case.name:
            continue
        runs: dict[int, list[float]] = {t: [] for t in counts}
        for _ in range(a.repeat):
            for t in counts:
                runs[t].append(run_once(case, t, a.ops))
        row = results.setdefault(case.name, {})
        for t in counts:
            row[t] = statistics.median(runs[t])
        line = f"{case.name:40s}" + "".join(f"{row[t] / 1e6:14.2f}" for t in counts)
        line += "".join(f"{row[t] / row[1]:8.2f}" for t in counts[1:])
        print(line, flush=True)
    _targets(results, counts)
    return 0


#: The free-threading targets: these calls from T threads >= want x one thread.
TARGETS = {
    "REQUESTS.inc()": {2: 1.7, 16: 10.0},
    'family.labels("GET").inc()': {2: 1.7, 16: 10.0},
    "hist.observe(x)": {2: 1.7, 16: 10.0},
    "rule.record(d)": {2: 1.7, 16: 10.0},
}


def _targets(results: dict[str, dict[int, float]], counts: list[int]) -> None:
    """The targets for a free-threaded build, printed as met or not."""
    for name, wants in TARGETS.items():
        if name not in results:
            continue
        for t, want in wants.items():
            if t in counts:
                got = results[name][t] / results[name][1]
                verdict = "met" if got >= want else "NOT met"
                print(f"# target {name} {t} thr >= {want}x 1 thr: {got:.2f} {verdict}")


if __name__ == "__main__":
    sys.exit(main())
