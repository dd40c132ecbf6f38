"""Forked workers: metrics whose cells live in a shared-memory arena.

``MultiProcessRegistry(directory)`` offers the factory API of a ``Registry``
(DESIGN §3) but places every cell in an ``Arena`` (``atomicmetrics.arena``)
mapped by every process that uses the directory. Create it before forking;
every process then records through the same registry object:

* counters, histograms, rule-execution and throughput metrics are ONE shared
  cell per series: every process adds into the same atomic words, so the
  totals are exact and include processes that have died;
* gauges are one cell per series *per process* and are combined at scrape
  time by ``multiprocess_mode``: ``"all"`` (one series per process with a
  ``pid`` label), ``"livesum"``, ``"max"``, ``"min"``, ``"mostrecent"``; in
  every mode only live processes count;
* families, series and processes are records of the arena's log, so a family
  created after the fork in any process is visible to every scraper, and
  ``generate_text`` in any one process reads every process's data without
  opening a file per process.

Hot-path cost: the same C call as the in-process metric (the cell object is
the same C type, only its words live in the mapping). After ``fork()`` the
child registers its own process slot and moves its gauge children to cells
of its own in an ``os.register_at_fork`` hook; nothing is checked per call.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from atomicmetrics import _processes
from atomicmetrics._core import (
    AtomicCounter,
    AtomicFloat,
    AtomicHistogram,
    RuleExecutionMetric,
)
from atomicmetrics.arena import (
    KIND_FAMILY,
    KIND_PROCESS,
    KIND_SERIES,
    Arena,
    ArenaError,
    Record,
    dumps,
)
from atomicmetrics.composite import RuleExecutionFamily, ThroughputFamily
from atomicmetrics.counter import CounterFamily
from atomicmetrics.family import Family, OnOverflow
from atomicmetrics.formatting import render_labels
from atomicmetrics.gauge import GaugeFamily
from atomicmetrics.histogram import DEFAULT_BUCKETS_S, HistogramFamily
from atomicmetrics.registry import Registry
from atomicmetrics.rule_metric import DEFAULT_DURATION_BUCKETS_NS
from atomicmetrics.samples import Collector, LabelPairs, MetricFamily, Sample
from atomicmetrics.storage import CellKey, MultiprocessMode
from atomicmetrics.throughput import ThroughputMetric

__all__ = ["ENV_VAR", "ArenaError", "ArenaStorage", "MultiProcessRegistry"]

ENV_VAR = "ATOMICMETRICS_MULTIPROC_DIR"

F = TypeVar("F", bound=Family[Any])
_GAUGE_CELL_BYTES = 16  # [value: double bits, stamp: int64 ns of the last set]


class _Process:
    """One process's slot in the arena: pid, start time, and its record."""

    __slots__ = ("pid", "record", "started")

    def __init__(self, arena: Arena) -> None:
        self.pid = os.getpid()
        self.started = _processes.start_time(self.pid)
        self.record = arena.get_or_create(KIND_PROCESS, dumps([self.pid, self.started]))


class _LabelSet:
    """One generation of one label set of a family, as indexed from the log.

    Its record (``[family, labelvalues, "*", gen]``, no cells) is created
    before any cell of that generation; its ``flags`` word is the removed
    mark (0 live, 1 removed by ``remove()``/``clear()`` in some process). A
    label set asked for again after removal is a new generation: fresh cells.
    ``cells`` are the per-process cells of a gauge, in log order.
    """

    __slots__ = ("cells", "flags", "gen", "tombstoned", "values")

    def __init__(self, values: tuple[str, ...], gen: int, record: Record) -> None:
        self.values = values
        self.gen = gen
        self.flags = record.flags()
        self.tombstoned = False  # a tombstone of this generation was indexed
        self.cells: list[_GaugeCell] = []

    def removed(self) -> bool:
        return self.flags.load() != 0


class _GaugeCell:
    """A per-process gauge cell as the scraper reads it."""

    __slots__ = ("ident", "pid", "stamp", "started", "value")

    def __init__(self, pid: int, started: int, record: Record) -> None:
        self.pid = pid
        self.started = started
        self.ident = (pid, started)
        self.value = AtomicFloat._from_buffer(record.view, record.cell_offset)
        self.stamp = AtomicCounter._from_buffer(record.view, record.cell_offset + 8)


# A gauge label set as a scrape plans it: values, labels, rendered labels, cells.
_GaugeSet = tuple[tuple[str, ...], LabelPairs, str, tuple[_GaugeCell, ...]]


class ArenaStorage:
    """Cells of a ``MultiProcessRegistry``: placed in the arena, found by key.

    Implements ``atomicmetrics.storage.CellStorage``. Series records of the
    log (all ``KIND_SERIES``, keys are JSON lists):

    * ``[family, labelvalues, "*", gen]`` -- a label set (see ``_LabelSet``);
    * ``[family, labelvalues, role, gen]`` -- a shared cell (counter parts,
      histogram, rule, throughput): every process asking gets these words;
    * ``[family, labelvalues, "value", gen, pid, start time]`` -- a gauge's
      cell of one process: ``[value: double bits, stamp: int64 ns]``;
    * ``[family, labelvalues, "-", gen]`` -- a tombstone, linked after a
      removal (the label set's flags word) so other processes notice it.

    Thread-safe (one lock, on the creation path only). Raises ``ArenaError``
    when a record found has another size than asked for, or a key does not
    parse (a foreign or mismatched arena).
    """

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.process = _Process(arena)
        self._lock = threading.Lock()  # guards the index below
        self._seen = 0  # records of the log indexed so far
        self._sets: dict[tuple[str, tuple[str, ...]], _LabelSet] = {}  # latest generation
        self._order: dict[str, list[tuple[str, ...]]] = {}  # family -> label sets, log order
        self._families: list[Record] = []  # family records, log order
        self._removals: list[tuple[str, tuple[str, ...]]] = []  # tombstones, log order
        self._idents: set[tuple[int, int]] = set()  # (pid, start) of every gauge cell
        self._versions: dict[str, int] = {}  # family -> changes indexed (see live_sets)
        self._live: dict[str, tuple[int, list[_LabelSet]]] = {}  # live_sets cache
        # (family, label values) -> generation this process last made cells in
        self._made: dict[tuple[str, tuple[str, ...]], int] = {}
        self._mode = threading.local()  # per-thread: .detached, .reading (see below)

    def after_fork_in_child(self) -> None:
        """Register the child's own process slot (gauge cells follow it); renew locks."""
        self._lock = threading.Lock()
        self._mode = threading.local()
        self.process = _Process(self.arena)

    # ---- modes of the calling thread (set by the registry) -------------------

    @contextlib.contextmanager
    def detached(self) -> Iterator[None]:
        """Gauge cells made meanwhile are process-local words that no scrape
        reads: the registry mirrors another process's family in this mode, so
        that merely seeing a gauge does not make this process count in it."""
        self._mode.detached = True
        try:
            yield
        finally:
            self._mode.detached = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Cells made meanwhile are those of a label set's latest generation
        even if it was removed: a scraper never brings a series back."""
        self._mode.reading = True
        try:
            yield
        finally:
            self._mode.reading = False

    # ---- the index ------------------------------------------------------------

    def sync(self) -> list[Record]:
        """Index records linked since the last call; return every family record."""
        with self._lock:
            self._sync_locked()
            return list(self._families)

    def live_sets(self, family: str) -> tuple[int, list[_LabelSet]]:
        """(version, the latest generation of every label set of ``family`` not
        removed), in log order. The version changes whenever the list or a
        set's cells change, so a caller may cache what it derives from it.
        A removal counts once its tombstone is linked (just after the mark).
        """
        with self._lock:
            version = self._versions.get(family, 0)
            cached = self._live.get(family)
            if cached is None or cached[0] != version:
                sets = self._sets
                live = [sets[(family, v)] for v in self._order.get(family, ())]
                cached = self._live[family] = (version, [s for s in live if not s.tombstoned])
            return cached

    def gauge_processes(self) -> list[tuple[int, int]]:
        """(pid, start time) of every process that has a gauge cell."""
        with self._lock:
            return list(self._idents)

    def removals(self, start: int) -> list[tuple[str, tuple[str, ...]]]:
        """(family, label values) of the removals linked from the ``start``-th on."""
        with self._lock:
            return self._removals[start:]

    def stale(self, family: str, labelvalues: tuple[str, ...]) -> bool:
        """Whether this process's cells of a label set were removed (by any process)."""
        with self._lock:
            made = self._made.get((family, labelvalues))
            current = self._sets.get((family, labelvalues))
        if made is None or current is None:
            return False
        return current.gen != made or current.removed()

    def forget(self, family: str, labelvalues: tuple[str, ...] | None) -> None:
        """Mark a label set of ``family`` (every one for None) removed, for all processes."""
        with self._lock:
            self._sync_locked()
            keys = self._order.get(family, ()) if labelvalues is None else (labelvalues,)
            for values in list(keys):
                found = self._sets.get((family, values))
                if found is not None and not found.removed():
                    found.flags.store(1)
                    # A tombstone in the log tells other processes to look.
                    tomb = dumps([family, list(values), "-", found.gen])
                    self.arena.get_or_create(KIND_SERIES, tomb)

    def _sync_locked(self) -> None:
        records = self.arena.sync(self._seen)
        for record in records:
            if record.kind == KIND_FAMILY:
                self._families.append(record)
            elif record.kind == KIND_SERIES:
                self._index_series(record)
        self._seen += len(records)

    def _index_series(self, record: Record) -> None:
        try:
            key = json.loads(record.key)
            family, values, role, gen = key[0], tuple(key[1]), key[2], key[3]
            if not (
                isinstance(family, str)
                and all(isinstance(v, str) for v in values)
                and isinstance(role, str)
                and isinstance(gen, int)
            ):
                raise ValueError("bad series key")
            current = self._sets.get((family, values))
            if role == "*":
                if current is None:
                    self._order.setdefault(family, []).append(values)
                if current is None or gen > current.gen:
                    self._sets[(family, values)] = _LabelSet(values, gen, record)
            elif role == "-":
                self._removals.append((family, values))
                if current is not None and gen == current.gen:
                    current.tombstoned = True
            elif role == "value" and len(key) == 6:  # a gauge cell of one process
                if current is None or gen > current.gen:
                    raise ValueError("a cell before its label set")
                if gen == current.gen:
                    cell = _GaugeCell(int(key[4]), int(key[5]), record)
                    current.cells.append(cell)
                    self._idents.add(cell.ident)
            else:
                return  # a shared cell: read through the family's children
            self._versions[family] = self._versions.get(family, 0) + 1
        except (ValueError, TypeError, IndexError, KeyError) as e:
            raise ArenaError(
                f"{self.arena.path(0)}: series {record.key!r} has a malformed key; "
                "delete the directory between runs"
            ) from e

    # ---- cells ------------------------------------------------------------------

    def _generation(self, family: str, values: tuple[str, ...]) -> int:
        """The generation new cells of a label set go to. Holds _lock."""
        self._sync_locked()
        current = self._sets.get((family, values))
        if getattr(self._mode, "reading", False):
            assert current is not None  # readers are made for indexed label sets only
            return current.gen
        while current is None or current.removed():
            gen = 0 if current is None else current.gen + 1
            self.arena.get_or_create(KIND_SERIES, dumps([family, list(values), "*", gen]))
            self._sync_locked()
            current = self._sets[(family, values)]
        self._made[(family, values)] = current.gen
        return current.gen

    def _cells(self, key: CellKey, nbytes: int, *, per_process: bool = False) -> Record:
        with self._lock:
            gen = self._generation(key.family, key.labelvalues)
            parts: list[object] = [key.family, list(key.labelvalues), key.role, gen]
            if per_process:
                parts += [self.process.pid, self.process.started]
            record = self.arena.get_or_create(KIND_SERIES, dumps(parts), "", nbytes)
        if record.cell_len != nbytes:
            raise ArenaError(
                f"{self.arena.path(0)}: series {record.key} holds {record.cell_len} bytes "
                f"of cells, {nbytes} expected (another program or layout wrote it); "
                "delete the directory between runs"
            )
        return record

    def int_cell(self, key: CellKey) -> AtomicCounter:
        r = self._cells(key, AtomicCounter._cell_bytes())
        return AtomicCounter._from_buffer(r.view, r.cell_offset)

    def float_cell(self, key: CellKey) -> AtomicFloat:
        r = self._cells(key, AtomicFloat._cell_bytes())
        return AtomicFloat._from_buffer(r.view, r.cell_offset)

    def gauge_cell(self, key: CellKey, mode: MultiprocessMode) -> AtomicFloat:
        if getattr(self._mode, "detached", False):
            return AtomicFloat()
        r = self._cells(key, _GAUGE_CELL_BYTES, per_process=True)
        return AtomicFloat._from_buffer(r.view, r.cell_offset)

    def gauge_stamp(self, key: CellKey, mode: MultiprocessMode) -> AtomicCounter | None:
        """The set-time word of a ``"mostrecent"`` gauge cell (None in other modes)."""
        if mode != "mostrecent" or getattr(self._mode, "detached", False):
            return None
        r = self._cells(key, _GAUGE_CELL_BYTES, per_process=True)
        return AtomicCounter._from_buffer(r.view, r.cell_offset + 8)

    def histogram_cell(self, key: CellKey, bounds: tuple[float, ...]) -> AtomicHistogram:
        r = self._cells(key, AtomicHistogram._cell_bytes(len(bounds)))
        return AtomicHistogram._from_buffer(r.view, r.cell_offset, bounds)

    def rule_cell(self, key: CellKey, bounds: tuple[float, ...]) -> RuleExecutionMetric:
        r = self._cells(key, RuleExecutionMetric._cell_bytes(len(bounds)))
        return RuleExecutionMetric._from_buffer(r.view, r.cell_offset, bounds)

    def throughput_cell(
        self, key: CellKey, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> ThroughputMetric:
        r = self._cells(key, ThroughputMetric._cell_bytes(window_s, resolution_s))
        # CLOCK_MONOTONIC is one clock for every process of the machine, so
        # the slots of the shared ring mean the same instants to all of them.
        return ThroughputMetric._from_buffer(
            r.view, r.cell_offset, window_s, resolution_s, sla_ns, time.monotonic_ns
        )


class MultiProcessRegistry(Registry):
    """A ``Registry`` whose metrics live in a shared-memory arena in ``directory``.

    Same factories, families and children as ``Registry`` (DESIGN §3); what
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
        _FORK_HOOK.add(self)

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

    # ---- factories: local family + its spec published in the arena ----------

    def counter(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> CounterFamily:
        """``Registry.counter``, shared by every process (one cell per series)."""
        limits = {"max_series": max_series, "on_overflow": on_overflow}
        return self._family(CounterFamily, "counter", name, help, labelnames, limits)

    def gauge(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
        multiprocess_mode: MultiprocessMode = "all",
    ) -> GaugeFamily:
        """``Registry.gauge``: a cell per process, combined by ``multiprocess_mode``."""
        kwargs = {
            "max_series": max_series,
            "on_overflow": on_overflow,
            "multiprocess_mode": multiprocess_mode,
        }
        return self._family(GaugeFamily, "gauge", name, help, labelnames, kwargs)

    def histogram(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS_S,
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> HistogramFamily:
        """``Registry.histogram``, shared by every process (one cell per series)."""
        kwargs = {"buckets": buckets, "max_series": max_series, "on_overflow": on_overflow}
        return self._family(HistogramFamily, "histogram", name, help, labelnames, kwargs)

    def rule_execution(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        buckets: Sequence[float] = DEFAULT_DURATION_BUCKETS_NS,
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> RuleExecutionFamily:
        """``Registry.rule_execution``, shared by every process (one cell per series)."""
        kwargs = {"buckets": buckets, "max_series": max_series, "on_overflow": on_overflow}
        return self._family(RuleExecutionFamily, "rule_execution", name, help, labelnames, kwargs)

    def throughput(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        window_s: float = 60.0,
        resolution_s: float = 1.0,
        sla_ns: int | None = None,
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> ThroughputFamily:
        """``Registry.throughput``, shared by every process (one ring per series)."""
        kwargs = {
            "window_s": window_s,
            "resolution_s": resolution_s,
            "sla_ns": sla_ns,
            "max_series": max_series,
            "on_overflow": on_overflow,
        }
        return self._family(ThroughputFamily, "throughput", name, help, labelnames, kwargs)

    def _family(
        self,
        cls: type[F],
        kind: str,
        name: str,
        help: str,
        labelnames: Iterable[str],
        kwargs: dict[str, Any],
    ) -> F:
        with self._arena_lock:
            self._index_arena()
            known = set(self._families)
            made: object = getattr(Registry, kind)(self, name, help, labelnames, **kwargs)
            assert isinstance(made, cls)  # the Registry factory of that kind made it
            family: F = made
            if family.name not in known:
                self._publish(kind, family)
            elif family.name in self._detached and isinstance(made, GaugeFamily):
                self._detached.discard(family.name)  # first asked for here: attach
                made._rebind_cells()
            return family

    def _publish(self, kind: str, family: Family[Any]) -> None:
        """Record a family made here in the arena, or undo it if the arena disagrees."""
        spec = _spec(kind, family)
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
            with family._lock:
                for key in [k for k in family._children if family._values_of(k) == values]:
                    if family._children.pop(key) is family._overflow:
                        family._overflow = None

    def _mirror(self, record: Record) -> None:
        """Make here the family another process published. Holds _arena_lock."""
        spec = self._read_spec(record)
        make = getattr(Registry, spec["type"])
        with self._arena_storage.detached():
            make(self, record.key, spec["help"], spec["labelnames"], **spec["kwargs"])
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
                if ident not in self._dead and not _processes.is_alive(*ident):
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
        """Give the child its own process slot and gauge cells; renew locks."""
        self._lock = threading.Lock()
        self._arena_lock = threading.RLock()
        self._arena_storage.after_fork_in_child()
        for family in list(self._families.values()):
            family._lock = threading.RLock()  # reentrant, as Family makes it
            if isinstance(family, GaugeFamily) and family.name not in self._detached:
                family._rebind_cells()


_KINDS = ("counter", "gauge", "histogram", "rule_execution", "throughput")


def _spec(kind: str, family: Family[Any]) -> dict[str, Any]:
    """What must match for two processes' families of one name to be one family."""
    kwargs: dict[str, Any] = {
        "max_series": family._max_series,
        "on_overflow": family._on_overflow,
    }
    if isinstance(family, GaugeFamily):
        kwargs["multiprocess_mode"] = family.multiprocess_mode
    elif isinstance(family, (HistogramFamily, RuleExecutionFamily)):
        kwargs["buckets"] = list(family.bounds)
    elif isinstance(family, ThroughputFamily):
        kwargs["window_s"] = float(family.window_s)
        kwargs["resolution_s"] = float(family.resolution_s)
        kwargs["sla_ns"] = family.sla_ns
    return {"type": kind, "labelnames": list(family.labelnames), "kwargs": kwargs}


class _ForkHook:
    """Runs ``_after_fork_in_child`` of every live registry in a forked child."""

    def __init__(self) -> None:
        self._registries: weakref.WeakSet[MultiProcessRegistry] = weakref.WeakSet()
        os.register_at_fork(after_in_child=self._after_in_child)

    def add(self, registry: MultiProcessRegistry) -> None:
        self._registries.add(registry)

    def _after_in_child(self) -> None:
        for registry in list(self._registries):
            registry._after_fork_in_child()


_FORK_HOOK = _ForkHook()
