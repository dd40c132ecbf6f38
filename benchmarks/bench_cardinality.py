"""Do scrapes and children stay cheap from 1,000 to 300,000 children?

For each size n (``--sizes``, default 1k, 10k, 100k, 300k) one registry holds
a counter family with n children (label ``tenant``) and a histogram family
with n/10 children (default buckets: 15 buckets + count + sum = 17 series
each), so n children make 2.7 n series; prometheus_client 0.21.1 holds the
same data (its ``_created`` series switched off, so both expose exactly the
same series). Per size, the four scrapes -- ``generate_text`` and
``generate_openmetrics`` against prometheus_client's two ``generate_latest``
-- take turns for ``--rounds`` rounds in a rotating order; the table gives
the median wall time per series of each and the ratios. Then memory per
child: tracemalloc around the creation of n counter children (one
``labels(f"tenant-{i}").inc()`` each, so each label value is counted) and of
n/10 histogram children (one observation each), in both libraries.

    python benchmarks/bench_cardinality.py [--sizes 1000,10000,100000,300000]
        [--rounds 5] [--markdown FILE]

Targets (issue "high cardinality", CPython 3.11): <= 0.3 us per series at
every size in both formats, the largest within 1.5x of the smallest; >= 20x
faster than generate_latest at 27,000 series; <= 250 B per counter child and
<= 60% of prometheus_client's per histogram child. Every figure belongs with
the environment line printed first; the machine must be quiet for the
absolute numbers, the ratios are what one interleaved run measures best.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_latest_om

import atomicmetrics
from atomicmetrics import Registry, generate_openmetrics, generate_text

SERIES_PER_HISTOGRAM = 17  # 15 buckets (DEFAULT_BUCKETS_S and +Inf), _count, _sum


def series(n: int) -> int:
    return n + n // 10 * SERIES_PER_HISTOGRAM


def fill_ours(registry: Registry, n: int, histograms: bool = True) -> None:
    requests = registry.counter("bench_requests", "Requests.", ("tenant",))
    for i in range(n):
        requests.labels(f"tenant-{i}").inc(i)
    if histograms:
        latency = registry.histogram("bench_latency_seconds", "Latency.", ("tenant",))
        for i in range(n // 10):
            latency.labels(f"tenant-{i}").observe(i % 1000 / 100)


def fill_theirs(registry: CollectorRegistry, n: int, histograms: bool = True) -> None:
    requests = prometheus_client.Counter(
        "bench_requests", "Requests.", ("tenant",), registry=registry
    )
    for i in range(n):
        requests.labels(f"tenant-{i}").inc(i)
    if histograms:
        latency = prometheus_client.Histogram(
            "bench_latency_seconds", "Latency.", ("tenant",), registry=registry
        )
        for i in range(n // 10):
            latency.labels(f"tenant-{i}").observe(i % 1000 / 100)


def fill_ours_histograms(registry: Registry, n: int) -> None:
    latency = registry.histogram("bench_latency_seconds", "Latency.", ("tenant",))
    for i in range(n):
        latency.labels(f"tenant-{i}").observe(i % 1000 / 100)


def fill_theirs_histograms(registry: CollectorRegistry, n: int) -> None:
    latency = prometheus_client.Histogram(
        "bench_latency_seconds", "Latency.", ("tenant",), registry=registry
    )
    for i in range(n):
        latency.labels(f"tenant-{i}").observe(i % 1000 / 100)


def bytes_per_child(make: Callable[[], Any], fill: Callable[[Any, int], None], n: int) -> float:
    """Memory tracemalloc sees allocated and kept by ``fill(registry, n)``, per child."""
    registry = make()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill(registry, n)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()


def scrape_medians(n: int, rounds: int) -> dict[str, float]:
    """Median seconds of each of the four scrapes of size n, taken in turns."""
    ours, theirs = Registry(), CollectorRegistry()
    fill_ours(ours, n)
    fill_theirs(theirs, n)
    assert generate_text(ours).count(b"\n") == generate_latest(theirs).count(b"\n")
    cands: dict[str, Callable[[], object]] = {
        "text": lambda: generate_text(ours),
        "om": lambda: generate_openmetrics(ours),
        "latest": lambda: generate_latest(theirs),
        "latest_om": lambda: generate_latest_om(theirs),
    }
    runs: dict[str, list[float]] = {name: [] for name in cands}
    order = list(cands)
    for r in range(rounds):
        for name in order[r % 4 :] + order[: r % 4]:
            start = time.perf_counter()
            cands[name]()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in runs.items()}


def environment() -> str:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return (
        f"# {platform.python_implementation()} {platform.python_version()} "
        f"(GIL {'on' if gil else 'off'}), "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
        f"atomicmetrics {atomicmetrics.__version__}, "
        f"prometheus_client {importlib.metadata.version('prometheus_client')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,300000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    prometheus_client.disable_created_metrics()
    print(environment())

    lines = [
        "| children | series | `generate_text` | per series | `generate_openmetrics` | "
        "per series | `generate_latest` | per series | OM `generate_latest` | per series | "
        "ratio text | ratio OM |",
        "|" + " ---: |" * 12,
    ]
    print(lines[0])
    print(lines[1])
    per_series: dict[str, list[float]] = {"text": [], "om": []}
    for n in sizes:
        med = scrape_medians(n, args.rounds)
        s = series(n)
        per_series["text"].append(med["text"] / s)
        per_series["om"].append(med["om"] / s)
        row = (
            f"| {n:,} | {s:,} | {med['text'] * 1e3:,.1f} ms | {med['text'] / s * 1e6:.3f} µs "
            f"| {med['om'] * 1e3:,.1f} ms | {med['om'] / s * 1e6:.3f} µs "
            f"| {med['latest'] * 1e3:,.0f} ms | {med['latest'] / s * 1e6:.2f} µs "
            f"| {med['latest_om'] * 1e3:,.0f} ms | {med['latest_om'] / s * 1e6:.2f} µs "
            f"| {med['latest'] / med['text']:.1f}x | {med['latest_om'] / med['om']:.1f}x |"
        )
        print(row, flush=True)
        lines.append(row)
    for fmt, values in per_series.items():
        flat = f"{fmt}: largest / smallest per-series cost {max(values) / min(values):.2f}x"
        print(flat)
        lines.append("")
        lines.append(flat)

    lines += [
        "",
        "| children | counter child: atomicmetrics | prometheus_client | "
        "histogram child: atomicmetrics | prometheus_client | histogram ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    print(lines[-2])
    print(lines[-1])
    for n in sizes:
        counter_ours = bytes_per_child(Registry, lambda r, k: fill_ours(r, k, False), n)
        counter_theirs = bytes_per_child(
            CollectorRegistry, lambda r, k: fill_theirs(r, k, False), n
        )
        h = max(n // 10, 1)
        hist_ours = bytes_per_child(Registry, fill_ours_histograms, h)
        hist_theirs = bytes_per_child(CollectorRegistry, fill_theirs_histograms, h)
        row = (
            f"| {n:,} | {counter_ours:,.0f} B | {counter_theirs:,.0f} B "
            f"| {hist_ours:,.0f} B | {hist_theirs:,.0f} B | {hist_ours / hist_theirs:.0%} |"
        )
        print(row, flush=True)
        lines.append(row)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(environment() + "\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
