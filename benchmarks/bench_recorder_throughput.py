"""How many recorded calls per second does the async recorder apply, end to end?

P producer threads each record N calls ``AtomicCounter.add(1)`` while W
worker threads apply them; a run's time goes from the producers' common start
(a barrier) to the moment every call has been applied (``flush()`` returned
True, or the baseline's ``queue.join()``). items/s = applied calls / that time.

Candidates, interleaved (each round runs every candidate once, in a new
random order; the median over rounds is reported):

* ``AsyncMetricRecorder`` with ``drop_on_overflow=False``: producers wait for
  room, so nothing is lost -- checked: the counter must equal P x N;
* ``AsyncMetricRecorder`` dropping on overflow (the production preset's
  policy): applied/s and the share dropped;
* the baseline: ``queue.Queue`` (unbounded) drained by W threads that call
  ``fn(*args)`` and ``task_done()`` -- what one writes without a recorder.

    python benchmarks/bench_recorder_throughput.py --producers 2 --workers 2
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable

from atomicmetrics import AsyncMetricRecorder, AsyncMetricsConfig, AtomicCounter

Result = tuple[float, int, int]  # (seconds, applied, dropped)


def _run_producers(producers: int, record: Callable[[], None]) -> float:
    """Start `producers` threads on a barrier; return the start time."""
    barrier = threading.Barrier(producers + 1)

    def body() -> None:
        barrier.wait()
        record()

    threads = [threading.Thread(target=body) for _ in range(producers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return start


def run_recorder(producers: int, workers: int, items: int, buffer: int, drop: bool) -> Result:
    counter = AtomicCounter()
    config = AsyncMetricsConfig(
        buffer_size=buffer, worker_count=workers, drop_on_overflow=drop, flush_timeout_s=60.0
    )
    with AsyncMetricRecorder(config) as recorder:

        def produce() -> None:
            record, add = recorder.record, counter.add
            for _ in range(items):
                record(add, 1)

        start = _run_producers(producers, produce)
        assert recorder.flush(60.0)
        elapsed = time.perf_counter() - start
        stats = recorder.stats()
    assert counter.load() == stats.processed == stats.enqueued
    assert stats.enqueued + stats.dropped == producers * items
    return elapsed, stats.processed, stats.dropped


def run_queue(producers: int, workers: int, items: int) -> Result:
    counter = AtomicCounter()
    q: queue.Queue[tuple[Callable[[int], None], int] | None] = queue.Queue()

    def work() -> None:
        get, done = q.get, q.task_done
        while (item := get()) is not None:
            fn, arg = item
            fn(arg)
            done()
        done()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()

    def produce() -> None:
        put, item = q.put_nowait, (counter.add, 1)
        for _ in range(items):
            put(item)

    start = _run_producers(producers, produce)
    q.join()
    elapsed = time.perf_counter() - start
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join()
    assert counter.load() == producers * items
    return elapsed, producers * items, 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--items", type=int, default=200_000, help="calls per producer")
    parser.add_argument("--buffer", type=int, default=50_000, help="recorder buffer_size")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    candidates: dict[str, Callable[[], Result]] = {
        "AsyncMetricRecorder, blocking (nothing lost)": lambda: run_recorder(
            args.producers, args.workers, args.items, args.buffer, drop=False
        ),
        "AsyncMetricRecorder, dropping": lambda: run_recorder(
            args.producers, args.workers, args.items, args.buffer, drop=True
        ),
        "baseline: queue.Queue + worker threads": lambda: run_queue(
            args.producers, args.workers, args.items
        ),
    }
    results: dict[str, list[Result]] = {name: [] for name in candidates}
    order = list(candidates)
    for _ in range(args.rounds):
        random.shuffle(order)
        for name in order:
            results[name].append(candidates[name]())

    print(f"interpreter: {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}")
    print(
        f"{args.producers} producers x {args.items:,} calls AtomicCounter.add(1), "
        f"{args.workers} workers, buffer {args.buffer:,}; median of {args.rounds} "
        "interleaved rounds"
    )
    print(f"{'candidate':<46} {'applied/s':>12} {'dropped':>8}")
    for name, runs in results.items():
        rate = statistics.median(applied / seconds for seconds, applied, _ in runs)
        dropped = statistics.median(d / (a + d) for _, a, d in runs)
        print(f"{name:<46} {rate:>12,.0f} {dropped:>8.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
