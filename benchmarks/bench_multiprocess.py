"""What does the multi-process arena cost to record into, to scale, and to scrape?

Three questions, each measured interleaved (the candidates take turns, round
after round, so drift in machine load hits them alike) and reported as
medians:

1. ``inc()`` on an arena-backed counter vs an in-process one: the raw cell
   (``AtomicCounter`` placed in the arena vs one owning its word) and the
   registry counter (``MultiProcessRegistry`` vs ``Registry``). Target:
   arena <= 1.5x in-process.
2. Forked workers recording at once, at each count of ``--scale``: on ONE
   arena series (``counter.inc()`` on a counter made before the fork), on
   one series each, and on one shared word (the layout before shards), each
   as total operations per second and its ratio to one process; exact
   totals checked after every repetition (``atomicmetrics.bench.processes``,
   the same code as ``atomicmetrics bench --processes``). Targets: one arena
   series >= 1.8x one process at 2 workers (2 cores), >= 12x at 16 (16 cores).
3. A scrape of P processes x S series: ``generate_text`` of a
   ``MultiProcessRegistry`` vs prometheus_client's ``MultiProcessCollector`` +
   ``generate_latest`` over the same data, written by P real forked
   processes in each library's own way. Target: >= 10x faster.

    python benchmarks/bench_multiprocess.py [--processes 4] [--series 1000]
        [--ops 200000] [--rounds 7] [--scale 1,2,4] [--scale-ops 2000000]
        [--only inc,scale,scrape]

Runs from an installed wheel (run it from outside the checkout so that
``src/`` is not imported instead). Every figure belongs with the
environment line printed first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from atomicmetrics import AtomicCounter, Registry, generate_text
from atomicmetrics.bench.processes import run_processes, table
from atomicmetrics.multiprocess import MultiProcessRegistry
from atomicmetrics.multiprocess.arena import KIND_SERIES, Arena


def environment() -> str:
    return (
        f"# {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable}), {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )


def ns_per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n


def interleaved(cands: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median of ``rounds`` turns of each candidate, taken in alternation."""
    runs: dict[str, list[float]] = {name: [] for name in cands}
    for _ in range(rounds):
        for name, run in cands.items():
            runs[name].append(run())
    return {name: statistics.median(v) for name, v in runs.items()}


def bench_inc(ops: int, rounds: int, directory: str) -> None:
    arena = Arena(os.path.join(directory, "raw"))
    rec = arena.get_or_create(KIND_SERIES, "c", "", AtomicCounter._cell_bytes())
    arena_cell = AtomicCounter._from_buffer(rec.view, rec.cell_offset)
    own_cell = AtomicCounter()
    mp_counter = MultiProcessRegistry(os.path.join(directory, "reg")).counter("c", "C.")
    local_counter = Registry().counter("c", "C.")
    cands = {
        "AtomicCounter.inc (own word)": lambda: ns_per_call(own_cell.inc, ops),
        "AtomicCounter.inc (arena word)": lambda: ns_per_call(arena_cell.inc, ops),
        "Registry counter.inc()": lambda: ns_per_call(local_counter.inc, ops),
        "MultiProcessRegistry counter.inc()": lambda: ns_per_call(mp_counter.inc, ops),
    }
    got = interleaved(cands, rounds)
    assert own_cell.load() == arena_cell.load() == rounds * ops
    print("\n## inc(): ns per call (median of interleaved rounds)")
    for name, ns in got.items():
        print(f"{name:40s} {ns:8.1f} ns")
    names = list(got)
    print(f"{'ratio arena/own (cell)':40s} {got[names[1]] / got[names[0]]:8.2f}x  (target <= 1.5x)")
    print(f"{'ratio multiprocess/in-process (family)':40s} {got[names[3]] / got[names[2]]:8.2f}x")


def _fork_all(processes: int, body: Callable[[int], None]) -> None:
    pids = []
    for p in range(processes):
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                body(p)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
            raise SystemExit("a writer process failed")


def bench_scrape(processes: int, series: int, rounds: int, directory: str) -> None:
    # prometheus_client reads its directory from the environment at import.
    prom_dir = os.path.join(directory, "prom")
    os.makedirs(prom_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom_dir
    import prometheus_client
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    reg = MultiProcessRegistry(os.path.join(directory, "am"))
    am_counter = reg.counter("bench_requests", "Requests.", ("n",))
    am_gauge = reg.gauge("bench_inflight", "In flight.", ("n",), multiprocess_mode="livesum")

    def write_am(p: int) -> None:
        for i in range(series):
            am_counter.labels(str(i)).inc(p + 1)
            am_gauge.labels(str(i)).set(p)

    def write_prom(p: int) -> None:
        c = prometheus_client.Counter("bench_requests", "Requests.", ["n"], registry=None)
        g = prometheus_client.Gauge(
            "bench_inflight", "In flight.", ["n"], registry=None, multiprocess_mode="livesum"
        )
        for i in range(series):
            c.labels(str(i)).inc(p + 1)
            g.labels(str(i)).set(p)

    _fork_all(processes, write_am)
    _fork_all(processes, write_prom)
    # livesum gauges of prometheus_client keep dead processes' files until
    # mark_process_dead; ours drop dead processes by themselves. Both
    # libraries read every series of every process.
    prom_registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(prom_registry, path=prom_dir)

    first = time.perf_counter_ns()
    text = generate_text(reg)
    first_ns = time.perf_counter_ns() - first
    expected = sum(range(1, processes + 1))
    assert f'bench_requests_total{{n="{series - 1}"}} {expected}'.encode() in text, text[:400]
    prom_text = generate_latest(prom_registry)
    assert f'bench_requests_total{{n="{series - 1}"}} {float(expected)}'.encode() in prom_text

    def timed(fn: Callable[[], bytes]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter_ns()
            fn()
            return float(time.perf_counter_ns() - start)

        return run

    got = interleaved(
        {
            "atomicmetrics generate_text": timed(lambda: generate_text(reg)),
            "prometheus_client MultiProcessCollector": timed(
                lambda: generate_latest(prom_registry)
            ),
        },
        rounds,
    )
    print(f"\n## scrape of {processes} processes x {series} counter + {series} gauge series")
    print(f"{'atomicmetrics first scrape':40s} {first_ns / 1e6:8.2f} ms")
    for name, ns in got.items():
        print(f"{name:40s} {ns / 1e6:8.2f} ms")
    a, b = got.values()
    print(f"{'speed-up':40s} {b / a:8.1f}x  (target >= 10x)")


def bench_scale(counts: list[int], ops: int, rounds: int) -> None:
    results = run_processes(counts, ops=ops, rounds=rounds)
    print(f"\n## forked workers recording at once ({ops:,} inc() each, totals exact)")
    print(table(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4, help="writers of the scrape test")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--scale",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2, 4],
        help="process counts of the scaling test (comma-separated)",
    )
    parser.add_argument("--scale-ops", type=int, default=2_000_000)
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default={"inc", "scale", "scrape"},
        help="which questions (comma-separated: inc, scale, scrape)",
    )
    args = parser.parse_args(argv)
    print(environment())
    with tempfile.TemporaryDirectory() as directory:
        if "inc" in args.only:
            bench_inc(args.ops, args.rounds, directory)
        if "scale" in args.only:
            bench_scale(args.scale, args.scale_ops, args.rounds)
        if "scrape" in args.only:
            bench_scrape(args.processes, args.series, args.rounds, directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
