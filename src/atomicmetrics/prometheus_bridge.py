"""A prometheus_client collector that serves an atomicmetrics registry.

For services migrating step by step: register
``PrometheusCollector(registry)`` (or ``registry.as_prometheus_collector()``)
in a prometheus_client ``CollectorRegistry`` and its ``/metrics``, push
gateway or multiprocess setup exposes our families beside its own.

Needs the ``prometheus`` extra (``pip install atomicmetrics[prometheus]``);
the core package never imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector as PrometheusClientCollector

from atomicmetrics.samples import Collector

__all__ = ["PrometheusCollector"]


class PrometheusCollector(PrometheusClientCollector):
    """Adapts any atomicmetrics collector to prometheus_client's ``Collector``.

    ``collect()`` turns each ``MetricFamily`` into a prometheus_client
    ``Metric`` of the same name, help and type carrying the same samples
    (names, labels and values unchanged), read from ``registry`` at each
    call: families created later are exposed too. Thread-safe as far as
    ``registry.collect()`` is. There is no ``describe()``: a prometheus_client
    registry with ``auto_describe`` (its default ``REGISTRY``) checks name
    clashes once, by collecting, at ``register()``; families added afterwards
    are not checked. prometheus_client holds values as floats, so ints above
    2**53 lose precision in its output.
    """

    def __init__(self, registry: Collector) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """Yield our families as prometheus_client ``Metric`` objects."""
        for family in self._registry.collect():
            metric = Metric(family.name, family.help, family.type)
            for s in family.samples:
                metric.add_sample(s.name, dict(s.labels), s.value)
            yield metric

    def __repr__(self) -> str:
        return f"PrometheusCollector({self._registry!r})"
