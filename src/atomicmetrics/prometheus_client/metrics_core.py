"""prometheus_client.metrics_core: metric families as collectors hand them over.

``Metric`` is one family (name without type suffix, HELP text, type, unit)
and its ``samples``; the ``*MetricFamily`` classes build one for a custom
collector, one ``add_metric`` call per label set. Read side only: these
objects are built at scrape time and never shared with recording code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from atomicmetrics.prometheus_client.samples import Exemplar, Sample, Timestamp

__all__ = [
    "METRIC_LABEL_NAME_RE",
    "METRIC_NAME_RE",
    "METRIC_TYPES",
    "RESERVED_METRIC_LABEL_NAME_RE",
    "CounterMetricFamily",
    "GaugeHistogramMetricFamily",
    "GaugeMetricFamily",
    "HistogramMetricFamily",
    "InfoMetricFamily",
    "Metric",
    "StateSetMetricFamily",
    "SummaryMetricFamily",
    "UnknownMetricFamily",
    "UntypedMetricFamily",
]

METRIC_TYPES = (
    "counter",
    "gauge",
    "summary",
    "histogram",
    "gaugehistogram",
    "unknown",
    "info",
    "stateset",
)
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
METRIC_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_METRIC_LABEL_NAME_RE = re.compile(r"^__.*$")

TimestampLike = Timestamp | float | None


class Metric:
    """One metric family and its samples.

    ``name`` gets ``_<unit>`` appended when ``unit`` is given and the name
    does not already end with it; ``"untyped"`` is stored as ``"unknown"``.
    Raises ``ValueError`` for an invalid name or type. Equal when name, HELP,
    type, unit and samples are. Not thread-safe: built by one collector call.
    """

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
        if unit and not name.endswith("_" + unit):
            name += "_" + unit
        if not METRIC_NAME_RE.match(name):
            raise ValueError("Invalid metric name: " + name)
        self.name: str = name
        self.documentation: str = documentation
        self.unit: str = unit
        if typ == "untyped":
            typ = "unknown"
        if typ not in METRIC_TYPES:
            raise ValueError("Invalid metric type: " + typ)
        self.type: str = typ
        self.samples: list[Sample] = []

    def add_sample(
        self,
        name: str,
        labels: dict[str, str],
        value: float,
        timestamp: TimestampLike = None,
        exemplar: Exemplar | None = None,
    ) -> None:
        """Append one sample (the exposition formats trust what is added)."""
        self.samples.append(Sample(name, labels, value, timestamp, exemplar))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Metric)
            and self.name == other.name
            and self.documentation == other.documentation
            and self.type == other.type
            and self.unit == other.unit
            and self.samples == other.samples
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (
            f"Metric({self.name}, {self.documentation}, {self.type}, {self.unit}, {self.samples})"
        )

    def _restricted_metric(self, names: set[str] | frozenset[str]) -> Metric | None:
        """A copy holding only the samples named in ``names``; None when none is."""
        kept = [s for s in self.samples if s.name in names]
        if not kept:
            return None
        metric = Metric(self.name, self.documentation, self.type)
        metric.samples = kept
        return metric


class _Family(Metric):
    """A family built for a custom collector: label names, then ``add_metric``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        typ: str,
        labels: Iterable[str] | None,
        unit: str = "",
    ) -> None:
        Metric.__init__(self, name, documentation, typ, unit)
        self._labelnames: tuple[str, ...] = tuple(labels or ())

    def _labels(self, values: Sequence[str]) -> dict[str, str]:
        return dict(zip(self._labelnames, values, strict=False))


def _one_of(value: object, labels: object, what: str = "value") -> None:
    if labels is not None and value is not None:
        raise ValueError(f"Can only specify at most one of {what} and labels.")


class UnknownMetricFamily(_Family):
    """An ``unknown`` (untyped) family: one value per label set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: float | None = None,
        labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        super().__init__(name, documentation, "unknown", labels, unit)
        _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(
        self, labels: Sequence[str], value: float, timestamp: TimestampLike = None
    ) -> None:
        """Add the sample of one label set."""
        self.samples.append(Sample(self.name, self._labels(labels), value, timestamp))


UntypedMetricFamily = UnknownMetricFamily


class CounterMetricFamily(_Family):
    """A counter family; a name given with ``_total`` loses it (OpenMetrics naming)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: float | None = None,
        labels: Sequence[str] | None = None,
        created: float | None = None,
        unit: str = "",
    ) -> None:
        if name.endswith("_total"):
            name = name[: -len("_total")]
        super().__init__(name, documentation, "counter", labels, unit)
        _one_of(value, labels)
        if value is not None:
            self.add_metric([], value, created)

    def add_metric(
        self,
        labels: Sequence[str],
        value: float,
        created: float | None = None,
        timestamp: TimestampLike = None,
    ) -> None:
        """Add ``<name>_total`` (and ``<name>_created`` when given) for one label set."""
        pairs = self._labels(labels)
        self.samples.append(Sample(self.name + "_total", pairs, value, timestamp))
        if created is not None:
            self.samples.append(Sample(self.name + "_created", pairs, created, timestamp))


class GaugeMetricFamily(_Family):
    """A gauge family: one value per label set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: float | None = None,
        labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        super().__init__(name, documentation, "gauge", labels, unit)
        _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(
        self, labels: Sequence[str], value: float, timestamp: TimestampLike = None
    ) -> None:
        """Add the sample of one label set."""
        self.samples.append(Sample(self.name, self._labels(labels), value, timestamp))


class SummaryMetricFamily(_Family):
    """A summary family: ``_count`` and ``_sum`` per label set (no quantiles)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        count_value: int | None = None,
        sum_value: float | None = None,
        labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        super().__init__(name, documentation, "summary", labels, unit)
        if (sum_value is None) != (count_value is None):
            raise ValueError("count_value and sum_value must be provided together.")
        _one_of(count_value, labels)
        if count_value is not None and sum_value is not None:
            self.add_metric([], count_value, sum_value)

    def add_metric(
        self,
        labels: Sequence[str],
        count_value: int,
        sum_value: float,
        timestamp: TimestampLike = None,
    ) -> None:
        """Add ``_count`` and ``_sum`` of one label set."""
        pairs = self._labels(labels)
        self.samples.append(Sample(self.name + "_count", pairs, count_value, timestamp))
        self.samples.append(Sample(self.name + "_sum", pairs, sum_value, timestamp))


Bucket = tuple[str, float] | tuple[str, float, Exemplar]


class HistogramMetricFamily(_Family):
    """A histogram family: cumulative ``_bucket`` samples, ``_count`` and ``_sum``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[Bucket] | None = None,
        sum_value: float | None = None,
        labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        super().__init__(name, documentation, "histogram", labels, unit)
        if sum_value is not None and buckets is None:
            raise ValueError("sum value cannot be provided without buckets.")
        _one_of(buckets, labels, "buckets")
        if buckets is not None:
            self.add_metric([], buckets, sum_value)

    def add_metric(
        self,
        labels: Sequence[str],
        buckets: Sequence[Bucket],
        sum_value: float | None,
        timestamp: TimestampLike = None,
    ) -> None:
        """Add one label set: ``buckets`` are ``(le, cumulative count[, exemplar])``
        in order, ``+Inf`` last; ``_count``/``_sum`` only when ``sum_value`` is
        given and no bound is negative (the OpenMetrics rule)."""
        pairs = self._labels(labels)
        for bucket in buckets:
            exemplar: Any = bucket[2] if len(bucket) == 3 else None
            self.samples.append(
                Sample(
                    self.name + "_bucket",
                    {**pairs, "le": bucket[0]},
                    bucket[1],
                    timestamp,
                    exemplar,
                )
            )
        if float(buckets[0][0]) >= 0 and sum_value is not None:
            self.samples.append(Sample(self.name + "_count", pairs, buckets[-1][1], timestamp))
            self.samples.append(Sample(self.name + "_sum", pairs, sum_value, timestamp))


class GaugeHistogramMetricFamily(_Family):
    """A gauge histogram family: ``_bucket``, ``_gcount`` and ``_gsum`` per label set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[tuple[str, float]] | None = None,
        gsum_value: float | None = None,
        labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        super().__init__(name, documentation, "gaugehistogram", labels, unit)
        _one_of(buckets, labels, "buckets")
        if buckets is not None:
            self.add_metric([], buckets, gsum_value)

    def add_metric(
        self,
        labels: Sequence[str],
        buckets: Sequence[tuple[str, float]],
        gsum_value: float | None,
        timestamp: TimestampLike = None,
    ) -> None:
        """Add one label set: ``buckets`` are ``(le, value)`` pairs, ``+Inf`` last."""
        pairs = self._labels(labels)
        for le, value in buckets:
            self.samples.append(
                Sample(self.name + "_bucket", {**pairs, "le": le}, value, timestamp)
            )
        self.samples.append(Sample(self.name + "_gcount", pairs, buckets[-1][1], timestamp))
        # A None gsum_value is accepted here and refused by the exposition formats.
        self.samples.append(Sample(self.name + "_gsum", pairs, gsum_value, timestamp))  # type: ignore[arg-type]


class InfoMetricFamily(_Family):
    """An info family: one ``_info`` sample of value 1 per label set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: dict[str, str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, documentation, "info", labels)
        _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(
        self, labels: Sequence[str], value: dict[str, str], timestamp: TimestampLike = None
    ) -> None:
        """Add one label set whose info pairs are ``value``."""
        self.samples.append(
            Sample(self.name + "_info", {**self._labels(labels), **value}, 1, timestamp)
        )


class StateSetMetricFamily(_Family):
    """A state set family: one sample per state (1 when on), labelled by the name."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: dict[str, bool] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name, documentation, "stateset", labels)
        _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(
        self, labels: Sequence[str], value: dict[str, bool], timestamp: TimestampLike = None
    ) -> None:
        """Add one label set: ``value`` maps state names to on/off (sorted by name)."""
        pairs = self._labels(labels)
        for state, enabled in sorted(value.items()):
            self.samples.append(
                Sample(self.name, {**pairs, self.name: state}, 1 if enabled else 0, timestamp)
            )
