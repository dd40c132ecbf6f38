"""prometheus_client.core: the metric classes, families, registry and samples in one place."""

from atomicmetrics.prometheus_client.metrics import Counter, Enum, Gauge, Histogram, Info, Summary
from atomicmetrics.prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
    UntypedMetricFamily,
)
from atomicmetrics.prometheus_client.registry import REGISTRY, CollectorRegistry
from atomicmetrics.prometheus_client.samples import Exemplar, Sample, Timestamp

__all__ = [
    "REGISTRY",
    "CollectorRegistry",
    "Counter",
    "CounterMetricFamily",
    "Enum",
    "Exemplar",
    "Gauge",
    "GaugeHistogramMetricFamily",
    "GaugeMetricFamily",
    "Histogram",
    "HistogramMetricFamily",
    "Info",
    "InfoMetricFamily",
    "Metric",
    "Sample",
    "StateSetMetricFamily",
    "Summary",
    "SummaryMetricFamily",
    "Timestamp",
    "UnknownMetricFamily",
    "UntypedMetricFamily",
]
