"""What a registry hands to exposition: metric families and their samples.

This is the seam between the recording side (metric types, families,
registry, recorder, multi-process arena) and the reading side (text,
OpenMetrics, JSON, HTTP, bridges). Anything that can produce families is a
``Collector``; a ``Registry`` is one and holds others.

Read-side objects: built at scrape time, may allocate freely; never touched by
a recording call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from atomicmetrics.atomic_native_histogram import NativeHistogramSnapshot

MetricType = Literal["counter", "gauge", "histogram", "unknown"]
LabelPairs = tuple[tuple[str, str], ...]


class Exemplar(NamedTuple):
    """The trace an observation came from, as OpenMetrics and protobuf show it.

    ``labels`` (``trace_id`` and the like) identify it, ``value`` is what was
    observed or added, ``timestamp`` is when (seconds since the epoch, or
    None if unknown).
    """

    labels: LabelPairs
    value: float
    timestamp: float | None = None


class Sample(NamedTuple):
    """One exposed line: full sample name, label pairs, value.

    ``name`` is the complete sample name (``x_total``, ``x_bucket``,
    ``x_sum``); ``labels`` are in family label order, with ``le`` last on
    buckets; ``value`` is an ``int`` where the source is exact (counts), else
    a ``float`` (may be NaN or +-Inf).

    ``exemplar`` is the sample's latest ``Exemplar`` (a counter's ``_total``,
    a histogram's ``_bucket``), shown by OpenMetrics and protobuf only.

    ``rendered_labels`` is an optional cache a producer may fill to spare the
    exposition formats the label work at scrape time: exactly
    ``atomicmetrics.formatting.render_labels(labels)`` (``{a="x",le="0.5"}``,
    or ``""`` for no labels), typically computed once per child. ``None``
    means "render from ``labels``". Both text formats share it.

    A ``NamedTuple`` rather than a frozen dataclass: a scrape builds one per
    exposed line, and a frozen dataclass costs about three times as much to
    construct (its ``__init__`` goes through ``object.__setattr__``), which
    was ~10% of ``generate_text`` on ``benchmarks/bench_exposition.py``.
    Immutable and built by the same positional or keyword call either way.
    """

    name: str
    labels: LabelPairs
    value: int | float
    rendered_labels: str | None = None
    exemplar: Exemplar | None = None

    # The cache is not part of a sample's identity: equal name, labels, value
    # and exemplar make equal samples, whether or not a producer cached the
    # text.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sample):
            return self[:3] == other[:3] and self[4] == other[4]
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Sample):
            return self[:3] != other[:3] or self[4] != other[4]
        return NotImplemented

    def __hash__(self) -> int:
        return hash((*self[:3], self[4]))


# The `native` of every family without native histograms (read-only, shared).
_NO_NATIVE: Mapping[LabelPairs, NativeHistogramSnapshot] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A metric family as the exposition formats see it.

    ``name`` is the family name without type suffix (a counter exposed as
    ``x_total`` has name ``x``); ``samples`` already carry their suffixes.
    ``native`` (histograms only) maps a child's label pairs (without ``le``)
    to the reading of its native histogram: the protobuf format sends it,
    the text formats show the classic samples only.
    """

    name: str
    type: MetricType
    help: str
    samples: tuple[Sample, ...]
    native: Mapping[LabelPairs, NativeHistogramSnapshot] = field(default_factory=lambda: _NO_NATIVE)


@runtime_checkable
class Collector(Protocol):
    """Anything that yields metric families at scrape time."""

    def collect(self) -> Iterable[MetricFamily]: ...
