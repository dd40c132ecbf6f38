"""AtomicHistogram: fixed buckets, lock-free ``observe()``, consistent snapshots.

The cell and every method but ``snapshot()`` are C
(``atomicmetrics._core.AtomicHistogram``, ``csrc/histogram.c``); this thin
subclass adds ``snapshot()``, which builds a ``HistogramSnapshot`` from the
C reading.
"""

from __future__ import annotations

from atomicmetrics import _core
from atomicmetrics.snapshots import HistogramSnapshot

__all__ = ["AtomicHistogram"]


class AtomicHistogram(_core.AtomicHistogram):
    """A histogram with fixed bucket upper bounds and lock-free ``observe()``.

    ``AtomicHistogram(bounds)``: ints or floats, strictly increasing and
    finite; a trailing +Inf is accepted and dropped (the +Inf bucket always
    exists); anything else raises ValueError (TypeError for non-numbers).
    Bucket i counts ``bounds[i-1] < x <= bounds[i]`` (Prometheus ``le``).

    Thread-safe (GIL and free-threaded builds, and across processes when the
    cell lives in a shared arena). ``observe()`` never waits: three atomic
    operations after the bucket search (linear up to 32 bounds, then
    bisection). Readers (every getter, ``snapshot()``, ``reset()``) exclude
    each other by a lock bit in the cell, never block ``observe()``, and see
    a consistent state: client_golang's hot/cold scheme
    (``csrc/hotcold.h``). When ``observe()`` calls contend (free-threaded
    builds), the histogram spreads over per-thread stripes, each a whole
    cell, and readers add them up (``csrc/stripes.h``); it is one cell until
    then, and always on a GIL build. Does not check that the sum stays
    finite: it becomes +-Inf or NaN like float addition.
    """

    __slots__ = ()

    def snapshot(self) -> HistogramSnapshot:
        """A consistent ``HistogramSnapshot(bounds, buckets, count, sum)``.

        The observations started before the call (per stripe, when striped:
        one starting meanwhile may be in this snapshot or the next, whole);
        ``count == sum(buckets)`` always. One reader pass (see the class), then the
        dataclass is built without holding anything.
        """
        return HistogramSnapshot(*self._snapshot())
