"""prometheus_client.registry: ``CollectorRegistry`` and the default ``REGISTRY``.

A registry holds collectors (anything with ``collect()`` returning
``Metric`` objects) and hands their families to the exposition formats.
Registering checks the sample names a collector declares (through
``describe()``, or ``collect()`` when ``auto_describe``) against those
already taken, so two collectors cannot expose the same series.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

from atomicmetrics.prometheus_client.metrics_core import Metric

__all__ = ["REGISTRY", "Collector", "CollectorRegistry", "RestrictedRegistry"]

# The sample names each type adds to its family name, for clash checks.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


class Collector(ABC):
    """Base of collectors: ``collect()`` returns the families to expose."""

    @abstractmethod
    def collect(self) -> Iterable[Metric]:
        """The families to expose now."""


class _EmptyCollector(Collector):
    """Holds the name ``target_info`` while a registry exposes target info."""

    def collect(self) -> Iterable[Metric]:
        return []


class CollectorRegistry(Collector):
    """A set of collectors whose families are exposed together.

    ``auto_describe=True`` makes ``register`` call ``collect()`` to learn the
    names of a collector without ``describe()``; ``target_info`` (labels)
    adds a ``target_info`` series. ``register`` raises ``ValueError`` naming
    the clashing series when another collector already exposes one of the
    same names. Thread-safe: registration takes a lock; ``collect()`` copies
    the collectors under it and calls them outside it.
    """

    def __init__(
        self, auto_describe: bool = False, target_info: dict[str, str] | None = None
    ) -> None:
        self._collector_to_names: dict[Any, list[str]] = {}  # guarded by _lock
        self._names_to_collectors: dict[str, Any] = {}  # guarded by _lock
        self._auto_describe = auto_describe
        self._lock = threading.Lock()
        self._target_info: dict[str, str] | None = {}  # guarded by _lock
        self.set_target_info(target_info)

    def register(self, collector: Any) -> None:
        """Add a collector; ``ValueError`` when one of its names is taken."""
        with self._lock:
            names = self._get_names(collector)
            clashes = set(self._names_to_collectors).intersection(names)
            if clashes:
                raise ValueError(f"Duplicated timeseries in CollectorRegistry: {clashes}")
            for name in names:
                self._names_to_collectors[name] = collector
            self._collector_to_names[collector] = names

    def unregister(self, collector: Any) -> None:
        """Remove a collector (``KeyError`` when it is not registered)."""
        with self._lock:
            for name in self._collector_to_names[collector]:
                del self._names_to_collectors[name]
            del self._collector_to_names[collector]

    def _get_names(self, collector: Any) -> list[str]:
        """The sample names ``collector`` exposes, as far as it describes them."""
        describe = getattr(collector, "describe", None)
        if not describe and self._auto_describe:
            describe = collector.collect
        if not describe:
            return []
        names = []
        for metric in describe():
            names.append(metric.name)
            names.extend(metric.name + s for s in _SUFFIXES.get(metric.type, ()))
        return names

    def collect(self) -> Iterator[Metric]:
        """Yield the target info family, then every collector's families."""
        target, collectors = self._snapshot()
        if target is not None:
            yield target
        for collector in collectors:
            yield from collector.collect()

    def _snapshot(self) -> tuple[Metric | None, list[Any]]:
        """The target info family (if any) and the collectors, taken under the lock."""
        with self._lock:
            collectors = list(self._collector_to_names)
            target = self._target_info_metric() if self._target_info else None
        return target, collectors

    def restricted_registry(self, names: Iterable[str]) -> RestrictedRegistry:
        """A view whose ``collect()`` yields only the samples named in ``names``.

        Only collectors that declared one of those names are called.
        """
        return RestrictedRegistry(names, self)

    def set_target_info(self, labels: dict[str, str] | None) -> None:
        """Expose ``target_info`` with these labels (or stop, with ``None``/``{}``)."""
        with self._lock:
            if labels:
                if not self._target_info and "target_info" in self._names_to_collectors:
                    raise ValueError("CollectorRegistry already contains a target_info metric")
                self._names_to_collectors["target_info"] = _EmptyCollector()
            elif self._target_info:
                self._names_to_collectors.pop("target_info", None)
            self._target_info = labels

    def get_target_info(self) -> dict[str, str] | None:
        """The target info labels, if any."""
        with self._lock:
            return self._target_info

    def _target_info_metric(self) -> Metric:
        metric = Metric("target", "Target metadata", "info")
        metric.add_sample("target_info", dict(self._target_info or {}), 1)
        return metric

    def get_sample_value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """The value of the sample with this name and labels, or None.

        Collects everything: meant for tests, not for production reads.
        """
        wanted = labels or {}
        for metric in self.collect():
            for sample in metric.samples:
                if sample.name == name and sample.labels == wanted:
                    return sample.value
        return None


class RestrictedRegistry:
    """A registry seen through a set of sample names (``name[]`` filtering)."""

    def __init__(self, names: Iterable[str], registry: CollectorRegistry) -> None:
        self._name_set = frozenset(names)
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """Yield the families restricted to the named samples (none left empty)."""
        registry = self._registry
        collectors = []
        target = None
        with registry._lock:
            if "target_info" in self._name_set and registry._target_info:
                target = registry._target_info_metric()
            for name in self._name_set:
                collector = registry._names_to_collectors.get(name)
                if name != "target_info" and collector is not None and collector not in collectors:
                    collectors.append(collector)
        if target is not None:
            yield target
        for collector in collectors:
            for metric in collector.collect():
                restricted = metric._restricted_metric(self._name_set)
                if restricted is not None:
                    yield restricted


REGISTRY = CollectorRegistry(auto_describe=True)
"""The default registry; the default collectors register here on import."""
