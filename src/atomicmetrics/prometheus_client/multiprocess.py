"""prometheus_client.multiprocess: metrics shared by forked workers, on the arena.

prometheus_client's multi-process mode has each process write an mmap file
per metric type into ``PROMETHEUS_MULTIPROC_DIR`` and merges the files at
scrape time. The facade keeps the switch and the names --
``PROMETHEUS_MULTIPROC_DIR`` set before the first metric is made,
``MultiProcessCollector(registry)`` to read every process,
``mark_process_dead(pid)`` -- but shares the cells through this project's
shared-memory arena (``atomicmetrics.multiprocess.MultiProcessRegistry``,
one per directory, opened on first use):

* ``Counter`` and ``Histogram`` series are arena cells that every process
  adds into: totals are exact and keep what dead processes recorded;
* ``Gauge`` series are per-process arena cells combined by
  ``multiprocess_mode`` at scrape time, with prometheus_client's ten modes
  and meanings (``all``, ``min``, ``max``, ``sum``, ``mostrecent`` keep a
  dead process's last value; the ``live*`` modes count live processes
  only);
* ``Summary`` series are arena histogram cells with one bucket (count and
  sum), shown as summaries by a ``MultiProcessCollector`` in a process that
  made that summary (gunicorn workers of one app all do); a scraper process
  that never made it shows the cell as a one-bucket histogram;
* ``Info`` and ``Enum`` stay in process (as in prometheus_client, they do
  not work in multi-process mode).

Recording costs what it costs in process (the same C calls on cells that live
in the mapping). See docs/migrating.md for the differences.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from atomicmetrics.prometheus_client.metrics_core import Metric
from atomicmetrics.prometheus_client.registry import Collector, CollectorRegistry
from atomicmetrics.prometheus_client.samples import Sample
from atomicmetrics.storage import MULTIPROCESS_MODES

if TYPE_CHECKING:
    from atomicmetrics.multiprocess import MultiProcessRegistry

__all__ = ["MultiProcessCollector", "mark_process_dead"]

# The gauge modes the arena implements (all of prometheus_client's).
ARENA_GAUGE_MODES: tuple[str, ...] = MULTIPROCESS_MODES

_lock = threading.Lock()  # guards _arenas
_arenas: dict[str, MultiProcessRegistry] = {}  # directory -> its arena registry
# Names of the arena histograms that hold a Summary made in this process;
# added to (set.add, atomic) when such a series is created, read by collect().
SUMMARIES: set[str] = set()


def directory() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` (or the deprecated lower-case name), or None."""
    if "prometheus_multiproc_dir" in os.environ and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        legacy = "prometheus_multiproc_dir"  # upstream still honours the old name
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[legacy]
        warnings.warn(
            "prometheus_multiproc_dir variable has been deprecated in favor of the upper case "
            "naming PROMETHEUS_MULTIPROC_DIR",
            DeprecationWarning,
            stacklevel=2,
        )
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def arena(path: str | None = None) -> MultiProcessRegistry | None:
    """The arena registry of ``path`` (default: the environment's directory), or None.

    Opened once per directory and process, on first use; a process forked
    afterwards keeps it (the arena's fork hook gives it its own gauge cells).
    """
    path = path or directory()
    if not path:
        return None
    from atomicmetrics.multiprocess import MultiProcessRegistry  # only in multi-process mode

    with _lock:
        registry = _arenas.get(path)
        if registry is None:
            registry = _arenas[path] = MultiProcessRegistry(path)
        return registry


def shared_series(kind: str, metric: Any, **settings: Any) -> Any:
    """The arena's child for ``metric``'s series, or None outside multi-process mode.

    ``kind`` is the arena factory (``counter``, ``gauge``, ``histogram``);
    the family is asked for by the metric's name, HELP and label names.
    """
    registry = arena()
    if registry is None:
        return None
    mode = settings.get("multiprocess_mode")
    if mode is not None and mode not in ARENA_GAUGE_MODES:
        raise ValueError(
            f"multiprocess_mode={mode!r} is not available on the shared arena yet; "
            f"use one of {list(ARENA_GAUGE_MODES)}"
        )
    factory = getattr(registry, kind)
    family = factory(metric._name, metric._documentation, metric._labelnames, **settings)
    return family.labels(*metric._labelvalues)


class SharedGauge:
    """A gauge series of the arena seen through ``AtomicFloat``'s method names.

    Delegates to the arena's gauge child on every call: after a fork that
    child records into the new process's own cell.
    """

    __slots__ = ("_child",)

    def __init__(self, child: Any) -> None:
        self._child = child

    def add(self, amount: float) -> None:
        self._child.inc(amount)

    def store(self, value: float) -> None:
        self._child.set(value)

    def load(self) -> float:
        return float(self._child.value())


class MultiProcessCollector(Collector):
    """Every process's counters, gauges and histograms, read from the arena.

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``; ``ValueError`` when it
    is unset or not a directory. Registers with ``registry`` when given.
    ``collect()`` reads the arena once: no file per process is opened.
    """

    def __init__(self, registry: CollectorRegistry | None, path: str | None = None) -> None:
        path = path or directory()
        if not path or not os.path.isdir(path):
            raise ValueError("env PROMETHEUS_MULTIPROC_DIR is not set or not a directory")
        self._path = path
        if registry:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        """The arena's families as prometheus_client ``Metric`` objects."""
        registry = arena(self._path)
        assert registry is not None  # a path was given
        metrics = []
        summaries = set(SUMMARIES)
        for family in registry.collect():
            samples = family.samples
            typ: str = family.type
            if typ == "histogram" and family.name in summaries:
                typ = "summary"
                samples = tuple(s for s in samples if not s.name.endswith("_bucket"))
            metric = Metric(family.name, family.help, typ)
            metric.samples = [Sample(s.name, dict(s.labels), float(s.value)) for s in samples]
            metrics.append(metric)
        return metrics


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """Kept for compatibility; the arena needs no help.

    prometheus_client deletes a dead worker's ``live*`` gauge files here.
    The arena records each process's pid and start time and leaves dead
    processes out of the ``live*`` modes by itself (a reused pid is told
    apart by its start time), so there is nothing to do.
    """
