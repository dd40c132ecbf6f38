"""AtomicNativeHistogram: Prometheus's native (sparse, exponential) histogram.

The hot path (``observe``) and the consistent read are C methods of
``atomicmetrics._core.AtomicNativeHistogram``; this module adds the public
constructor signature and ``snapshot()``, which builds a frozen
``NativeHistogramSnapshot`` from the cell's plain tuple.
"""

from __future__ import annotations

from dataclasses import dataclass

from atomicmetrics import _core

__all__ = ["AtomicNativeHistogram", "NativeHistogramSnapshot"]


@dataclass(frozen=True, slots=True)
class NativeHistogramSnapshot:
    """One consistent reading of a native histogram.

    ``positive`` and ``negative`` map a bucket index to its count, populated
    buckets only, in increasing index order; bucket ``i`` of ``schema``
    holds the ``|v|`` with ``base**(i-1) < |v| <= base**i``, ``base =
    2**(2**-schema)``. ``count == zero_count + sum(positive.values()) +
    sum(negative.values())`` always, and ``sum`` is the sum of the same
    observations. ``schema`` may be lower than the histogram's constructor
    schema (it was lowered to keep at most ``max_buckets`` populated
    buckets). A reading, not a live view: taking it never blocks recording.
    """

    schema: int
    zero_threshold: float
    zero_count: int
    count: int
    sum: float
    positive: dict[int, int]
    negative: dict[int, int]


class AtomicNativeHistogram(_core.AtomicNativeHistogram):
    """Prometheus's native histogram: sparse exponential buckets, lock-free observe().

    ``schema`` (an int in -4..8) sets the resolution: ``2**schema`` buckets
    per power of two, each ``base = 2**(2**-schema)`` times wider than the
    last (schema 3: 8 per octave, about 9% apart). ``observe(v)`` counts
    ``v`` in the zero bucket when ``|v| <= zero_threshold`` (a finite float
    >= 0), else in bucket ``i`` of the positive or negative span with
    ``base**(i-1) < |v| <= base**i`` -- exact at every bound of every schema:
    the index comes from the float's exponent and mantissa bits and a table
    of the bounds rounded down, never from ``log()``. ``+-Inf`` go to the
    bucket above every finite value of their span; NaN raises
    ``ValueError``. When more than ``max_buckets`` buckets are populated the
    histogram lowers its schema by one (bucket pairs merge as Prometheus
    merges them) until they fit, never below -4; ``reset()`` forgets every
    observation and returns to the constructor's schema. Constructor
    arguments out of range raise ``ValueError`` naming the argument.

    Thread-safe (GIL and free-threaded builds, and across processes in the
    multi-process arena): ``observe`` takes no lock -- three atomic
    operations after an O(1) bucket search, plus an allocation the first
    time a page of 16 buckets is touched. The observation that populates
    bucket ``max_buckets + 1`` also lowers the schema if no reader holds the
    histogram (it waits only for observations in flight; at most 12 times
    between resets). ``snapshot()`` is consistent under concurrent
    observers: client_golang's hot/cold scheme, protocol in
    ``csrc/native_histogram.c``. Memory: the object plus 128 bytes per 16
    touched buckets and 144 per 256 (about 1.9 KB for 160 populated
    buckets). The sum is plain float addition: it does not check that it
    stays finite.
    """

    __slots__ = ()

    def __new__(
        cls, schema: int = 3, zero_threshold: float = 2.0**-128, max_buckets: int = 160
    ) -> AtomicNativeHistogram:
        return super().__new__(cls, schema, zero_threshold, max_buckets)

    def snapshot(self) -> NativeHistogramSnapshot:
        """A consistent reading: exactly the observations started before the call."""
        return NativeHistogramSnapshot(*self._snapshot())

    def __repr__(self) -> str:
        s = self.snapshot()
        return (
            f"AtomicNativeHistogram(schema={s.schema!r}, count={s.count!r}, sum={s.sum!r}, "
            f"buckets={len(s.positive) + len(s.negative)!r})"
        )
