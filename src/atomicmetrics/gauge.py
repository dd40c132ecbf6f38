"""The Prometheus gauge: a float that goes up and down, and its family.

``Gauge`` is a C type (``atomicmetrics._core``) over one ``AtomicFloat``
cell: ``set`` stores, ``inc``/``dec`` add by CAS on the double's bits, each
one C call. In a multi-process registry the cell is per process and the
family's ``multiprocess_mode`` says how processes combine; in process the
mode is validated and otherwise ignored.
"""

from __future__ import annotations

from typing import ClassVar

from atomicmetrics._core import AtomicCounter, AtomicFloat, Gauge
from atomicmetrics.family import FamilySpec, RenderedFamily
from atomicmetrics.samples import MetricType
from atomicmetrics.storage import MultiprocessMode

__all__ = ["Gauge", "GaugeFamily"]


KIND_GAUGE = 1  # the kind _core._render and _core._samples know gauges by


class GaugeFamily(RenderedFamily[Gauge]):
    """A family of ``Gauge`` children, exposed under its own name.

    Without labels it records directly: ``family.set(3)``, ``family.inc()``.
    """

    _proxied: ClassVar[tuple[str, ...]] = ("set", "inc", "dec", "set_to_current_time", "value")
    _kind: ClassVar[int] = KIND_GAUGE
    _type: ClassVar[MetricType] = "gauge"

    def __init__(self, spec: FamilySpec, *, multiprocess_mode: MultiprocessMode) -> None:
        self.multiprocess_mode = multiprocess_mode
        super().__init__(spec, (spec.name,))

    def set(self, value: float) -> None:
        """``Gauge.set`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().set(value)

    def inc(self, amount: float = 1.0) -> None:
        """``Gauge.inc`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        """``Gauge.dec`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().dec(amount)

    def set_to_current_time(self) -> None:
        """``Gauge.set_to_current_time`` of the only child; ``ValueError`` if labelled."""
        self._only_child().set_to_current_time()

    def value(self) -> float:
        """``Gauge.value`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().value()

    def _rebind_cells(self) -> None:
        """Ask the storage again for the cell of every child and record into it.

        The multi-process registry calls this in a forked child: its storage
        then hands out that process's own per-process cells. Takes the
        family lock; a thread recording meanwhile may land in either cell.
        The family's own methods (an unlabelled family's) are the child's,
        which read the cell it holds at each call.
        """
        with self._lock:
            for key, child in self._children.items():
                child._bind(*self._cells(self._values_of(key)))

    def _new_child(self, labelvalues: tuple[str, ...]) -> Gauge:
        return Gauge._labelled(self._label_text(labelvalues), *self._cells(labelvalues))

    def _cells(self, labelvalues: tuple[str, ...]) -> tuple[AtomicFloat, AtomicCounter | None]:
        """The value cell and the stamp word (multi-process "mostrecent" only) of a child."""
        key, mode = self._cell_key(labelvalues, "value"), self.multiprocess_mode
        return self._storage.gauge_cell(key, mode), self._storage.gauge_stamp(key, mode)
