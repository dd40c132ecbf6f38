"""The Prometheus counter: a monotonically increasing total, and its family.

``Counter`` is a C type (``atomicmetrics._core``, ``csrc/counter_child.c``)
with two cells, so that each increment is one atomic operation in one C
call: integral increments go to an int64 cell (exact), fractional ones are
added by CAS on a double's bits; ``value()`` sums them. In process the cells
are ``_IntAdder`` and ``_FloatAdder`` (the latter made on the first
fractional increment): one word each while recording does not contend,
spread over per-thread cache-line stripes once it does (free-threaded
builds; ``csrc/stripes.h``); in a multi-process arena they are
``AtomicCounter`` and ``AtomicFloat``. A counter family named ``x`` (or
asked for as ``x_total``) has family name ``x`` and exposes the sample
``x_total``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import ClassVar

from atomicmetrics._core import Counter
from atomicmetrics.family import FamilySpec, RenderedFamily
from atomicmetrics.samples import LabelPairs, MetricFamily, MetricType, Sample

__all__ = ["Counter", "CounterFamily", "counter_total"]

KIND_COUNTER = 0  # the kind _core._render and _core._samples know counters by


def counter_total(whole: int, frac: float) -> float:
    """A counter's value from its int part and its float part (read float first).

    An ``int`` while the float part is 0.0. Never below ``whole``: past 2**53
    the int part rounds to a double on the way, possibly down (2**53 + 1 plus
    0.5 gives 2**53, below the int-only value read before, and a scraper
    would see a counter reset; found by scripts/fuzz_api.py), so the sum is
    then taken one ULP up; the result stays monotonic in both parts. The
    Python twin of what ``Counter.value()`` computes in C, for readers that
    sum a series over processes (``atomicmetrics.multiprocess``).
    """
    if frac == 0.0:
        return whole
    total = whole + frac
    if total < whole:
        total = math.nextafter(total, math.inf)
    return total


class CounterFamily(RenderedFamily[Counter]):
    """A family of ``Counter`` children, exposed as ``<name>_total``.

    Without labels it records directly: ``family.inc()``, ``family.value()``.
    """

    _proxied: ClassVar[tuple[str, ...]] = ("inc", "value")
    _kind: ClassVar[int] = KIND_COUNTER
    _type: ClassVar[MetricType] = "counter"

    def __init__(self, spec: FamilySpec) -> None:
        super().__init__(spec, (spec.name + "_total",))

    def inc(self, amount: float = 1.0, exemplar: Mapping[str, str] | None = None) -> None:
        """``Counter.inc`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().inc(amount, exemplar=exemplar)

    def value(self) -> float:
        """``Counter.value`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().value()

    def _new_child(self, labelvalues: tuple[str, ...]) -> Counter:
        storage = self._storage
        child = Counter._labelled(
            self._label_text(labelvalues),
            storage.int_cell(self._cell_key(labelvalues, "int")),
            storage.float_cell(self._cell_key(labelvalues, "float")),
        )
        child._set_exemplar_slots(self._exemplar_slots())
        return child

    def _collect(self, items: list[tuple[LabelPairs, Counter]]) -> Iterator[MetricFamily]:
        """The family from ``(labels, reader)`` items, in Python: what a
        multi-process registry passes (readers summing a series over every
        process; anything with ``value()``)."""
        sample = self.name + "_total"
        texts = self._label_texts()
        text = texts.text
        samples = tuple([Sample(sample, ls, child.value(), text(ls)) for ls, child in items])
        self._keep_texts(texts)
        yield MetricFamily(self.name, "counter", self.help, samples)
