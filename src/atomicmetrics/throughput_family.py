"""The throughput family: ``ThroughputMetric`` children, five exposed families.

Its children are the C metrics themselves, so recording through a child is
the fused C call. The family is exposed as five Prometheus families, all
read from ONE snapshot per child per scrape, so that the exposed values agree
with each other:

=============================================  =========  ==========================
exposed name (``<n>`` = family name)           type       source (snapshot field)
=============================================  =========  ==========================
``<n>_events_total``                           counter    ``events_processed``
``<n>_samples_total``                          counter    ``sample_count``
``<n>_sla_violations_total``                   counter    ``sla_violations``
``<n>_events_per_second``                      gauge      ``throughput``
``<n>_peak_events_per_second``                 gauge      ``peak_throughput``
=============================================  =========  ==========================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from atomicmetrics.family import Family, FamilySpec
from atomicmetrics.names import counter_names, gauge_names
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample
from atomicmetrics.snapshots import ThroughputSnapshot
from atomicmetrics.throughput import ThroughputMetric

__all__ = ["ThroughputFamily", "throughput_names"]


def throughput_names(name: str) -> frozenset[str]:
    """Names a throughput family ``name`` claims."""
    return (
        counter_names(name + "_events")
        | counter_names(name + "_samples")
        | counter_names(name + "_sla_violations")
        | gauge_names(name + "_events_per_second")
        | gauge_names(name + "_peak_events_per_second")
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
        self, spec: FamilySpec, *, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> None:
        self.window_s = window_s
        self.resolution_s = resolution_s
        self.sla_ns = sla_ns
        super().__init__(spec)

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
        n = self.name
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
        yield self._part("_events", "counter", "events processed", events)
        yield self._part("_samples", "counter", "recorded samples", samples)
        yield self._part("_sla_violations", "counter", "samples over the SLA", violations)
        yield self._part("_events_per_second", "gauge", "events per second in the window", rate)
        yield self._part(
            "_peak_events_per_second", "gauge", "highest events per second of one slot", peak
        )
