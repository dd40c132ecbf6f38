"""The Prometheus gauge: a float that goes up and down, and its family.

A ``Gauge`` is one ``AtomicFloat`` cell: ``set`` stores, ``inc``/``dec`` add
by CAS on the double's bits. In a multi-process registry the cell is per
process and the family's ``multiprocess_mode`` says how processes combine;
in process the mode is validated and otherwise ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import ClassVar

from atomicmetrics._core import AtomicCounter, AtomicFloat
from atomicmetrics.family import Family, FamilySpec
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample
from atomicmetrics.storage import MultiprocessMode

__all__ = ["Gauge", "GaugeFamily"]


class Gauge:
    """A float value that can be set, increased and decreased.

    Thread-safe and lock-free. ``set(value)`` stores an ``int`` or ``float``
    (NaN and infinities included) and ``value()`` loads it; both are the
    cell's own C methods, so they cost one C call. ``inc``/``dec`` add by a
    CAS loop. Non-numbers raise ``TypeError``; ints too large for a double
    raise ``OverflowError``. ``Gauge()`` stands alone with a cell of its own;
    a family passes the cell its registry's storage made.
    """

    __slots__ = ("_cell", "_stamp", "set", "value")

    set: Callable[[float], None]
    value: Callable[[], float]

    def __init__(self, cell: AtomicFloat | None = None, stamp: AtomicCounter | None = None) -> None:
        self._bind(AtomicFloat() if cell is None else cell, stamp)

    def _bind(self, cell: AtomicFloat, stamp: AtomicCounter | None = None) -> None:
        """Record into ``cell`` from now on (see ``GaugeFamily._rebind_cells``).

        With a ``stamp`` word (a multi-process ``"mostrecent"`` gauge) every
        change also stores ``time.time_ns()`` there, after the value.
        """
        self._cell = cell
        self._stamp = stamp
        self.set = cell.store if stamp is None else self._set_stamped  # set(value)
        self.value = cell.load  # value(): the current value

    def _set_stamped(self, value: float) -> None:
        self._cell.store(value)
        self._stamp.store(time.time_ns())  # type: ignore[union-attr]  # bound only with one

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (default 1; may be negative)."""
        self._cell.add(amount)
        if self._stamp is not None:
            self._stamp.store(time.time_ns())

    def dec(self, amount: float = 1.0) -> None:
        """Subtract ``amount`` (default 1; may be negative)."""
        self.inc(-amount)

    def set_to_current_time(self) -> None:
        """Set the value to the current Unix time in seconds (``time.time()``)."""
        self.set(time.time())

    def __repr__(self) -> str:
        return f"Gauge({self.value()!r})"


class GaugeFamily(Family[Gauge]):
    """A family of ``Gauge`` children, exposed under its own name.

    Without labels it records directly: ``family.set(3)``, ``family.inc()``.
    """

    _proxied: ClassVar[tuple[str, ...]] = ("set", "inc", "dec", "set_to_current_time", "value")

    def __init__(self, spec: FamilySpec, *, multiprocess_mode: MultiprocessMode) -> None:
        self.multiprocess_mode = multiprocess_mode
        super().__init__(spec)

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
        """
        with self._lock:
            for key, child in self._children.items():
                child._bind(*self._cells(self._values_of(key)))
            only = self._only
            if only is not None:  # the family's own set/value are the child's
                self.__dict__["set"] = only.set
                self.__dict__["value"] = only.value

    def _child_parts(self, child: Gauge) -> tuple[object, ...]:
        return (child, child.set, child.value, child._cell)

    def _new_child(self, labelvalues: tuple[str, ...]) -> Gauge:
        return Gauge(*self._cells(labelvalues))

    def _cells(self, labelvalues: tuple[str, ...]) -> tuple[AtomicFloat, AtomicCounter | None]:
        """The value cell and the stamp word (multi-process "mostrecent" only) of a child."""
        key, mode = self._cell_key(labelvalues, "value"), self.multiprocess_mode
        return self._storage.gauge_cell(key, mode), self._storage.gauge_stamp(key, mode)

    def _collect(self, items: list[tuple[LabelPairs, Gauge]]) -> Iterator[MetricFamily]:
        name = self.name
        texts = self._label_texts()
        text = texts.text
        samples = tuple(
            [Sample(name, labels, child.value(), text(labels)) for labels, child in items]
        )
        self._keep_texts(texts)
        yield MetricFamily(name, "gauge", self.help, samples)
