"""``MultiProcessRegistry``: a ``Registry`` whose cells live in a shared arena.

How each metric type combines across processes is told in the package
docstring (``atomicmetrics.multiprocess``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from atomicmetrics.counter import CounterFamily
from atomicmetrics.family import Family, FamilySpec
from atomicmetrics.formatting import render_labels
from atomicmetrics.gauge import GaugeFamily
from atomicmetrics.histogram import HistogramFamily
from atomicmetrics.multiprocess.arena import KIND_FAMILY, Arena, ArenaError, Record, dumps
from atomicmetrics.multiprocess.processes import is_alive
from atomicmetrics.multiprocess.storage import ArenaStorage, GaugeCell
from atomicmetrics.registry import Registry
from atomicmetrics.rule_family import RuleExecutionFamily
from atomicmetrics.samples import Collector, LabelPairs, MetricFamily, Sample
from atomicmetrics.throughput_family import ThroughputFamily

__all__ = ["ENV_VAR", "MultiProcessRegistry"]

ENV_VAR = "ATOMICMETRICS_MULTIPROC_DIR"

F = TypeVar("F", bound=Family[Any])
# A gauge label set as a scrape plans it: values, labels, rendered labels, cells.
_GaugeSet = tuple[tuple[str, ...], LabelPairs, str, tuple[GaugeCell, ...]]


class MultiProcessRegistry(Registry):
    """A ``Registry`` whose metrics live in a shared-memory arena in ``directory``.

    Same factories, families and children as ``Registry``; what
    differs is where cells live and what ``collect()`` reads: every family,
    series and process of every process that uses the directory. Create it
    before forking and record through it in every process. See the module
    docstring for how each type combines across processes.

    Thread- and fork-safe: recording is the lock-free C call of the cell;
    factories and ``collect()`` serialize on locks of this object that are
    renewed in a forked child. Raises ``ArenaError`` (a ``ValueError``)
    naming the file when the directory holds a foreign or corrupt arena, and
    ``ValueError`` when a family of the same name exists in the arena with
    another type, label names or settings (asked for by any process).
    ``remove()``/``clear()`` remove the label sets for every process: no
    scrape shows them, and a later ``labels()`` (in any process) starts them
    afresh, while a process still holding an old child records into cells
    that nobody exposes (as in process).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self.directory = os.fspath(directory)
        self._arena = Arena(self.directory)
        self._arena_storage = ArenaStorage(self._arena)
        self._storage = self._arena_storage
        # Guards mirroring and the reader caches below; never held by recording.
        self._arena_lock = threading.RLock()
        self._mirrored = 0  # family records of the log handled so far
        self._mirroring = False  # the next factory call is _mirror's (guarded by _arena_lock)
        self._removals_seen = 0  # removals of the log handled so far
        self._detached: set[str] = set()  # mirrored gauge families not asked for here
        # family -> (storage version, what the last scrape derived from it):
        # see _shared_items and _gauge_sets
        self._items: dict[str, tuple[int, list[Any]]] = {}
        # family -> label values -> (generation, label pairs, reader child)
        self._readers: dict[str, dict[tuple[str, ...], tuple[int, LabelPairs, Any]]] = {}
        self._dead: set[tuple[int, int]] = set()  # processes seen dead (guarded by _arena_lock)
        # (family, label values, pid) -> labels of a mode-"all" gauge sample, rendered
        self._label_cache: dict[tuple[str, tuple[str, ...], int], tuple[LabelPairs, str]] = {}

    def __reduce__(self) -> tuple[type[MultiProcessRegistry], tuple[str]]:
        """Pickles as its directory: a spawned process gets a registry on the same arena."""
        return (type(self), (self.directory,))

    @classmethod
    def from_env(cls) -> MultiProcessRegistry:
        """The registry of the directory named by ``ATOMICMETRICS_MULTIPROC_DIR``.

        Raises ``ValueError`` when the variable is unset or empty.
        """
        directory = os.environ.get(ENV_VAR, "")
        if not directory:
            raise ValueError(f"{ENV_VAR} is not set: name the arena directory in it")
        return cls(directory)

    # ---- factories: Registry's, with the family's spec published in the arena --

    def _get_or_create(
        self, cls: type[F], claims: frozenset[str], spec: FamilySpec, **own: Any
    ) -> F:
        """``Registry``'s hook under every factory: the family, made after
        mirroring what other processes published and published in the arena
        if made here (a mirrored gauge first asked for here attaches)."""
        with self._arena_lock:
            if self._mirroring:  # _mirror's own call: once, so that a signal
                # handler making a family meanwhile still indexes and publishes
                self._mirroring = False
                return super()._get_or_create(cls, claims, spec, **own)
            self._index_arena()
            name = spec.name
            known = name in self._families
            family = super()._get_or_create(cls, claims, spec, **own)
            if not known:
                self._publish(family)
            elif name in self._detached and isinstance(family, GaugeFamily):
                self._detached.discard(name)  # first asked for here: attach
                family._rebind_cells()
            return family

    def _publish(self, family: Family[Any]) -> None:
        """Record a family made here in the arena, or undo it if the arena disagrees."""
        spec = _spec(family)
        body = dumps({**spec, "help": family.help})
        record = self._arena.get_or_create(KIND_FAMILY, family.name, body)
        theirs = self._read_spec(record)
        if {k: theirs[k] for k in spec} != spec:
            self.unregister(family)
            raise ValueError(
                f"{family.name} is already registered in the arena {self.directory} as "
                f"{theirs['type']} with labels {theirs['labelnames']} and settings "
                f"{theirs['kwargs']}"
            )

    def _read_spec(self, record: Record) -> dict[str, Any]:
        try:
            spec = json.loads(record.body)
            if not (
                isinstance(spec, dict)
                and spec.get("type") in _KINDS
                and isinstance(spec.get("help"), str)
                and isinstance(spec.get("labelnames"), list)
                and isinstance(spec.get("kwargs"), dict)
            ):
                raise ValueError("bad family spec")
        except ValueError as e:
            raise ArenaError(
                f"{self._arena.path(0)}: family {record.key!r} has a malformed description; "
                "delete the directory between runs"
            ) from e
        return spec

    # ---- reading every process's data ---------------------------------------

    def _index_arena(self) -> None:
        """Mirror the families other processes published since the last call.

        Holds _arena_lock.
        """
        storage = self._arena_storage
        records = storage.sync()
        for record in records[self._mirrored :]:
            if record.key not in self._families:
                self._mirror(record)
        self._mirrored = len(records)
        # Children whose label set another process removed are forgotten
        # here too, so that labels() makes them afresh.
        removals = storage.removals(self._removals_seen)
        self._removals_seen += len(removals)
        for name, values in removals:
            family = self._families.get(name)
            if family is None or not storage.stale(name, values):
                continue
            family._discard(values)

    def _mirror(self, record: Record) -> None:
        """Make here the family another process published. Holds _arena_lock."""
        spec = self._read_spec(record)
        make = getattr(Registry, spec["type"])
        self._mirroring = True
        try:
            with self._arena_storage.detached():
                make(self, record.key, spec["help"], spec["labelnames"], **spec["kwargs"])
        finally:
            self._mirroring = False
        if spec["type"] == "gauge":
            self._detached.add(record.key)

    def collect(self) -> Iterator[MetricFamily]:
        """Every family of every process, in the order this process learnt of them.

        Shared cells are read once each (one consistent snapshot per child);
        per-process gauge cells are combined by mode over live processes;
        removed label sets are left out. Never blocks recording; every wait
        inside a snapshot is bounded (a process killed mid-update cannot
        hang a scrape).
        """
        plan: list[tuple[Collector, list[Any]]] = []
        with self._arena_lock:
            self._index_arena()
            # Liveness of every process with a gauge cell, looked up once per
            # scrape; a dead (pid, start time) never lives again.
            for ident in self._arena_storage.gauge_processes():
                if ident not in self._dead and not is_alive(*ident):
                    self._dead.add(ident)
            dead = set(self._dead)
            for collector in self._collectors:
                if isinstance(collector, GaugeFamily):
                    plan.append((collector, self._gauge_sets(collector)))
                elif isinstance(collector, Family):
                    plan.append((collector, self._shared_items(collector)))
                else:
                    plan.append((collector, []))
        for collector, items in plan:
            if isinstance(collector, GaugeFamily):
                yield self._gauge_family(collector, items, dead)
            elif isinstance(collector, Family):
                yield from collector._collect(items)
            else:
                yield from collector.collect()

    def _shared_items(self, family: Family[Any]) -> list[tuple[LabelPairs, Any]]:
        """(labels, child) for every live label set of ``family``. Holds _arena_lock.

        The children are readers made by the family's ``_new_child`` over
        the cells of the label set's latest generation, once per generation
        (not counted against ``max_series``, not returned by ``labels()``).
        """
        storage = self._arena_storage
        version, sets = storage.live_sets(family.name)
        cached = self._items.get(family.name)
        if cached is not None and cached[0] == version:
            return cached[1]
        readers = self._readers.setdefault(family.name, {})
        items: list[tuple[LabelPairs, Any]] = []
        with storage.reading():
            for labelset in sets:
                entry = readers.get(labelset.values)
                if entry is None or entry[0] != labelset.gen:
                    self._check_arity(family, labelset.values)
                    labels = tuple(zip(family.labelnames, labelset.values, strict=True))
                    entry = (labelset.gen, labels, family._new_child(labelset.values))
                    readers[labelset.values] = entry
                items.append((entry[1], entry[2]))
        self._items[family.name] = (version, items)
        return items

    def _check_arity(self, family: Family[Any], labelvalues: tuple[str, ...]) -> None:
        if len(labelvalues) != len(family.labelnames):
            raise ArenaError(
                f"{self._arena.path(0)}: a series of {family.name} has {len(labelvalues)} "
                f"label values for {len(family.labelnames)} label names; "
                "delete the directory between runs"
            )

    def _gauge_sets(self, family: GaugeFamily) -> list[_GaugeSet]:
        """The live label sets of a gauge family with their cells. Holds _arena_lock."""
        version, sets = self._arena_storage.live_sets(family.name)
        # Cells of processes known dead are left out of the plan, which is
        # made again when the arena or the set of dead processes changes.
        version = version << 32 | len(self._dead)
        cached = self._items.get(family.name)
        if cached is not None and cached[0] == version:
            return cached[1]
        dead = self._dead
        plan = []
        for labelset in sets:
            self._check_arity(family, labelset.values)
            labels = tuple(zip(family.labelnames, labelset.values, strict=True))
            cells = tuple(cell for cell in labelset.cells if cell.ident not in dead)
            plan.append((labelset.values, labels, render_labels(labels), cells))
        self._items[family.name] = (version, plan)
        return plan

    def _gauge_family(
        self,
        family: GaugeFamily,
        sets: list[_GaugeSet],
        dead: set[tuple[int, int]],
    ) -> MetricFamily:
        """One sample per live label set (per live process in mode "all")."""
        mode, name = family.multiprocess_mode, family.name
        samples: list[Sample] = []
        append = samples.append
        for values, labels, text, cells in sets:
            live = [cell for cell in cells if cell.ident not in dead]
            if not live:
                continue
            if mode == "all":
                for cell in live:
                    pid_labels, pid_text = self._pid_labels(family, values, labels, cell.pid)
                    append(Sample(name, pid_labels, cell.value.load(), pid_text))
                continue
            if mode == "mostrecent":  # the latest change wins
                value = max(live, key=lambda cell: cell.stamp.load()).value.load()
            else:
                loads = [cell.value.load() for cell in live]
                value = (
                    sum(loads) if mode == "livesum" else max(loads) if mode == "max" else min(loads)
                )
            append(Sample(name, labels, value, text))
        return MetricFamily(name, "gauge", family.help, tuple(samples))

    def _pid_labels(
        self, family: Family[Any], values: tuple[str, ...], labels: LabelPairs, pid: int
    ) -> tuple[LabelPairs, str]:
        """Labels of a mode-"all" sample (the pid added) and their text, made once."""
        key = (family.name, values, pid)
        found = self._label_cache.get(key)
        if found is None:
            with_pid = (*labels, ("pid", str(pid)))
            found = self._label_cache[key] = (with_pid, render_labels(with_pid))
        return found

    # ---- fork ------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """Give the child its own process slot and gauge cells; renew locks.

        Renews what it uses itself (the fork hooks run in no particular
        order): the storage's and the arena's locks, and each family's lock
        before its gauge cells are rebound.
        """
        super()._after_fork_in_child()
        self._arena_lock = threading.RLock()
        self._arena_storage._after_fork_in_child()
        for family in list(self._families.values()):
            family._after_fork_in_child()
            if isinstance(family, GaugeFamily) and family.name not in self._detached:
                family._rebind_cells()


# The Registry factory (the spec's "type") of each family class.
_KIND_OF: dict[type[Family[Any]], str] = {
    CounterFamily: "counter",
    GaugeFamily: "gauge",
    HistogramFamily: "histogram",
    RuleExecutionFamily: "rule_execution",
    ThroughputFamily: "throughput",
}
_KINDS = tuple(_KIND_OF.values())


def _spec(family: Family[Any]) -> dict[str, Any]:
    """What must match for two processes' families of one name to be one family."""
    kwargs: dict[str, Any] = {
        "max_series": family._max_series,
        "on_overflow": family._on_overflow,
    }
    if isinstance(family, GaugeFamily):
        kwargs["multiprocess_mode"] = family.multiprocess_mode
    elif isinstance(family, (HistogramFamily, RuleExecutionFamily)):
        kwargs["buckets"] = list(family.bounds)
        if isinstance(family, HistogramFamily) and family.native is not None:
            kwargs["native"] = True
            kwargs["native_schema"] = family.native.schema
            kwargs["native_zero_threshold"] = family.native.zero_threshold
            kwargs["native_max_buckets"] = family.native.max_buckets
    elif isinstance(family, ThroughputFamily):
        kwargs["window_s"] = float(family.window_s)
        kwargs["resolution_s"] = float(family.resolution_s)
        kwargs["sla_ns"] = family.sla_ns
    return {"type": _KIND_OF[type(family)], "labelnames": list(family.labelnames), "kwargs": kwargs}
