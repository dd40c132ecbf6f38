"""The Prometheus histogram (bounds in seconds), its family, and bucket samples.

A ``Histogram`` is an ``AtomicHistogram`` cell (classic buckets), an
``AtomicNativeHistogram`` cell, or both, plus ``time()``: the cells,
``observe()`` and the label text a family's child keeps are C
(``atomicmetrics._core.Histogram``, ``csrc/histogram_child.c``); this thin
subclass adds the readings, ``time()`` and the defaults. Its family exposes
``<name>_bucket`` (cumulative, ``le`` label last), ``<name>_count`` and
``<name>_sum`` per child, from one consistent snapshot per child (a child
without classic buckets shows only the ``+Inf`` bucket, from its native
histogram), and hands each native reading to the protobuf format in
``MetricFamily.native``. ``histogram_samples`` builds the samples; the
rule-execution family reuses it for its duration histogram.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, NamedTuple, ParamSpec, TypeVar

from atomicmetrics import _core
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram, NativeHistogramSnapshot
from atomicmetrics.family import Family, FamilySpec, RenderedFamily
from atomicmetrics.formatting import format_bound
from atomicmetrics.samples import LabelPairs, MetricFamily, MetricType, Sample
from atomicmetrics.snapshots import HistogramSnapshot

__all__ = [
    "DEFAULT_BUCKETS_S",
    "Histogram",
    "HistogramFamily",
    "HistogramTimer",
    "NativeConfig",
    "histogram_samples",
    "le_values",
    "native_config",
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


class NativeConfig(NamedTuple):
    """The arguments of a histogram family's native histograms (validated)."""

    schema: int
    zero_threshold: float
    max_buckets: int


def native_config(schema: int, zero_threshold: float, max_buckets: int) -> NativeConfig:
    """``NativeConfig`` checked by ``AtomicNativeHistogram``'s rules; its
    ``ValueError``/``TypeError`` name the argument with a ``native_`` prefix,
    as the registry's factory spells them."""
    try:
        cell = AtomicNativeHistogram(schema, zero_threshold, max_buckets)
    except (TypeError, ValueError, OverflowError) as e:
        raise type(e)(f"native_{e}") from None
    return NativeConfig(cell.schema, cell.zero_threshold, cell.max_buckets)


class Histogram(_core.Histogram):
    """Observations (seconds, by convention) counted in buckets: classic, native or both.

    Thread-safe and lock-free. ``observe(x)`` is one C call (NaN raises
    ``ValueError``, non-numbers ``TypeError``); with both cells it observes
    the native histogram, then the classic buckets (in that order, so that a
    scrape, which reads the classic buckets first, never finds more in them
    than in the native count). ``snapshot()`` returns a consistent
    ``HistogramSnapshot`` of the classic buckets (per bucket, not
    cumulative), or for a native-only histogram one with no bounds and the
    native count in its single ``+Inf`` bucket; ``native_snapshot()`` the
    native histogram's ``NativeHistogramSnapshot`` (None without one).
    ``time()`` observes elapsed seconds.

    ``Histogram(buckets)`` stands alone with a cell of its own (bounds in
    seconds, ``AtomicHistogram``'s rules: ``ValueError`` otherwise); a family
    passes ``cell=`` and/or ``native=`` from its registry's storage and
    ignores ``buckets``.
    """

    __slots__ = ()

    def __new__(
        cls,
        buckets: Sequence[float] = DEFAULT_BUCKETS_S,
        *,
        cell: AtomicHistogram | None = None,
        native: AtomicNativeHistogram | None = None,
    ) -> Histogram:
        if cell is None and native is None:
            cell = AtomicHistogram(buckets)
        return super().__new__(cls, cell, native)

    def snapshot(self) -> HistogramSnapshot:
        """A consistent ``HistogramSnapshot`` (see the class docstring)."""
        cell = self._cell
        if cell is not None:
            return HistogramSnapshot(*cell._snapshot())
        s = self.native_snapshot()
        assert s is not None  # one of the two cells is always there
        return HistogramSnapshot((), [s.count], s.count, s.sum)

    def native_snapshot(self) -> NativeHistogramSnapshot | None:
        """The native histogram's consistent reading, or None without one."""
        native = self._native
        return None if native is None else NativeHistogramSnapshot(*native._snapshot())

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
    """A family of ``Histogram`` children with one set of bounds (seconds),
    and a native histogram per child when ``native`` is given (``bounds``
    may then be empty: native only).

    Classic buckets are rendered and collected in C; the native readings
    (``MetricFamily.native``, for the protobuf format) are taken in Python
    after them, and a native-only family is exposed in Python throughout.

    Without labels it records directly: ``family.observe(0.2)``,
    ``with family.time(): ...``.
    """

    _proxied: ClassVar[tuple[str, ...]] = ("observe", "snapshot", "native_snapshot", "time")
    _kind: ClassVar[int] = KIND_HISTOGRAM
    _type: ClassVar[MetricType] = "histogram"

    def __init__(
        self, spec: FamilySpec, *, bounds: tuple[float, ...], native: NativeConfig | None = None
    ) -> None:
        self.bounds = bounds
        self.native = native
        name = spec.name
        super().__init__(
            spec,
            (name + "_bucket", name + "_count", name + "_sum"),
            le_values(bounds),
            render_name=name,
            negative_bound=bool(bounds) and bounds[0] < 0,
        )

    def observe(self, x: float, exemplar: Mapping[str, str] | None = None) -> None:
        """``Histogram.observe`` of the only child; ``ValueError`` on a labelled family."""
        self._only_child().observe(x, exemplar=exemplar)

    def snapshot(self) -> HistogramSnapshot:
        """``Histogram.snapshot`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().snapshot()

    def native_snapshot(self) -> NativeHistogramSnapshot | None:
        """``Histogram.native_snapshot`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().native_snapshot()

    def time(self) -> HistogramTimer:
        """``Histogram.time`` of the only child; ``ValueError`` on a labelled family."""
        return self._only_child().time()

    def _new_child(self, labelvalues: tuple[str, ...]) -> Histogram:
        cell = native = None
        if self.bounds:
            key = self._cell_key(labelvalues, "histogram")
            cell = self._storage.histogram_cell(key, self.bounds)
        if self.native is not None:
            key = self._cell_key(labelvalues, "native")
            native = self._storage.native_histogram_cell(key, *self.native)
        child = Histogram._labelled(self._label_text(labelvalues), cell, native)
        child._set_exemplar_slots(self._exemplar_slots())
        return child

    def collect(self) -> Iterator[MetricFamily]:
        """Yield the exposed family: the classic buckets read in C, then (with
        native histograms) each child's native reading; a native-only family
        in Python. Never takes the family lock."""
        if not self.bounds:
            for family in Family.collect(self):
                yield self._with_exemplars(family)
            return
        family = next(super().collect())
        if self.native is None:
            yield family
            return
        natives: dict[LabelPairs, NativeHistogramSnapshot] = {}
        names = self.labelnames
        for key, child in self._children.copy().items():
            n = child.native_snapshot()
            if n is not None:
                natives[tuple(zip(names, self._values_of(key), strict=True))] = n
        yield MetricFamily(family.name, family.type, family.help, family.samples, natives)

    def _render_part(
        self, openmetrics: bool
    ) -> tuple[int, dict[Any, Any], bytes, tuple[bytes, ...], int] | None:
        """None for a native-only family: it is rendered in Python."""
        return super()._render_part(openmetrics) if self.bounds else None

    def _collect(self, items: list[tuple[LabelPairs, Histogram]]) -> Iterator[MetricFamily]:
        """The family from ``(labels, reader)`` items, in Python: a native-only
        family's, and what a multi-process registry passes (readers summing a
        series over processes; anything with ``snapshot()`` and
        ``native_snapshot()``)."""
        samples: list[Sample] = []
        natives: dict[LabelPairs, NativeHistogramSnapshot] = {}
        texts = self._label_texts()
        le = self._le
        for labels, child in items:
            if self.bounds:
                s = child.snapshot()  # classic first: see Histogram
                buckets, count, total = s.buckets, s.count, s.sum
                n = child.native_snapshot()
            else:  # native only: its one reading for every format
                n = child.native_snapshot()
                assert n is not None
                buckets, count, total = [n.count], n.count, n.sum
            if n is not None:
                natives[labels] = n
            text, pairs = texts.rendered(labels, le)
            samples += histogram_samples(self.name, labels, le, buckets, count, total, text, pairs)
        self._keep_texts(texts)
        yield MetricFamily(self.name, "histogram", self.help, tuple(samples), natives)
