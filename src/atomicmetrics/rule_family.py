"""The rule-execution family: ``RuleExecutionMetric`` children, five exposed families.

Its children are the C metrics themselves, so recording through a child is
the fused C call. The family is exposed as five Prometheus families, all
read from ONE snapshot per child per scrape, so that the exposed values agree
with each other (``_count`` of the duration histogram equals
``_executions_total``):

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
=============================================  =========  ==========================

The min/max gauges have no sample for a child that recorded nothing, and the
family is left out entirely while no child has one. Duration bucket bounds
are the family's nanosecond bounds divided by 1e9.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from atomicmetrics.family import Family, FamilySpec
from atomicmetrics.histogram import histogram_samples, le_values
from atomicmetrics.names import counter_names, gauge_names, histogram_names
from atomicmetrics.rule_metric import RuleExecutionMetric, RuleTimer
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample
from atomicmetrics.snapshots import RuleExecutionSnapshot

__all__ = ["RuleExecutionFamily", "rule_execution_names"]

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

    def __init__(self, spec: FamilySpec, *, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._le = le_values([b / _NS_PER_S for b in bounds])
        super().__init__(spec)

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
        n = self.name
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
        yield self._part("_executions", "counter", "executions", executions)
        yield self._part("_errors", "counter", "executions that failed", errors)
        yield self._part("_duration_seconds", "histogram", "duration in seconds", duration)
        if minimum:
            yield self._part("_duration_min_seconds", "gauge", "shortest duration", minimum)
        if maximum:
            yield self._part("_duration_max_seconds", "gauge", "longest duration", maximum)
