"""ThroughputMetric: events per second over a sliding window, with SLA violations.

The hot path (``record``) and every getter are C methods of
``atomicmetrics._core.ThroughputCell``; this module adds the public
constructor signature (defaults, the clock) and ``snapshot()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from atomicmetrics._core import ThroughputCell
from atomicmetrics.snapshots import ThroughputSnapshot

__all__ = ["ThroughputMetric", "ThroughputSnapshot"]


class ThroughputMetric(ThroughputCell):
    """Events processed, samples, SLA violations and events/second over a window.

    ``window_s`` and ``resolution_s`` (seconds, taken to the nearest
    nanosecond) must be > 0 and ``window_s`` a whole multiple of
    ``resolution_s``, else ValueError; the window is a ring of
    ``window_s / resolution_s`` slots (at most 2**20) whose boundaries are
    multiples of ``resolution_s`` on ``clock`` (an ``int`` of nanoseconds;
    ``time.monotonic_ns`` is read in C without calling Python).

    ``record(events=1, latency_ns=None)`` adds ``events`` (an int >= 0) to
    the events processed and to the current slot, 1 to the samples, and 1 to
    the SLA violations when ``latency_ns > sla_ns``. ValueError for negative
    events or latency, TypeError for non-ints, OverflowError outside int64;
    a call that raises changes nothing.

    Thread-safe and lock-free (GIL and free-threaded builds): ``record`` is a
    few atomic operations plus one clock read; the ring rotates by CAS
    without a lock. ``throughput()`` and ``snapshot()`` read the whole ring
    (O(slots)). A slot counts at most 2**40 - 1 events per resolution
    interval (it saturates; totals stay exact). Protocol and what concurrent
    readers observe: ``csrc/throughput.c`` and ``docs/concurrency.md``.
    """

    __slots__ = ()

    def __new__(
        cls,
        window_s: float = 60.0,
        resolution_s: float = 1.0,
        sla_ns: int | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> ThroughputMetric:
        return super().__new__(cls, window_s, resolution_s, sla_ns, clock)

    def snapshot(self) -> ThroughputSnapshot:
        """All six getters read together, consistently (see ThroughputSnapshot)."""
        return ThroughputSnapshot(*self._read())

    def __repr__(self) -> str:
        return (
            f"ThroughputMetric(window_s={self.window_s!r}, resolution_s={self.resolution_s!r}, "
            f"sla_ns={self.sla_ns!r})"
        )
