"""What a scrape reads for one sharded series: the sum of every slot's shard.

A counter, histogram or rule-metric series of a multi-process registry has
one shard per process slot (``slots.py``). A reader holds a cell object over
each slot's shard (through the scrape's own mappings) and combines what they
read into what the family's ``_collect`` expects of a child: ``value()`` for
a counter, ``snapshot()`` for a histogram or a rule metric. Each shard is
read consistently on its own (a histogram shard's count equals the sum of
its buckets), so the combination is consistent too: count == sum of
buckets, errors <= count, min <= average <= max. Shards are read one after
the other, not at one instant: a scrape running while processes record sees
each shard at a slightly different moment, as it sees different series.
"""

from __future__ import annotations

from collections.abc import Sequence

from atomicmetrics._core import AtomicCounter, AtomicFloat, AtomicHistogram, RuleExecutionMetric
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram, NativeHistogramSnapshot
from atomicmetrics.counter import counter_total
from atomicmetrics.snapshots import HistogramSnapshot, RuleExecutionSnapshot

__all__ = ["CounterSum", "HistogramSum", "RuleSum"]


class CounterSum:
    """A counter series over every slot: ``value()`` is the total."""

    __slots__ = ("_floats", "_ints")

    def __init__(self, ints: Sequence[AtomicCounter], floats: Sequence[AtomicFloat]) -> None:
        self._ints = tuple(ints)
        self._floats = tuple(floats)

    def value(self) -> float:
        frac = sum([c.load() for c in self._floats], 0.0)  # float parts first, as Counter
        return counter_total(sum([c.load() for c in self._ints]), frac)


class HistogramSum:
    """A histogram series over every slot: ``snapshot()`` sums the shards' classic
    buckets; ``native_snapshot()`` reads its native histogram, one shared cell
    (None without one). Without classic bounds ``snapshot()`` is the native
    count in one ``+Inf`` bucket, as ``Histogram``'s."""

    __slots__ = ("_bounds", "_cells", "_native")

    def __init__(
        self,
        cells: Sequence[AtomicHistogram],
        bounds: tuple[float, ...],
        native: AtomicNativeHistogram | None = None,
    ) -> None:
        self._cells = tuple(cells)
        self._bounds = bounds
        self._native = native

    def native_snapshot(self) -> NativeHistogramSnapshot | None:
        return None if self._native is None else self._native.snapshot()

    def snapshot(self) -> HistogramSnapshot:
        if not self._bounds and self._native is not None:
            native = self._native.snapshot()
            return HistogramSnapshot((), [native.count], native.count, native.sum)
        buckets = [0] * (len(self._bounds) + 1)
        count, total = 0, 0.0
        for cell in self._cells:
            _bounds, shard, n, shard_sum = cell._snapshot()  # one consistent reading
            buckets = [a + b for a, b in zip(buckets, shard, strict=True)]
            count += n
            total += shard_sum
        return HistogramSnapshot(self._bounds, buckets, count, total)


class RuleSum:
    """A rule-execution series over every slot: ``snapshot()`` combines the shards'."""

    __slots__ = ("_bounds", "_cells")

    def __init__(self, cells: Sequence[RuleExecutionMetric], bounds: tuple[float, ...]) -> None:
        self._cells = tuple(cells)
        self._bounds = bounds

    def snapshot(self) -> RuleExecutionSnapshot:
        buckets = [0] * (len(self._bounds) + 1)
        count = errors = total = 0
        low: int | None = None
        high: int | None = None
        for cell in self._cells:
            s = RuleExecutionSnapshot(*cell._snapshot())  # one consistent reading
            if not s.execution_count:
                continue
            buckets = [a + b for a, b in zip(buckets, s.bucket_counts, strict=True)]
            count += s.execution_count
            errors += s.error_count
            total += s.total_duration_ns
            if s.min_duration_ns is not None and (low is None or s.min_duration_ns < low):
                low = s.min_duration_ns
            if s.max_duration_ns is not None and (high is None or s.max_duration_ns > high):
                high = s.max_duration_ns
        if not count:
            return RuleExecutionSnapshot(0, 0, 0, 0.0, None, None, 0.0, buckets)
        average = total / count  # clamped against rounding, as each shard's
        if low is not None:
            average = max(average, float(low))
        if high is not None:
            average = min(average, float(high))
        return RuleExecutionSnapshot(
            count, errors, total, average, low, high, errors / count, buckets
        )
