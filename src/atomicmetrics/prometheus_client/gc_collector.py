"""prometheus_client.gc_collector: CPython's garbage collector statistics."""

from __future__ import annotations

import gc
import platform
from collections.abc import Iterable

from atomicmetrics.prometheus_client.metrics_core import CounterMetricFamily, Metric
from atomicmetrics.prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

__all__ = ["GC_COLLECTOR", "GCCollector"]


class GCCollector(Collector):
    """Collected, uncollectable and collection counts per GC generation.

    Registers only on CPython (where ``gc.get_stats`` exists). Reading is
    ``gc.get_stats()``: cheap and thread-safe.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        if not hasattr(gc, "get_stats") or platform.python_implementation() != "CPython":
            return
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        """The three counter families, labelled by ``generation``."""
        families = [
            CounterMetricFamily(
                "python_gc_objects_collected", "Objects collected during gc", labels=["generation"]
            ),
            CounterMetricFamily(
                "python_gc_objects_uncollectable",
                "Uncollectable objects found during GC",
                labels=["generation"],
            ),
            CounterMetricFamily(
                "python_gc_collections",
                "Number of times this generation was collected",
                labels=["generation"],
            ),
        ]
        for generation, stats in enumerate(gc.get_stats()):
            for family, key in zip(
                families, ("collected", "uncollectable", "collections"), strict=True
            ):
                family.add_metric([str(generation)], value=stats[key])
        return families


GC_COLLECTOR = GCCollector()
"""The ``GCCollector`` of the default ``REGISTRY``."""
