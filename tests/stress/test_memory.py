"""Recording allocates nothing that stays: memory is flat over millions of records.

Every recording path (one per metric type, labelled lookups included) runs
once to warm up (first-touch allocations, caches, interned ints), then
``RECORDS`` more times in total; neither the bytes traced by ``tracemalloc``
nor the process's resident set (``/proc/self/statm``) may grow by 1 MiB.
"""

from __future__ import annotations

import functools
import gc
import os
import tracemalloc
from collections.abc import Callable

import pytest

from atomicmetrics import (
    Registry,
)
from tests.helpers import CELLS, KINDS, scaled

LIMIT_BYTES = 1 << 20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _recorders() -> list[Callable[[int], None]]:
    """One recording call per family kind (a labelled lookup included) and per cell type."""
    registry = Registry()
    recorders: list[Callable[[int], None]] = []
    for kind in KINDS:
        family = kind.make(registry, f"mem_{kind.name}", ("path",))
        recorders.append(lambda i, kind=kind, family=family: kind.record(family.labels("/a")))
    for spec in CELLS:
        recorders.append(functools.partial(spec.record, spec.make()))
    return recorders


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
