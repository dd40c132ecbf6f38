"""The storage seam: where the cells of a registry's metrics come from.

A family never constructs C objects itself: when ``labels()`` creates a child
it asks its registry's ``CellStorage`` for the cells, by a ``CellKey`` that
names them (family name, label values, role within the child). Two
implementations exist:

* ``InProcessStorage`` (the default of ``Registry``) constructs the C objects,
  which own their words in process memory; the key is ignored. Its counter
  cells are contention-adaptive (``_IntAdder``, ``_FloatAdder``: one word
  each until threads contend, then spread over per-thread stripes), and so
  are its histogram, rule-execution and throughput cells.
* the multi-process arena (``atomicmetrics.multiprocess``) places each cell
  in a shared mmap'd file at an offset it finds or allocates for the key and
  returns ``Type._from_buffer(view, offset, ...)``; every process asking for
  the same key gets the same words. A ``Registry`` subclass installs its
  storage by assigning ``self._storage`` in ``__init__`` before any family
  exists.

Roles (``CellKey.role``) per child kind: counter ``"int"`` (integral adds,
an ``IntCell``: ``_IntAdder`` in process, ``AtomicCounter`` in the arena) and
``"float"`` (fractional adds, a ``FloatCell``: ``AtomicFloat`` in the arena;
``None`` in process, where the counter makes its own ``_FloatAdder`` on its
first fractional add, which saves 32 bytes on every counter that never sees
one);
gauge ``"value"``; histogram ``"histogram"`` (classic buckets) and
``"native"`` (native histogram); rule execution ``"rule"``;
throughput ``"throughput"``.

Gauges get their own method because in a multi-process registry their cell
is per process and aggregated by ``mode`` at read time (``MULTIPROCESS_MODES``:
prometheus_client's names and meanings); in-process the mode is validated by
the factory and ignored here. ``gauge_stamp`` gives a ``"mostrecent"`` or
``"livemostrecent"`` gauge of a multi-process registry a word where each
change stores its time (``None`` otherwise: no cost in process).

A storage may refuse a new label set by raising ``CardinalityError`` from a
cell method (the multi-process arena enforces ``max_series`` across every
process that way); the family then raises it or collapses, as for its own
limit.

``forget(family, labelvalues)`` is called by ``remove()`` (``None`` for every
label set by ``clear()``): in process there is nothing to do; the arena marks
the label set removed for every process.

Storage methods run only when a child is created or removed (under the
family's lock), never on a recording path.

``creation_lock()`` is the reentrant lock the families of this storage
create and remove children under (``None``: each family takes its own). A
storage whose own slow paths take a lock returns that lock, so that making a
child takes one lock, never two in some order: a GC finalizer that runs in
a thread holding one of two locks and asks for the other (a new child made
in ``__del__`` during a scrape) would otherwise wait forever for a thread
that waits for it.
"""

from __future__ import annotations

import threading
from typing import Literal, NamedTuple, Protocol, get_args

from atomicmetrics._core import AtomicCounter, AtomicFloat, _FloatAdder, _IntAdder
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram
from atomicmetrics.rule_metric import RuleExecutionMetric
from atomicmetrics.throughput import ThroughputMetric

__all__ = [
    "MULTIPROCESS_MODES",
    "CellKey",
    "CellStorage",
    "FloatCell",
    "InProcessStorage",
    "IntCell",
    "MultiprocessMode",
]

# prometheus_client's names and meanings (docs/multiprocess.md, gauge modes).
MultiprocessMode = Literal[
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
]
MULTIPROCESS_MODES: tuple[MultiprocessMode, ...] = get_args(MultiprocessMode)


class CellKey(NamedTuple):
    """Names one cell: ``family`` (the family name, a counter's without
    ``_total``), the child's ``labelvalues`` in label-name order (``()``
    without labels), and the cell's ``role`` within the child."""

    family: str
    labelvalues: tuple[str, ...]
    role: str


IntCell = AtomicCounter | _IntAdder
"""A counter's integral part: ``_IntAdder`` in process, ``AtomicCounter`` in an arena
(the types ``Counter`` accepts, ``StripedCounter`` aside)."""

FloatCell = AtomicFloat | _FloatAdder
"""A counter's fractional part: ``_FloatAdder`` in process, ``AtomicFloat`` in an arena."""


class CellStorage(Protocol):
    """Makes the cells of a child; see the module docstring for the contract."""

    def int_cell(self, key: CellKey) -> IntCell: ...

    def float_cell(self, key: CellKey) -> FloatCell | None: ...

    def gauge_cell(self, key: CellKey, mode: MultiprocessMode) -> AtomicFloat: ...

    def gauge_stamp(self, key: CellKey, mode: MultiprocessMode) -> AtomicCounter | None: ...

    def forget(self, family: str, labelvalues: tuple[str, ...] | None) -> None: ...

    def creation_lock(self) -> threading.RLock | None: ...

    def histogram_cell(self, key: CellKey, bounds: tuple[float, ...]) -> AtomicHistogram: ...

    def native_histogram_cell(
        self, key: CellKey, schema: int, zero_threshold: float, max_buckets: int
    ) -> AtomicNativeHistogram: ...

    def rule_cell(self, key: CellKey, bounds: tuple[float, ...]) -> RuleExecutionMetric: ...

    def throughput_cell(
        self, key: CellKey, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> ThroughputMetric: ...


class InProcessStorage:
    """The default storage: fresh C objects owning their words; keys ignored."""

    __slots__ = ()

    def int_cell(self, key: CellKey) -> IntCell:
        return _IntAdder()

    def float_cell(self, key: CellKey) -> FloatCell | None:
        return None  # the counter makes one if it ever needs it

    def gauge_cell(self, key: CellKey, mode: MultiprocessMode) -> AtomicFloat:
        return AtomicFloat()

    def gauge_stamp(self, key: CellKey, mode: MultiprocessMode) -> AtomicCounter | None:
        return None

    def forget(self, family: str, labelvalues: tuple[str, ...] | None) -> None:
        pass

    def creation_lock(self) -> threading.RLock | None:
        return None

    def histogram_cell(self, key: CellKey, bounds: tuple[float, ...]) -> AtomicHistogram:
        return AtomicHistogram(bounds)

    def native_histogram_cell(
        self, key: CellKey, schema: int, zero_threshold: float, max_buckets: int
    ) -> AtomicNativeHistogram:
        return AtomicNativeHistogram(schema, zero_threshold, max_buckets)

    def rule_cell(self, key: CellKey, bounds: tuple[float, ...]) -> RuleExecutionMetric:
        return RuleExecutionMetric(bounds)

    def throughput_cell(
        self, key: CellKey, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> ThroughputMetric:
        return ThroughputMetric(window_s=window_s, resolution_s=resolution_s, sla_ns=sla_ns)
