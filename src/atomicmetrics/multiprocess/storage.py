"""Cells of the multi-process registry: the storage seam over an arena.

``ArenaStorage`` implements ``atomicmetrics.storage.CellStorage`` for
``MultiProcessRegistry`` (``atomicmetrics.multiprocess.registry``): every cell a family
asks for is placed in the shared ``Arena`` under a key, so every process
asking for the same key gets the same words; gauges get one cell per
process. It also indexes the series records of the log (label sets and their
generations, removals, per-process gauge cells) for the registry's scrapes.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator

from atomicmetrics._core import AtomicCounter, AtomicFloat
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram
from atomicmetrics.multiprocess.arena import (
    KIND_FAMILY,
    KIND_PROCESS,
    KIND_SERIES,
    Arena,
    ArenaError,
    Record,
    dumps,
)
from atomicmetrics.multiprocess.processes import start_time
from atomicmetrics.rule_metric import RuleExecutionMetric
from atomicmetrics.storage import CellKey, MultiprocessMode
from atomicmetrics.throughput import ThroughputMetric

__all__ = ["ArenaStorage", "GaugeCell", "LabelSet", "ProcessSlot"]

_GAUGE_CELL_BYTES = 16  # [value: double bits, stamp: int64 ns of the last set]


class ProcessSlot:
    """One process's slot in the arena: pid, start time, and its record."""

    __slots__ = ("pid", "record", "started")

    def __init__(self, arena: Arena) -> None:
        self.pid = os.getpid()
        self.started = start_time(self.pid)
        self.record = arena.get_or_create(KIND_PROCESS, dumps([self.pid, self.started]))


class LabelSet:
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
        self.cells: list[GaugeCell] = []

    def removed(self) -> bool:
        return self.flags.load() != 0


class GaugeCell:
    """A per-process gauge cell as the scraper reads it."""

    __slots__ = ("ident", "pid", "stamp", "started", "value")

    def __init__(self, pid: int, started: int, record: Record) -> None:
        self.pid = pid
        self.started = started
        self.ident = (pid, started)
        self.value = AtomicFloat._from_buffer(record.view, record.cell_offset)
        self.stamp = AtomicCounter._from_buffer(record.view, record.cell_offset + 8)


class ArenaStorage:
    """Cells of a ``MultiProcessRegistry``: placed in the arena, found by key.

    Implements ``atomicmetrics.storage.CellStorage``. Series records of the
    log (all ``KIND_SERIES``, keys are JSON lists):

    * ``[family, labelvalues, "*", gen]`` -- a label set (see ``LabelSet``);
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
        self.process = ProcessSlot(arena)
        self._lock = threading.Lock()  # guards the index below
        self._seen = 0  # records of the log indexed so far
        self._sets: dict[tuple[str, tuple[str, ...]], LabelSet] = {}  # latest generation
        self._order: dict[str, list[tuple[str, ...]]] = {}  # family -> label sets, log order
        self._families: list[Record] = []  # family records, log order
        self._removals: list[tuple[str, tuple[str, ...]]] = []  # tombstones, log order
        self._idents: set[tuple[int, int]] = set()  # (pid, start) of every gauge cell
        self._versions: dict[str, int] = {}  # family -> changes indexed (see live_sets)
        self._live: dict[str, tuple[int, list[LabelSet]]] = {}  # live_sets cache
        # (family, label values) -> generation this process last made cells in
        self._made: dict[tuple[str, tuple[str, ...]], int] = {}
        self._mode = threading.local()  # per-thread: .detached, .reading (see below)

    def _after_fork_in_child(self) -> None:
        """Register the child's own process slot (gauge cells follow it); renew
        locks, the arena's first (the slot is a record of its log)."""
        self.arena._after_fork_in_child()
        self._lock = threading.Lock()
        self._mode = threading.local()
        self.process = ProcessSlot(self.arena)

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

    def live_sets(self, family: str) -> tuple[int, list[LabelSet]]:
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
                    self._sets[(family, values)] = LabelSet(values, gen, record)
            elif role == "-":
                self._removals.append((family, values))
                if current is not None and gen == current.gen:
                    current.tombstoned = True
            elif role == "value" and len(key) == 6:  # a gauge cell of one process
                if current is None or gen > current.gen:
                    raise ValueError("a cell before its label set")
                if gen == current.gen:
                    cell = GaugeCell(int(key[4]), int(key[5]), record)
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

    def native_histogram_cell(
        self, key: CellKey, schema: int, zero_threshold: float, max_buckets: int
    ) -> AtomicNativeHistogram:
        r = self._cells(key, AtomicNativeHistogram._cell_bytes(max_buckets))
        return AtomicNativeHistogram._from_buffer(
            r.view, r.cell_offset, schema, zero_threshold, max_buckets
        )

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
