"""How much faster is generate_text than prometheus_client's generate_latest?

The series: 1,000 labelled counters and 100 labelled histograms of 12
buckets, the same names, labels and values on both sides. Each round renders
once with each library, alternating which goes first; the script prints the
median wall and CPU (this thread's) time of each and their ratios (higher =
atomicmetrics faster). On a busy machine trust the CPU ratio more.

    python benchmarks/bench_exposition.py [--rounds 30]

Comparison pinned by the ``bench`` extra: prometheus_client==0.21.1. Report
the interpreter, build and machine with any number you publish.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import statistics
import sys
import time
from collections.abc import Callable

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest

import atomicmetrics
from atomicmetrics import generate_text
from atomicmetrics.registry import Registry

COUNTERS = 1_000
HISTOGRAMS = 100
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def build_ours() -> Registry:
    registry = Registry()
    requests = registry.counter("bench_requests", "Requests.", ("path", "method"))
    for i in range(COUNTERS):
        requests.labels(f"/api/v1/item/{i}", "GET").inc(i)
    latency = registry.histogram("bench_latency_seconds", "Latency.", ("path",), buckets=BUCKETS)
    for i in range(HISTOGRAMS):
        child = latency.labels(f"/api/v1/item/{i}")
        for j in range(20):
            child.observe((i * 20 + j) / 100.0)
    return registry


def build_theirs() -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = prometheus_client.Counter(
        "bench_requests", "Requests.", ("path", "method"), registry=registry
    )
    for i in range(COUNTERS):
        requests.labels(f"/api/v1/item/{i}", "GET").inc(i)
    latency = prometheus_client.Histogram(
        "bench_latency_seconds", "Latency.", ("path",), buckets=BUCKETS, registry=registry
    )
    for i in range(HISTOGRAMS):
        child = latency.labels(f"/api/v1/item/{i}")
        for j in range(20):
            child.observe((i * 20 + j) / 100.0)
    return registry


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall time and this thread's CPU time of one call, in seconds."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    ours, theirs = build_ours(), build_theirs()
    ours_s: list[tuple[float, float]] = []
    theirs_s: list[tuple[float, float]] = []
    for r in range(args.rounds):
        pair = [(ours_s, lambda: generate_text(ours)), (theirs_s, lambda: generate_latest(theirs))]
        for sink, fn in pair if r % 2 == 0 else reversed(pair):
            sink.append(timed(fn))

    print(f"python {platform.python_version()} ({sys.implementation.name}), {platform.machine()}")
    theirs_version = importlib.metadata.version("prometheus_client")
    print(f"atomicmetrics {atomicmetrics.__version__}, prometheus_client {theirs_version}")
    print(f"series: {COUNTERS} counters + {HISTOGRAMS} histograms x {len(BUCKETS)} buckets")
    sizes = len(generate_text(ours)), len(generate_latest(theirs))
    print(f"bytes: atomicmetrics {sizes[0]}, prometheus_client {sizes[1]}")
    print(f"medians over {args.rounds} interleaved rounds:   wall ms    cpu ms")
    for label, runs in (("generate_text", ours_s), ("generate_latest", theirs_s)):
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {label:<40} {wall * 1e3:8.3f}  {cpu * 1e3:8.3f}")
    for i, what in ((0, "wall"), (1, "cpu")):
        mine = statistics.median(x[i] for x in ours_s)
        base = statistics.median(x[i] for x in theirs_s)
        print(f"ratio {what} (prometheus_client / atomicmetrics): {base / mine:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
