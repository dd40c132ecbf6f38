"""Recording allocates nothing that stays: memory is flat over millions of records.

Every recording path (one per metric type, labelled lookups included) runs
once to warm up (first-touch allocations, caches, interned ints), then
``RECORDS`` more times in total; neither the bytes traced by ``tracemalloc``
nor the process's resident set (``/proc/self/statm``) may grow by 1 MiB.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import Callable

import pytest

from atomicmetrics import (
    AtomicCounter,
    AtomicDuration,
    AtomicFloat,
    AtomicHistogram,
    AtomicMinMax,
    Registry,
    RuleExecutionMetric,
    StripedCounter,
    ThroughputMetric,
)
from tests.helpers import scaled

LIMIT_BYTES = 1 << 20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _recorders() -> list[Callable[[int], None]]:
    registry = Registry()
    counter = registry.counter("mem_requests", "r", ("path",))
    gauge = registry.gauge("mem_inflight", "g")
    histogram = registry.histogram("mem_latency", "l", ("path",))
    rule = registry.rule_execution("mem_rule", "r", ("rule",))
    throughput = registry.throughput("mem_events", "e", sla_ns=500)
    atomic = AtomicCounter()
    flt = AtomicFloat()
    duration = AtomicDuration()
    minmax = AtomicMinMax()
    raw_histogram = AtomicHistogram([1.0, 10.0, 100.0])
    raw_rule = RuleExecutionMetric()
    raw_throughput = ThroughputMetric()
    striped = StripedCounter()
    return [
        lambda i: counter.labels("/a").inc(),
        lambda i: gauge.set(i),
        lambda i: histogram.labels("/a").observe(i * 1e-6),
        lambda i: rule.labels("r").record(i, i % 7 == 0),
        lambda i: throughput.record(1, i % 1000),
        lambda i: atomic.add(i),
        lambda i: flt.add(0.5),
        lambda i: duration.add_ns(i),
        lambda i: minmax.observe(i),
        lambda i: raw_histogram.observe(i % 200),
        lambda i: raw_rule.record(i),
        lambda i: raw_throughput.record(2, i),
        lambda i: striped.add(i),
    ]


@pytest.mark.stress
def test_millions_of_records_keep_memory_flat() -> None:
    records = scaled(400_000)  # ATOMICMETRICS_STRESS_SCALE=25: 10 million
    recorders = _recorders()
    per_recorder = records // len(recorders)
    for record in recorders:  # warm-up
        for i in range(1000):
            record(i)
    gc.collect()
    tracemalloc.start()
    try:
        traced_before = tracemalloc.get_traced_memory()[0]
        rss_before = _rss_bytes()
        for record in recorders:
            for i in range(per_recorder):
                record(i)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
        rss_growth = _rss_bytes() - rss_before
    finally:
        tracemalloc.stop()
    print(
        f"\n{per_recorder * len(recorders)} records: traced +{traced_growth} B, RSS +{rss_growth} B"
    )
    assert traced_growth < LIMIT_BYTES
    assert rss_growth < LIMIT_BYTES
