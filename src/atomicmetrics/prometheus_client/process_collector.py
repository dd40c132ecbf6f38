"""prometheus_client.process_collector: CPU, memory, start time and fds from /proc."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable

from atomicmetrics.prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from atomicmetrics.prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

__all__ = ["PROCESS_COLLECTOR", "ProcessCollector"]

try:
    import resource

    _PAGESIZE = resource.getpagesize()
except ImportError:  # not Unix
    _PAGESIZE = 4096


class ProcessCollector(Collector):
    """The standard ``process_*`` series of a process, read from ``/proc``.

    ``process_cpu_seconds_total``, ``process_virtual_memory_bytes``,
    ``process_resident_memory_bytes``, ``process_start_time_seconds``,
    ``process_open_fds``, ``process_max_fds`` (prefixed ``<namespace>_``
    when given). ``pid`` returns the process to read (``"self"`` by
    default); ``proc`` is the proc file system's root. Where ``/proc`` is
    missing the collector exposes nothing; series whose files cannot be
    read are left out.
    """

    def __init__(
        self,
        namespace: str = "",
        pid: Callable[[], int | str] = lambda: "self",
        proc: str = "/proc",
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self._namespace = namespace
        self._pid = pid
        self._proc = proc
        self._prefix = namespace + "_process_" if namespace else "process_"
        self._ticks = 100.0
        with contextlib.suppress(ValueError, TypeError, AttributeError, OSError):
            self._ticks = os.sysconf("SC_CLK_TCK")
        self._pagesize = _PAGESIZE
        self._btime = 0.0  # 0 when /proc cannot be read: collect() exposes nothing
        with contextlib.suppress(OSError):
            self._btime = self._boot_time()
        if registry:
            registry.register(self)

    def _boot_time(self) -> float:
        with open(os.path.join(self._proc, "stat"), "rb") as stat:
            for line in stat:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
        return 0.0

    def collect(self) -> Iterable[Metric]:
        """The process families readable now."""
        if not self._btime:
            return []
        pid = os.path.join(self._proc, str(self._pid()).strip())
        prefix = self._prefix
        result: list[Metric] = []
        try:
            with open(os.path.join(pid, "stat"), "rb") as stat:
                # Fields after the command name, which may itself hold ')'.
                parts = stat.read().split(b")")[-1].split()
            cpu = (float(parts[11]) + float(parts[12])) / self._ticks
            result += [
                GaugeMetricFamily(
                    prefix + "virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    value=float(parts[20]),
                ),
                GaugeMetricFamily(
                    prefix + "resident_memory_bytes",
                    "Resident memory size in bytes.",
                    value=float(parts[21]) * self._pagesize,
                ),
                GaugeMetricFamily(
                    prefix + "start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    value=float(parts[19]) / self._ticks + self._btime,
                ),
                CounterMetricFamily(
                    prefix + "cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                    value=cpu,
                ),
            ]
        except OSError:
            pass
        try:
            max_fds = None
            with open(os.path.join(pid, "limits"), "rb") as limits:
                for line in limits:
                    if line.startswith(b"Max open file"):
                        max_fds = float(line.split()[3])
                        break
            open_fds = len(os.listdir(os.path.join(pid, "fd")))
            result.append(
                GaugeMetricFamily(prefix + "open_fds", "Number of open file descriptors.", open_fds)
            )
            if max_fds is not None:
                result.append(
                    GaugeMetricFamily(
                        prefix + "max_fds", "Maximum number of open file descriptors.", max_fds
                    )
                )
        except OSError:
            pass
        return result


PROCESS_COLLECTOR = ProcessCollector()
"""The ``ProcessCollector`` of the default ``REGISTRY``."""
