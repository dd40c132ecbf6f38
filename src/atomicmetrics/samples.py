"""What a registry hands to exposition: metric families and their samples.

This is the seam between the recording side (metric types, families,
registry, recorder, multi-process arena) and the reading side (text,
OpenMetrics, JSON, HTTP, bridges). Anything that can produce families is a
``Collector``; a ``Registry`` is one and holds others.

Read-side objects: built at scrape time, may allocate freely; never touched by
a recording call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, runtime_checkable

MetricType = Literal["counter", "gauge", "histogram", "unknown"]
LabelPairs = tuple[tuple[str, str], ...]


class Sample(NamedTuple):
    """One exposed line: full sample name, label pairs, value.

    ``name`` is the complete sample name (``x_total``, ``x_bucket``,
    ``x_sum``); ``labels`` are in family label order, with ``le`` last on
    buckets; ``value`` is an ``int`` where the source is exact (counts), else
    a ``float`` (may be NaN or +-Inf).

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

    # The cache is not part of a sample's identity: equal name, labels and
    # value make equal samples, whether or not a producer cached the text.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sample):
            return self[:3] == other[:3]
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Sample):
            return self[:3] != other[:3]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self[:3])


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A metric family as the exposition formats see it.

    ``name`` is the family name without type suffix (a counter exposed as
    ``x_total`` has name ``x``); ``samples`` already carry their suffixes.
    """

    name: str
    type: MetricType
    help: str
    samples: tuple[Sample, ...]


@runtime_checkable
class Collector(Protocol):
    """Anything that yields metric families at scrape time."""

    def collect(self) -> Iterable[MetricFamily]: ...
