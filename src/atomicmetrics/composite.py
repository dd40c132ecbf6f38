"""Families of the composite metrics: rule execution and throughput (DESIGN §3).

Their children are the C metrics themselves (``RuleExecutionMetric``,
``ThroughputMetric``), so recording through a child is the fused C call.
Each family is exposed as several Prometheus families, all read from ONE
snapshot per child per scrape, so that the exposed values agree with each
other (``_count`` of the duration histogram equals ``_executions_total``):

=============================================  =========  ==========================
exposed name (``<n>`` = family name)           type       source (snapshot field)
=============================================  =========  ==========================
``<n>_executions_total``                       counter    ``execution_count``
``<n>_errors_total``                           counter    ``error_count``
``<n>_duration_seconds`` (bucket/count/sum)    histogram  ``bucket_counts``,
                                                          ``execution_count``,
                                                          ``total_duration_ns`` / 1e9
``<n>_duration_min_seconds``                   gauge      ``min_duration_ns`` / 1e9
``<n>_duration_max_seconds``                   gauge      ``max_duration_ns`` / 1e9
``<n>_events_total``                           counter    ``events_processed``
``<n>_samples_total``                          counter    ``sample_count``
``<n>_sla_violations_total``                   counter    ``sla_violations``
``<n>_events_per_second``                      gauge      ``throughput``
``<n>_peak_events_per_second``                 gauge      ``peak_throughput``
=============================================  =========  ==========================

The min/max gauges have no sample for a child that recorded nothing, and the
family is left out entirely while no child has one. Duration bucket bounds
are the family's nanosecond bounds divided by 1e9.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from atomicmetrics._core import RuleExecutionMetric
from atomicmetrics.family import Family, OnOverflow
from atomicmetrics.histogram import histogram_samples, le_values
from atomicmetrics.names import counter_names, gauge_names, histogram_names
from atomicmetrics.rule_metric import RuleTimer
from atomicmetrics.samples import LabelPairs, MetricFamily, MetricType, Sample
from atomicmetrics.snapshots import RuleExecutionSnapshot, ThroughputSnapshot
from atomicmetrics.storage import CellStorage
from atomicmetrics.throughput import ThroughputMetric

__all__ = [
    "RuleExecutionFamily",
    "ThroughputFamily",
    "rule_execution_names",
    "throughput_names",
]

_NS_PER_S = 1e9


def rule_execution_names(name: str) -> frozenset[str]:
    """Names a rule-execution family ``name`` claims."""
    return (
        counter_names(name + "_executions")
        | counter_names(name + "_errors")
        | histogram_names(name + "_duration_seconds")
        | gauge_names(name + "_duration_min_seconds")
        | gauge_names(name + "_duration_max_seconds")
    )


def throughput_names(name: str) -> frozenset[str]:
    """Names a throughput family ``name`` claims."""
    return (
        counter_names(name + "_events")
        | counter_names(name + "_samples")
        | counter_names(name + "_sla_violations")
        | gauge_names(name + "_events_per_second")
        | gauge_names(name + "_peak_events_per_second")
    )


def _help(help: str, what: str) -> str:
    return f"{help} ({what})" if help else what


def _family(name: str, kind: MetricType, help: str, samples: list[Sample]) -> MetricFamily:
    return MetricFamily(name, kind, help, tuple(samples))


class RuleExecutionFamily(Family[RuleExecutionMetric]):
    """A family of ``RuleExecutionMetric`` children (bounds in nanoseconds).

    Without labels it records directly: ``family.record(1200)``,
    ``with family.time(): ...``, and every getter of the metric.
    """

    _proxied: ClassVar[tuple[str, ...]] = (
        "record",
        "time",
        "execution_count",
        "error_count",
        "total_duration_ns",
        "average_duration_ns",
        "min_duration_ns",
        "max_duration_ns",
        "error_rate",
        "bucket_counts",
        "snapshot",
        "reset",
    )

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: tuple[str, ...],
        storage: CellStorage,
        *,
        max_series: int | None,
        on_overflow: OnOverflow,
        bounds: tuple[float, ...],
    ) -> None:
        self.bounds = bounds
        self._le = le_values([b / _NS_PER_S for b in bounds])
        super().__init__(
            name, help, labelnames, storage, max_series=max_series, on_overflow=on_overflow
        )

    # Delegation for an unlabelled family (see Family); typed for users.
    def record(self, duration_ns: int, error: bool = False) -> None:
        """``RuleExecutionMetric.record`` of the only child."""
        self._only_child().record(duration_ns, error)

    def time(self) -> RuleTimer:
        """``RuleExecutionMetric.time`` of the only child."""
        return self._only_child().time()

    def execution_count(self) -> int:
        """``RuleExecutionMetric.execution_count`` of the only child."""
        return self._only_child().execution_count()

    def error_count(self) -> int:
        """``RuleExecutionMetric.error_count`` of the only child."""
        return self._only_child().error_count()

    def total_duration_ns(self) -> int:
        """``RuleExecutionMetric.total_duration_ns`` of the only child."""
        return self._only_child().total_duration_ns()

    def average_duration_ns(self) -> float:
        """``RuleExecutionMetric.average_duration_ns`` of the only child."""
        return self._only_child().average_duration_ns()

    def min_duration_ns(self) -> int | None:
        """``RuleExecutionMetric.min_duration_ns`` of the only child."""
        return self._only_child().min_duration_ns()

    def max_duration_ns(self) -> int | None:
        """``RuleExecutionMetric.max_duration_ns`` of the only child."""
        return self._only_child().max_duration_ns()

    def error_rate(self) -> float:
        """``RuleExecutionMetric.error_rate`` of the only child."""
        return self._only_child().error_rate()

    def bucket_counts(self) -> list[int]:
        """``RuleExecutionMetric.bucket_counts`` of the only child."""
        return self._only_child().bucket_counts()

    def snapshot(self) -> RuleExecutionSnapshot:
        """``RuleExecutionMetric.snapshot`` of the only child."""
        return self._only_child().snapshot()

    def reset(self) -> None:
        """``RuleExecutionMetric.reset`` of the only child."""
        self._only_child().reset()

    def _new_child(self, labelvalues: tuple[str, ...]) -> RuleExecutionMetric:
        return self._storage.rule_cell(self._cell_key(labelvalues, "rule"), self.bounds)

    def _collect(
        self, items: list[tuple[LabelPairs, RuleExecutionMetric]]
    ) -> Iterator[MetricFamily]:
        n, help = self.name, self.help
        executions: list[Sample] = []
        errors: list[Sample] = []
        duration: list[Sample] = []
        minimum: list[Sample] = []
        maximum: list[Sample] = []
        texts = self._label_texts()
        le = self._le
        for labels, child in items:
            s = child.snapshot()
            text, pairs = texts.rendered(labels, le)
            executions.append(Sample(n + "_executions_total", labels, s.execution_count, text[0]))
            errors.append(Sample(n + "_errors_total", labels, s.error_count, text[0]))
            duration += histogram_samples(
                n + "_duration_seconds",
                labels,
                le,
                s.bucket_counts,
                s.execution_count,
                s.total_duration_ns / _NS_PER_S,
                text,
                pairs,
            )
            if s.min_duration_ns is not None:
                minimum.append(
                    Sample(
                        n + "_duration_min_seconds", labels, s.min_duration_ns / _NS_PER_S, text[0]
                    )
                )
            if s.max_duration_ns is not None:
                maximum.append(
                    Sample(
                        n + "_duration_max_seconds", labels, s.max_duration_ns / _NS_PER_S, text[0]
                    )
                )
        self._keep_texts(texts)
        yield _family(n + "_executions", "counter", _help(help, "executions"), executions)
        yield _family(n + "_errors", "counter", _help(help, "executions that failed"), errors)
        yield _family(
            n + "_duration_seconds", "histogram", _help(help, "duration in seconds"), duration
        )
        if minimum:
            yield _family(
                n + "_duration_min_seconds", "gauge", _help(help, "shortest duration"), minimum
            )
        if maximum:
            yield _family(
                n + "_duration_max_seconds", "gauge", _help(help, "longest duration"), maximum
            )


class ThroughputFamily(Family[ThroughputMetric]):
    """A family of ``ThroughputMetric`` children sharing one window and SLA.

    Without labels it records directly: ``family.record(10, latency_ns=...)``,
    and every getter of the metric.
    """

    _proxied: ClassVar[tuple[str, ...]] = (
        "record",
        "events_processed",
        "sample_count",
        "sla_violations",
        "sla_violation_rate",
        "throughput",
        "peak_throughput",
        "snapshot",
        "reset",
    )

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: tuple[str, ...],
        storage: CellStorage,
        *,
        max_series: int | None,
        on_overflow: OnOverflow,
        window_s: float,
        resolution_s: float,
        sla_ns: int | None,
    ) -> None:
        self.window_s = window_s
        self.resolution_s = resolution_s
        self.sla_ns = sla_ns
        super().__init__(
            name, help, labelnames, storage, max_series=max_series, on_overflow=on_overflow
        )

    def record(self, events: int = 1, latency_ns: int | None = None) -> None:
        """``ThroughputMetric.record`` of the only child."""
        self._only_child().record(events, latency_ns)

    def events_processed(self) -> int:
        """``ThroughputMetric.events_processed`` of the only child."""
        return self._only_child().events_processed()

    def sample_count(self) -> int:
        """``ThroughputMetric.sample_count`` of the only child."""
        return self._only_child().sample_count()

    def sla_violations(self) -> int:
        """``ThroughputMetric.sla_violations`` of the only child."""
        return self._only_child().sla_violations()

    def sla_violation_rate(self) -> float:
        """``ThroughputMetric.sla_violation_rate`` of the only child."""
        return self._only_child().sla_violation_rate()

    def throughput(self) -> float:
        """``ThroughputMetric.throughput`` of the only child."""
        return self._only_child().throughput()

    def peak_throughput(self) -> float:
        """``ThroughputMetric.peak_throughput`` of the only child."""
        return self._only_child().peak_throughput()

    def snapshot(self) -> ThroughputSnapshot:
        """``ThroughputMetric.snapshot`` of the only child."""
        return self._only_child().snapshot()

    def reset(self) -> None:
        """``ThroughputMetric.reset`` of the only child."""
        self._only_child().reset()

    def _new_child(self, labelvalues: tuple[str, ...]) -> ThroughputMetric:
        key = self._cell_key(labelvalues, "throughput")
        return self._storage.throughput_cell(key, self.window_s, self.resolution_s, self.sla_ns)

    def _collect(self, items: list[tuple[LabelPairs, ThroughputMetric]]) -> Iterator[MetricFamily]:
        n, help = self.name, self.help
        events: list[Sample] = []
        samples: list[Sample] = []
        violations: list[Sample] = []
        rate: list[Sample] = []
        peak: list[Sample] = []
        texts = self._label_texts()
        for labels, child in items:
            s = child.snapshot()
            text = texts.text(labels)
            events.append(Sample(n + "_events_total", labels, s.events_processed, text))
            samples.append(Sample(n + "_samples_total", labels, s.sample_count, text))
            violations.append(Sample(n + "_sla_violations_total", labels, s.sla_violations, text))
            rate.append(Sample(n + "_events_per_second", labels, s.throughput, text))
            peak.append(Sample(n + "_peak_events_per_second", labels, s.peak_throughput, text))
        self._keep_texts(texts)
        yield _family(n + "_events", "counter", _help(help, "events processed"), events)
        yield _family(n + "_samples", "counter", _help(help, "recorded samples"), samples)
        yield _family(
            n + "_sla_violations", "counter", _help(help, "samples over the SLA"), violations
        )
        yield _family(
            n + "_events_per_second", "gauge", _help(help, "events per second in the window"), rate
        )
        yield _family(
            n + "_peak_events_per_second",
            "gauge",
            _help(help, "highest events per second of one slot"),
            peak,
        )
