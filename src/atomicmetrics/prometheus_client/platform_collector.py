"""prometheus_client.platform_collector: ``python_info`` (version, implementation)."""

from __future__ import annotations

import platform as pf
from collections.abc import Iterable
from typing import Any

from atomicmetrics.prometheus_client.metrics_core import GaugeMetricFamily, Metric
from atomicmetrics.prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

__all__ = ["PLATFORM_COLLECTOR", "PlatformCollector"]


class PlatformCollector(Collector):
    """``python_info{version,implementation,major,minor,patchlevel} 1``.

    Read once at construction (the platform does not change); on Jython the
    JVM's version, release, vendor and name are added. ``platform`` is a
    test seam standing for the ``platform`` module.
    """

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, platform: Any = None) -> None:
        self._platform = pf if platform is None else platform
        info = self._info()
        if self._platform.system() == "Java":
            info.update(self._java())
        self._metrics = [self._add_metric("python_info", "Python platform information", info)]
        if registry:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        """The ``python_info`` family."""
        return self._metrics

    @staticmethod
    def _add_metric(name: str, documentation: str, data: dict[str, str]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, documentation, labels=list(data))
        family.add_metric(list(data.values()), 1)
        return family

    def _info(self) -> dict[str, str]:
        major, minor, patchlevel = self._platform.python_version_tuple()
        return {
            "version": self._platform.python_version(),
            "implementation": self._platform.python_implementation(),
            "major": major,
            "minor": minor,
            "patchlevel": patchlevel,
        }

    def _java(self) -> dict[str, str]:
        java_version, _, vminfo, _ = self._platform.java_ver()
        vm_name, vm_release, vm_vendor = vminfo
        return {
            "jvm_version": java_version,
            "jvm_release": vm_release,
            "jvm_vendor": vm_vendor,
            "jvm_name": vm_name,
        }


PLATFORM_COLLECTOR = PlatformCollector()
"""The ``PlatformCollector`` of the default ``REGISTRY``."""
