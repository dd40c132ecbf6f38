"""The Prometheus counter: a monotonically increasing total, and its family.

A ``Counter`` keeps two cells, so that each increment is one atomic
operation: integral increments go to an int64 cell (exact), fractional ones
are added by CAS on a double's bits; ``value()`` sums them. In process the
cells are ``_IntAdder`` and ``_FloatAdder``: one word each while recording
does not contend, spread over per-thread cache-line stripes once it does
(free-threaded builds; ``csrc/stripes.h``); in a multi-process arena they
are ``AtomicCounter`` and ``AtomicFloat``. A counter family named ``x`` (or
asked for as ``x_total``) has family name ``x`` and exposes
the sample ``x_total``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import ClassVar, Protocol

from atomicmetrics._core import _DefaultCall, _FloatAdder, _IntAdder
from atomicmetrics._numeric import as_int64
from atomicmetrics.family import Family
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample
from atomicmetrics.storage import FloatCell, IntCell

__all__ = ["Counter", "CounterFamily", "counter_total"]

_INT64_LIMIT = 2.0**63  # integral floats below it take the exact int64 path


class _Inc(Protocol):
    def __call__(self, amount: float = ..., /) -> None: ...


def counter_total(whole: int, frac: float) -> float:
    """A counter's value from its int part and its float part (read float first).

    An ``int`` while the float part is 0.0. Never below ``whole``: past 2**53
    the int part rounds to a double on the way, possibly down (2**53 + 1 plus
    0.5 gives 2**53, below the int-only value read before, and a scraper
    would see a counter reset; found by scripts/fuzz_api.py), so the sum is
    then taken one ULP up; the result stays monotonic in both parts.
    """
    if frac == 0.0:
        return whole
    total = whole + frac
    if total < whole:
        total = math.nextafter(total, math.inf)
    return total


class Counter:
    """A monotonically increasing counter: an exact int64 part plus a float part.

    ``inc(amount=1)`` adds ``amount``, which must be ``>= 0``: ``int``
    amounts and integral ``float`` amounts below 2**63 are added exactly to
    the int64 part, other floats (``+inf`` included) to the float part.
    Raises ``ValueError`` for a negative amount or NaN, ``TypeError`` for a
    non-number, ``OverflowError`` when the int64 part would pass 2**63-1; a
    call that raises changes nothing. ``value()`` is the total.

    ``Counter()`` stands alone with cells of its own; a family passes the
    cells its registry's storage made (``int_cell``, ``float_cell``).

    Thread-safe and lock-free: each ``inc`` is one atomic add on one cell.
    ``inc()`` without an argument is ``_core._DefaultCall`` straight into
    the int cell's ``inc``: two C calls, no Python frame. ``value()`` reads the
    two cells one after the other: exact for a quiescent counter, and never
    less than what was complete before the call.
    """

    __slots__ = ("_float", "_int", "inc")

    inc: _Inc

    def __init__(
        self, int_cell: IntCell | None = None, float_cell: FloatCell | None = None
    ) -> None:
        if int_cell is None:
            int_cell = _IntAdder()
        self._int = int_cell  # integral increments (exact)
        self._float = _FloatAdder() if float_cell is None else float_cell  # fractional ones
        self.inc = _DefaultCall(int_cell.inc, self._add)

    def _add(self, amount: float = 1.0) -> None:
        """``inc(amount)`` with an argument (see the class docstring)."""
        if isinstance(amount, float):
            if not amount >= 0.0:
                raise ValueError(f"counters only go up: amount must be >= 0, not {amount!r}")
            if amount < _INT64_LIMIT and amount.is_integer():
                self._int.add(int(amount))
            else:
                self._float.add(amount)
        else:
            n = as_int64(amount, "amount")
            if n < 0:
                raise ValueError(f"counters only go up: amount must be >= 0, not {n}")
            self._int.add(n)

    def value(self) -> float:
        """The total: an ``int`` while no fractional amount was added, else a float."""
        frac = self._float.load()
        return counter_total(self._int.load(), frac)

    def __repr__(self) -> str:
        return f"Counter({self.value()!r})"

    def _hot_parts(self) -> tuple[object, ...]:
        """This counter and the objects its recording path loads (to pin)."""
        return (self, self.inc, self._int, self._float)


class CounterFamily(Family[Counter]):
    """A family of ``Counter`` children, exposed as ``<name>_total``.

    Without labels it records directly: ``family.inc()``, ``family.value()``.
    """

    _proxied: ClassVar[tuple[str, ...]] = ("inc", "value")

    def inc(self, amount: float = 1.0) -> None:
        """``Counter.inc`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().inc(amount)

    def value(self) -> float:
        """``Counter.value`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().value()

    def _child_parts(self, child: Counter) -> tuple[object, ...]:
        return child._hot_parts()

    def _new_child(self, labelvalues: tuple[str, ...]) -> Counter:
        storage = self._storage
        return Counter(
            storage.int_cell(self._cell_key(labelvalues, "int")),
            storage.float_cell(self._cell_key(labelvalues, "float")),
        )

    def _collect(self, items: list[tuple[LabelPairs, Counter]]) -> Iterator[MetricFamily]:
        sample = self.name + "_total"
        texts = self._label_texts()
        text = texts.text
        samples = tuple([Sample(sample, ls, child.value(), text(ls)) for ls, child in items])
        self._keep_texts(texts)
        yield MetricFamily(self.name, "counter", self.help, samples)
