"""How much does a scraper slow down recording?

Two threads record (`family.labels(...).inc()` on their own child, in a
tight loop) for a fixed time while a third thread either does nothing,
scrapes continuously (`generate_text` in a loop, the worst case), or scrapes
every 100 ms (ten times Prometheus' usual 1 s cadence, still a heavy scraper).
The registry holds the exposition benchmark's 1,000 labelled counters + 100
labelled 12-bucket histograms, or with ``--children N`` the cardinality
benchmark's N counter children + N/10 histogram children (2.7 N series).
Modes alternate within each round; the script prints the median recording
throughput of each mode and its drop against "no scraper". Recording takes
no lock that a scrape holds, so what a scraper costs is CPU: on a GIL build
the scraping thread takes its share of the GIL, except while a large
registry's lines are written in C (the GIL is released then); on a
free-threaded build with a spare core it costs (almost) nothing.

    python benchmarks/bench_scrape_interference.py [--seconds 1.0] [--rounds 5]
        [--children 100000]

Report the interpreter, build, CPU count and load with any number you publish.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import sysconfig
import threading
import time

from atomicmetrics import Registry, generate_text
from bench_cardinality import fill_ours  # N counter + N/10 histogram children
from bench_exposition import build_ours  # the same 1,000 + 100 series

MODES = ("no scraper", "scraping every 100 ms", "scraping continuously")


def build(children: int | None) -> Registry:
    if children is None:
        return build_ours()
    registry = Registry()
    fill_ours(registry, children)
    return registry


def run(mode: str, seconds: float, registry: Registry) -> tuple[float, int]:
    """Return (records per second over both recorders, scrapes done)."""
    family = registry.counter("bench_interference", "Recorded.", ("worker",))
    family.clear()
    stop = threading.Event()
    barrier = threading.Barrier(3)
    counts = [0, 0]
    scrapes = 0

    def record(i: int) -> None:
        inc = family.labels(f"w{i}").inc
        n = 0
        barrier.wait()
        while not stop.is_set():
            for _ in range(1000):
                inc()
            n += 1000
        counts[i] = n

    def scrape() -> None:
        nonlocal scrapes
        barrier.wait()
        while not stop.is_set():
            if mode == "scraping continuously":
                generate_text(registry)
                scrapes += 1
            elif mode == "scraping every 100 ms":
                generate_text(registry)
                scrapes += 1
                stop.wait(0.1)
            else:
                stop.wait(0.1)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(2)]
    threads.append(threading.Thread(target=scrape))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    total = sum(counts)
    assert family.labels("w0").value() + family.labels("w1").value() == total
    return total / seconds, scrapes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--children", type=int, help="N counter + N/10 histogram children")
    args = parser.parse_args()
    gil = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL build"
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(
        f"# {sys.version.split()[0]} {gil}, GIL {'on' if enabled else 'off'} at run time; "
        f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}"
    )
    registry = build(args.children)
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    scrapes: dict[str, list[int]] = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode in MODES[r % 3 :] + MODES[: r % 3]:
            rate, n = run(mode, args.seconds, registry)
            rates[mode].append(rate)
            scrapes[mode].append(n)
    base = statistics.median(rates["no scraper"])
    print(f"{'mode':<24}{'records/s':>14}{'scrapes/s':>11}{'drop':>8}")
    for mode in MODES:
        med = statistics.median(rates[mode])
        per_s = statistics.median(scrapes[mode]) / args.seconds
        print(f"{mode:<24}{med:>14,.0f}{per_s:>11.1f}{1 - med / base:>8.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
