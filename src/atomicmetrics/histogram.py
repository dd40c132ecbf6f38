"""The Prometheus histogram (bounds in seconds), its family, and bucket samples.

A ``Histogram`` is one ``AtomicHistogram`` cell plus ``time()``: the cell
reference, ``observe()`` and the label text a family's child keeps are C
(``atomicmetrics._core.Histogram``, ``csrc/histogram_child.c``), this thin
subclass adds ``snapshot()``, ``time()`` and the defaults. Its family
exposes ``<name>_bucket`` (cumulative, ``le`` label last), ``<name>_count``
and ``<name>_sum`` per child, from one consistent snapshot per child, written
in C by the text formats. ``histogram_samples`` builds those samples in
Python for the rule-execution family's duration histogram.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import ClassVar, ParamSpec, TypeVar

from atomicmetrics import _core
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.family import FamilySpec, RenderedFamily
from atomicmetrics.formatting import format_bound
from atomicmetrics.samples import LabelPairs, MetricType, Sample
from atomicmetrics.snapshots import HistogramSnapshot

__all__ = [
    "DEFAULT_BUCKETS_S",
    "Histogram",
    "HistogramFamily",
    "HistogramTimer",
    "histogram_samples",
    "le_values",
]

P = ParamSpec("P")
R = TypeVar("R")

# Prometheus' default buckets (client_golang DefBuckets, client_python
# Histogram.DEFAULT_BUCKETS): 5 ms to 10 s, for request latencies in seconds.
DEFAULT_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip


class HistogramTimer:
    """Times a block or every call of a function and observes the seconds.

    As a context manager it observes when the block exits (also when it
    raises; the exception propagates). As a decorator each call gets its own
    start time, so a decorated function may run on many threads at once.
    Clock: ``time.perf_counter()``.
    """

    __slots__ = ("_observe", "_start")

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        self._start = 0.0

    def __enter__(self) -> HistogramTimer:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._observe(time.perf_counter() - self._start)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        observe = self._observe

        @functools.wraps(func)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)

        return timed


class Histogram(_core.Histogram):
    """Observations (seconds, by convention) counted in fixed buckets.

    Thread-safe and lock-free. ``observe(x)`` is the cell's own observation
    in one C call (NaN raises ``ValueError``, non-numbers ``TypeError``);
    ``snapshot()`` returns a consistent ``HistogramSnapshot`` (per-bucket
    counts, not cumulative). ``time()`` observes elapsed seconds.

    ``Histogram(buckets)`` stands alone with a cell of its own (bounds in
    seconds, ``AtomicHistogram``'s rules: ``ValueError`` otherwise); a family
    passes ``cell=`` from its registry's storage and ignores ``buckets``.
    """

    __slots__ = ()

    def __new__(
        cls, buckets: Sequence[float] = DEFAULT_BUCKETS_S, *, cell: AtomicHistogram | None = None
    ) -> Histogram:
        return super().__new__(cls, AtomicHistogram(buckets) if cell is None else cell)

    def snapshot(self) -> HistogramSnapshot:
        """A consistent ``HistogramSnapshot`` of the cell (``AtomicHistogram.snapshot``)."""
        return HistogramSnapshot(*self._snapshot())

    def time(self) -> HistogramTimer:
        """A context manager and decorator observing elapsed seconds."""
        return HistogramTimer(self.observe)

    def __repr__(self) -> str:
        s = self.snapshot()
        return f"Histogram(count={s.count!r}, sum={s.sum!r})"


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
