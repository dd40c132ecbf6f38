"""The Prometheus histogram (bounds in seconds), its family, and bucket samples.

``Histogram`` is a C type (``atomicmetrics._core``) over one
``AtomicHistogram`` cell, plus ``time()`` (a ``HistogramTimer``). Its family
exposes ``<name>_bucket`` (cumulative, ``le`` label last), ``<name>_count``
and ``<name>_sum`` per child, from one consistent snapshot per child.
``histogram_samples`` builds those samples in Python for the rule-execution
family's duration histogram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from atomicmetrics._core import Histogram
from atomicmetrics.family import FamilySpec, RenderedFamily
from atomicmetrics.formatting import format_bound
from atomicmetrics.samples import LabelPairs, MetricType, Sample
from atomicmetrics.snapshots import HistogramSnapshot
from atomicmetrics.timing import DEFAULT_BUCKETS_S, HistogramTimer

__all__ = [
    "DEFAULT_BUCKETS_S",
    "Histogram",
    "HistogramFamily",
    "HistogramTimer",
    "histogram_samples",
    "le_values",
]


def le_values(bounds: Sequence[float]) -> tuple[str, ...]:
    """The ``le`` label values of buckets with these upper bounds, ``+Inf`` last."""
    return (*[format_bound(b) for b in bounds], "+Inf")


def histogram_samples(
    name: str,
    labels: LabelPairs,
    le: tuple[str, ...],
    buckets: Sequence[int],
    count: int,
    total: float,
    texts: tuple[str, ...],
    bucket_labels: Sequence[LabelPairs] | None = None,
) -> list[Sample]:
    """Samples of one histogram child: cumulative ``_bucket``s, ``_count``, ``_sum``.

    ``buckets`` are per-bucket counts aligned with ``le`` (from
    ``le_values``); ``count`` must equal their sum (a consistent snapshot).
    ``texts`` are the rendered labels and ``bucket_labels`` each bucket's
    label pairs (``LabelTexts.rendered(labels, le)``; built here if omitted).
    """
    bucket_name = name + "_bucket"
    out: list[Sample] = []
    cumulative = 0
    if bucket_labels is None:
        bucket_labels = [(*labels, ("le", b)) for b in le]
    for pairs, n, text in zip(bucket_labels, buckets, texts[1:], strict=True):
        cumulative += n
        out.append(Sample(bucket_name, pairs, cumulative, text))
    out.append(Sample(name + "_count", labels, count, texts[0]))
    out.append(Sample(name + "_sum", labels, total, texts[0]))
    return out


KIND_HISTOGRAM = 2  # the kind _core._render and _core._samples know histograms by


class HistogramFamily(RenderedFamily[Histogram]):
    """A family of ``Histogram`` children with one set of bounds (seconds).

    Without labels it records directly: ``family.observe(0.2)``,
    ``with family.time(): ...``.
    """

    _proxied: ClassVar[tuple[str, ...]] = ("observe", "snapshot", "time")
    _kind: ClassVar[int] = KIND_HISTOGRAM
    _type: ClassVar[MetricType] = "histogram"

    def __init__(self, spec: FamilySpec, *, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        name = spec.name
        super().__init__(
            spec,
            (name + "_bucket", name + "_count", name + "_sum"),
            le_values(bounds),
            render_name=name,
            negative_bound=bounds[0] < 0,
        )

    def observe(self, x: float) -> None:
        """``Histogram.observe`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().observe(x)

    def snapshot(self) -> HistogramSnapshot:
        """``Histogram.snapshot`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().snapshot()

    def time(self) -> HistogramTimer:
        """``Histogram.time`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().time()

    def _new_child(self, labelvalues: tuple[str, ...]) -> Histogram:
        key = self._cell_key(labelvalues, "histogram")
        cell = self._storage.histogram_cell(key, self.bounds)
        return Histogram._labelled(self._label_text(labelvalues), cell)
