"""Cells of the multi-process registry: the storage seam over an arena.

``ArenaStorage`` implements ``atomicmetrics.storage.CellStorage`` for
``MultiProcessRegistry`` (``atomicmetrics.multiprocess.registry``): every cell
a family asks for is placed in the shared ``Arena`` under a key, so every
process asking for the same key gets the same series. It also indexes the
log (families and their name claims, label sets and their generations,
removals, cells) for the registry's scrapes.

Records of the log it writes (keys are canonical JSON, ``dumps``):

* ``KIND_FAMILY`` ``<name>`` -- a family; body ``{"type", "help",
  "labelnames", "kwargs", "claims"}`` (``claims``: the names it exposes).
* ``KIND_SERIES`` ``[family, labelvalues, "*", gen]`` -- a label set (no
  cells); its ``flags`` word is the removed mark (1: removed by some
  process). A label set asked for again after removal is a new generation.
* ``KIND_SERIES`` ``[family, labelvalues, "-", gen]`` -- a tombstone, linked
  after a removal so that every process notices it in log order.
* ``KIND_SHARD`` ``[family, labelvalues, role, gen]`` -- a sharded cell
  (``counter``: its int and float parts in 16 bytes; ``histogram``;
  ``rule``): cells ``[shard ref, bytes]``; each process slot has its own
  words there (``slots.py``).
* ``KIND_SERIES`` ``[family, labelvalues, role, gen]`` -- a shared cell
  (``throughput``): every process adds into the record's own cells.
* ``KIND_SERIES`` ``[family, labelvalues, "value", gen, pid, start time]`` --
  a gauge's cell of one process: ``[value: double bits, stamp: int64 ns of
  the last change]``; its ``flags`` word is 1 once the process was marked
  dead (``mark_process_dead``).

Races between processes are settled by the log order, which every process
sees the same: the first family record to claim an exposed name wins it (a
later one whose claims meet it is *rejected*, by everyone); a label set
counts against its family's ``max_series`` if, at its place in the log,
fewer than ``max_series`` label sets were live (else it is rejected and
its creator gets ``CardinalityError``; the all-``"__overflow__"`` label set
of a collapsing family never counts). So every process sees the same count.

Anything malformed (a key that does not parse, a cell of the wrong size, a
shard ref outside the shard space) is skipped with a warning naming the
file, once; a scrape never raises for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

from atomicmetrics._core import AtomicCounter, AtomicFloat
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram
from atomicmetrics.family import OVERFLOW_LABEL_VALUE, CardinalityError
from atomicmetrics.multiprocess.arena import (
    KIND_FAMILY,
    KIND_SERIES,
    KIND_SHARD,
    RECORD_HEADER_BYTES,
    Arena,
    Record,
    dumps,
)
from atomicmetrics.multiprocess.errors import ArenaError
from atomicmetrics.multiprocess.processes import start_time
from atomicmetrics.multiprocess.slots import ProcessSlots
from atomicmetrics.rule_metric import RuleExecutionMetric
from atomicmetrics.storage import CellKey, MultiprocessMode
from atomicmetrics.throughput import ThroughputMetric

__all__ = ["COUNTER_SHARD_BYTES", "ArenaStorage", "FamilyEntry", "GaugeCell", "LabelSet"]

logger = logging.getLogger("atomicmetrics.multiprocess")

_GAUGE_CELL_BYTES = 16  # [value: double bits, stamp: int64 ns of the last change]
# A counter's shard, one record for both of its cells: [int part, float part bits].
COUNTER_SHARD_BYTES = 16
_SHARD = struct.Struct("<2q")  # the cells of a KIND_SHARD record: [shard ref, bytes]
_STAMPED_MODES = ("mostrecent", "livemostrecent")


class FamilyEntry:
    """A family record as indexed: its spec, whether it won its names, its count."""

    __slots__ = ("accepted", "claims", "count", "limit", "record", "spec")

    def __init__(self, record: Record, spec: dict[str, Any] | None, accepted: bool) -> None:
        self.record = record
        self.spec = spec  # None: malformed (never accepted)
        self.accepted = accepted
        self.claims: tuple[str, ...] = tuple(spec["claims"]) if spec else ()
        limit = spec["kwargs"].get("max_series") if spec else None
        self.limit: int | None = limit if isinstance(limit, int) else None
        self.count = 0  # label sets that count against the limit, at the indexed end of the log


class LabelSet:
    """One generation of one label set of a family, as indexed from the log.

    ``accepted`` is False for a label set rejected by the family's
    ``max_series`` (never exposed, no cells). ``counts`` whether it counts
    against that limit. ``cells`` are a gauge's per-process cells in log
    order, ``shards`` a sharded role's ``(shard ref, bytes)``, ``shared`` a
    shared role's record.
    """

    __slots__ = (
        "accepted",
        "cells",
        "counts",
        "flags",
        "gen",
        "shards",
        "shared",
        "tombstoned",
        "values",
    )

    def __init__(
        self,
        values: tuple[str, ...],
        gen: int,
        record: Record,
        accepted: bool,
        counts: bool,
    ) -> None:
        self.values = values
        self.gen = gen
        self.flags = record.flags()
        self.accepted = accepted
        self.counts = counts
        self.tombstoned = False  # a tombstone of this generation was indexed
        self.cells: list[GaugeCell] = []
        self.shards: dict[str, tuple[int, int]] = {}
        self.shared: dict[str, Record] = {}

    def removed(self) -> bool:
        return self.flags.load() != 0


class GaugeCell:
    """A per-process gauge cell as the scraper reads it."""

    __slots__ = ("dead", "ident", "pid", "stamp", "started", "value")

    def __init__(self, pid: int, started: int, record: Record) -> None:
        self.pid = pid
        self.started = started
        self.ident = (pid, started)
        self.value = AtomicFloat._from_buffer(record.view, record.cell_offset)
        self.stamp = AtomicCounter._from_buffer(record.view, record.cell_offset + 8)
        self.dead = record.flags()  # 1: marked dead by mark_process_dead


def _is_overflow(values: tuple[str, ...]) -> bool:
    return bool(values) and all(v == OVERFLOW_LABEL_VALUE for v in values)


class ArenaStorage:
    """Cells of a ``MultiProcessRegistry``: placed in the arena, found by key.

    Implements ``atomicmetrics.storage.CellStorage`` (see the module
    docstring for the records). Thread-safe: one reentrant lock on the
    creation and indexing paths, and the index is changed only by commits
    of plain stores that first check that nothing (a signal handler, a GC
    finalizer on this thread) indexed meanwhile. Raises ``ArenaError`` when
    a record this process needs has another size than asked for (a foreign
    or mismatched arena), ``CardinalityError`` past a family's
    ``max_series`` counted across processes, ``ArenaFullError`` when the
    arena cannot grow.
    """

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.slots = ProcessSlots(arena)
        self.pid = os.getpid()
        self.started = start_time(self.pid)
        # Guards the index below; shared with the arena and the slots (and
        # the registry and its families: creation_lock), so that creating a
        # child takes one lock whatever runs in between.
        self._lock = threading.RLock()
        self._lock_pid = os.getpid()  # the process _lock was made in
        arena._lock = self.slots._lock = self._lock
        arena.lock_source = self.slots.lock_source = self.creation_lock
        self._seen = 0  # records of the log indexed so far (the commit point)
        self._families: dict[str, FamilyEntry] = {}  # every family record, by name
        self._family_order: list[FamilyEntry] = []  # log order
        self._claims: dict[str, str] = {}  # exposed name -> accepted family claiming it
        self._sets: dict[tuple[str, tuple[str, ...]], LabelSet] = {}  # latest generation
        self._order: dict[str, list[tuple[str, ...]]] = {}  # family -> label sets, log order
        self._removals: list[tuple[str, tuple[str, ...]]] = []  # tombstones, log order
        self._idents: dict[tuple[int, int], list[GaugeCell]] = {}  # process -> its gauge cells
        self._versions: dict[str, int] = {}  # family -> changes indexed (see live_sets)
        self._live: dict[str, tuple[int, list[LabelSet]]] = {}  # live_sets cache
        # (family, label values) -> generation this process last made cells in
        self._made: dict[tuple[str, tuple[str, ...]], int] = {}
        self._mode = threading.local()  # per-thread: .detached (see detached())
        self._warned: set[tuple[str, int]] = set()  # (what, ref) warned about once

    def creation_lock(self) -> threading.RLock:
        """The one lock of this storage, its arena and slots (see the seam).

        In a forked child the first call makes a new one (the parent thread
        that held the old one is gone) and gives it to the arena and the
        slots too: the fork hooks of all of them, and of the families, run
        in no particular order, and each asks here.
        """
        if self._lock_pid != os.getpid():
            self._lock = threading.RLock()
            self._lock_pid = os.getpid()
            self.arena._lock = self.slots._lock = self._lock
        return self._lock

    def _after_fork_in_child(self) -> None:
        """The child's identity (its gauge cells follow it) and lock."""
        self.creation_lock()
        self._mode = threading.local()
        self.pid = os.getpid()
        self.started = start_time(self.pid)

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

    # ---- the index ------------------------------------------------------------

    def sync(self) -> list[FamilyEntry]:
        """Index records linked since the last call; every family record, log order."""
        with self._lock:
            self._sync_locked()
            return self._family_order[:]

    def family(self, name: str) -> FamilyEntry | None:
        """The family record of ``name`` (indexing first)."""
        with self._lock:
            self._sync_locked()
            return self._families.get(name)

    def claimant(self, name: str) -> str | None:
        """The accepted family that claims the exposed name ``name``, if any."""
        with self._lock:
            self._sync_locked()
            return self._claims.get(name)

    def live_sets(self, family: str) -> tuple[int, list[LabelSet]]:
        """(version, the latest generation of every accepted label set of
        ``family`` not removed), in log order. The version changes whenever
        the list or a set's cells change, so a caller may cache what it
        derives from it. A removal counts once its tombstone is indexed.
        """
        with self._lock:
            version = self._versions.get(family, 0)
            cached = self._live.get(family)
            if cached is None or cached[0] != version:
                sets = self._sets
                live = [sets[(family, v)] for v in self._order.get(family, ())]
                cached = (version, [s for s in live if s.accepted and not s.tombstoned])
                self._live[family] = cached
            return cached

    def gauge_processes(self) -> list[tuple[int, int]]:
        """(pid, start time) of every process that has a gauge cell."""
        with self._lock:
            return list(self._idents)

    def marked(self, ident: tuple[int, int]) -> bool:
        """Whether process ``ident`` (pid, start time) was marked dead."""
        with self._lock:
            cells = self._idents.get(ident)
        return bool(cells) and cells[0].dead.load() != 0  # type: ignore[index]

    def mark_dead(self, pid: int) -> None:
        """Mark every gauge cell of process ``pid`` dead (for the live modes)."""
        with self._lock:
            self._sync_locked()
            cells = [c for ident, cs in self._idents.items() if ident[0] == pid for c in cs]
        for cell in cells:
            cell.dead.store(1)

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
                if found is not None and found.accepted and not found.removed():
                    found.flags.store(1)
                    # A tombstone in the log tells other processes to look.
                    tomb = dumps([family, list(values), "-", found.gen])
                    self.arena.get_or_create(KIND_SERIES, tomb)

    def _warn(self, record: Record, what: str) -> None:
        if (what, record.ref) not in self._warned:
            self._warned.add((what, record.ref))
            segment = record.ref >> 32
            logger.warning(
                "%s: skipped %s at offset %d (%r); delete the directory between runs",
                self.arena.path(segment),
                what,
                record.offset,
                record.key[:200],
            )

    def _sync_locked(self) -> None:
        while True:
            seen = self._seen
            records = self.arena.sync(seen)
            if not records:
                return
            for record in records:
                if not self._index(record, seen):
                    break  # re-entered: start again from the new commit point
                seen += 1

    def _index(self, record: Record, seen: int) -> bool:
        """Index one record (the ``seen``-th): prepare, then commit by stores.

        Returns False, changing nothing, if the commit point moved meanwhile
        (a signal handler or a finalizer indexed). Everything that calls or
        allocates happens before the commit; the commit is plain stores,
        so nothing can run between its check and its end.
        """
        after = seen + 1
        if record.kind == KIND_FAMILY:
            return self._index_family(record, seen)
        if record.kind not in (KIND_SERIES, KIND_SHARD):
            return self._advance(seen)  # slot blocks: read by ProcessSlots
        try:
            key = json.loads(record.key)
            family, values, role, gen = key[0], tuple(key[1]), key[2], key[3]
            if not (
                isinstance(family, str)
                and all(isinstance(v, str) for v in values)
                and isinstance(role, str)
                and type(gen) is int
                and gen >= 0
            ):
                raise ValueError("bad series key")
        except (ValueError, TypeError, IndexError, KeyError):
            self._warn(record, "a series with a malformed key")
            return self._advance(seen)
        versions = self._versions
        version = versions.get(family, 0) + 1
        current = self._sets.get((family, values))
        if role == "*" and record.kind == KIND_SERIES:
            return self._index_label_set(record, seen, family, values, gen, current, version)
        if role == "-" and record.kind == KIND_SERIES:
            return self._index_tombstone(seen, family, values, gen, current, version)
        if current is None or gen != current.gen or not current.accepted:
            # A cell of an older generation, of a rejected label set, or
            # before its label set (foreign or corrupt): nothing reads it.
            if current is None or gen > current.gen:
                self._warn(record, "a cell without its label set")
            return self._advance(seen)
        if record.kind == KIND_SHARD:
            shard = self._read_shard(record)
            if shard is None:
                self._warn(record, "a sharded cell with an invalid shard reference")
                return self._advance(seen)
            shards = current.shards
            if self._seen != seen:
                return False
            shards[role] = shard
            versions[family] = version
            self._seen = after
            return True
        if role == "value" and len(key) == 6:  # a gauge cell of one process
            try:
                pid, started = int(key[4]), int(key[5])
                if record.cell_len != _GAUGE_CELL_BYTES or pid <= 0:
                    raise ValueError("bad gauge cell")
            except (ValueError, TypeError):
                self._warn(record, "a malformed gauge cell")
                return self._advance(seen)
            cell = GaugeCell(pid, started, record)
            one = [cell]
            idents = self._idents
            mine = idents.get(cell.ident)
            fresh = one[:] if mine is None else None
            cells = current.cells
            if self._seen != seen:
                return False
            cells += one
            if fresh is not None:
                idents[cell.ident] = fresh
            else:
                mine += one  # type: ignore[operator]  # not None here
            versions[family] = version
            self._seen = after
            return True
        shared = current.shared  # a shared cell (throughput)
        if self._seen != seen:
            return False
        shared[role] = record
        versions[family] = version
        self._seen = after
        return True

    def _advance(self, seen: int) -> bool:
        """Commit a record that changes nothing in the index: move the commit
        point past the ``seen``-th record unless it moved meanwhile."""
        if self._seen != seen:
            return False
        self._seen = seen + 1
        return True

    def _index_family(self, record: Record, seen: int) -> bool:
        spec = self._parse_spec(record)
        if spec is None:
            self._warn(record, "a family with a malformed description")
        claims = self._claims
        accepted = spec is not None and not any(c in claims for c in spec["claims"])
        entry = FamilyEntry(record, spec, accepted)
        new_claims = {**claims, **dict.fromkeys(entry.claims, record.key)} if accepted else claims
        one = [entry]
        families, order = self._families, self._family_order
        if self._seen != seen:
            return False
        families[record.key] = entry
        order += one
        self._claims = new_claims
        self._seen = seen + 1
        return True

    def _index_label_set(
        self,
        record: Record,
        seen: int,
        family: str,
        values: tuple[str, ...],
        gen: int,
        current: LabelSet | None,
        version: int,
    ) -> bool:
        after = seen + 1
        if current is not None and gen <= current.gen:
            return self._advance(seen)  # an older generation linked late: superseded
        entry = self._families.get(family)
        limit = None if entry is None else entry.limit
        count = 0 if entry is None else entry.count
        replaces = current is not None and current.counts and not current.tombstoned
        exempt = _is_overflow(values)
        accepted = replaces or exempt or limit is None or count < limit
        counts = accepted and not exempt
        new_count = count + (counts and not replaces)
        labelset = LabelSet(values, gen, record, accepted, counts)
        order = self._order.get(family)
        fresh = [values] if order is None else None
        one = [values]
        sets, orders, versions = self._sets, self._order, self._versions
        if self._seen != seen:
            return False
        if current is not None:
            current.counts = False  # superseded: the new generation counts instead
        elif fresh is not None:
            orders[family] = fresh
        else:
            order += one  # type: ignore[operator]  # not None here
        sets[(family, values)] = labelset
        if entry is not None:
            entry.count = new_count
        versions[family] = version
        self._seen = after
        return True

    def _index_tombstone(
        self,
        seen: int,
        family: str,
        values: tuple[str, ...],
        gen: int,
        current: LabelSet | None,
        version: int,
    ) -> bool:
        one = [(family, values)]
        hit = current is not None and gen == current.gen and not current.tombstoned
        entry = self._families.get(family)
        lower = hit and entry is not None and current.counts  # type: ignore[union-attr]
        new_count = entry.count - 1 if lower else 0  # type: ignore[union-attr]
        removals, versions = self._removals, self._versions
        if self._seen != seen:
            return False
        removals += one
        if hit:
            current.tombstoned = True  # type: ignore[union-attr]  # hit: not None
            current.counts = False  # type: ignore[union-attr]
            if lower:
                entry.count = new_count  # type: ignore[union-attr]  # lower: not None
        versions[family] = version
        self._seen = seen + 1
        return True

    def _parse_spec(self, record: Record) -> dict[str, Any] | None:
        try:
            spec = json.loads(record.body)
        except ValueError:
            return None
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("type"), str)
            and isinstance(spec.get("help"), str)
            and isinstance(spec.get("labelnames"), list)
            and all(isinstance(n, str) for n in spec["labelnames"])
            and isinstance(spec.get("kwargs"), dict)
            and isinstance(spec.get("claims"), list)
            and all(isinstance(n, str) for n in spec["claims"])
        ):
            return None
        return spec

    def _read_shard(self, record: Record) -> tuple[int, int] | None:
        if record.cell_len != _SHARD.size:
            return None
        ref, nbytes = _SHARD.unpack_from(record.view, record.cell_offset)
        try:
            self.slots.check(ref, nbytes)
        except ArenaError:
            return None
        return ref, nbytes

    # ---- cells ------------------------------------------------------------------

    def _generation(self, family: str, values: tuple[str, ...]) -> int:
        """The generation new cells of a label set go to. Holds _lock.

        Creates the label set's record when it is absent, removed or was
        rejected; raises ``CardinalityError`` when the family's
        ``max_series`` (counted over every process) has no room for it.
        """
        self._sync_locked()
        while True:
            current = self._sets.get((family, values))
            if current is not None and current.accepted and not current.removed():
                break
            entry = self._families.get(family)
            if entry is not None and entry.limit is not None and not _is_overflow(values):
                replaces = current is not None and current.counts and not current.tombstoned
                if not replaces and entry.count >= entry.limit:
                    raise CardinalityError(
                        f"{family}: more than max_series={entry.limit} label sets "
                        "(counted over every process of the arena)"
                    )
            gen = 0 if current is None else current.gen + 1
            self.arena.get_or_create(KIND_SERIES, dumps([family, list(values), "*", gen]))
            self._sync_locked()
            latest = self._sets[(family, values)]
            if latest.gen == gen and not latest.accepted:
                raise CardinalityError(
                    f"{family}: more than max_series={entry.limit if entry else None} label "
                    "sets (counted over every process of the arena)"
                )
        self._made[(family, values)] = current.gen
        return current.gen

    def _record(self, key: CellKey, kind: int, nbytes: int, per_process: bool = False) -> Record:
        """The record of a cell (created if needed), its size checked.

        Space for every record the call may link is reserved first, so a
        full file system fails it before anything is linked.
        """
        with self._lock:
            longest = dumps([key.family, list(key.labelvalues), key.role, 0, self.pid, 0])
            self.arena.reserve(2 * (RECORD_HEADER_BYTES + 8 + len(longest.encode())) + nbytes)
            if kind == KIND_SHARD:
                self.slots.reserve(nbytes)
            gen = self._generation(key.family, key.labelvalues)
            parts: list[object] = [key.family, list(key.labelvalues), key.role, gen]
            if per_process:
                parts += [self.pid, self.started]
            if kind == KIND_SHARD:
                record = self.arena.get_or_create(
                    kind,
                    dumps(parts),
                    "",
                    _SHARD.size,
                    lambda: _SHARD.pack(self.slots.allocate(nbytes), nbytes),
                )
            else:
                record = self.arena.get_or_create(kind, dumps(parts), "", nbytes)
        found = record.cell_len
        if kind == KIND_SHARD:
            shard = self._read_shard(record)
            if shard is None:
                raise ArenaError(
                    f"{self.arena.path(0)}: series {record.key} holds an invalid shard "
                    "reference; delete the directory between runs"
                )
            found = shard[1]
        if found != nbytes:
            raise ArenaError(
                f"{self.arena.path(0)}: series {record.key} holds {found} bytes "
                f"of cells, {nbytes} expected (another program or layout wrote it); "
                "delete the directory between runs"
            )
        return record

    def _shard(self, key: CellKey, nbytes: int) -> tuple[memoryview, int]:
        """(window, offset) of this process's shard of a sharded cell."""
        record = self._record(key, KIND_SHARD, nbytes)
        ref = _SHARD.unpack_from(record.view, record.cell_offset)[0]
        chunk, offset = self.slots.check(ref, nbytes)
        return self.slots.window(chunk), offset

    def int_cell(self, key: CellKey) -> AtomicCounter:
        view, offset = self._shard(key._replace(role="counter"), COUNTER_SHARD_BYTES)
        return AtomicCounter._from_buffer(view, offset)

    def float_cell(self, key: CellKey) -> AtomicFloat:
        view, offset = self._shard(key._replace(role="counter"), COUNTER_SHARD_BYTES)
        return AtomicFloat._from_buffer(view, offset + 8)

    def gauge_cell(self, key: CellKey, mode: MultiprocessMode) -> AtomicFloat:
        if getattr(self._mode, "detached", False):
            return AtomicFloat()
        r = self._record(key, KIND_SERIES, _GAUGE_CELL_BYTES, per_process=True)
        return AtomicFloat._from_buffer(r.view, r.cell_offset)

    def gauge_stamp(self, key: CellKey, mode: MultiprocessMode) -> AtomicCounter | None:
        """The change-time word of a ``mostrecent`` gauge cell (None in other modes)."""
        if mode not in _STAMPED_MODES or getattr(self._mode, "detached", False):
            return None
        r = self._record(key, KIND_SERIES, _GAUGE_CELL_BYTES, per_process=True)
        return AtomicCounter._from_buffer(r.view, r.cell_offset + 8)

    def histogram_cell(self, key: CellKey, bounds: tuple[float, ...]) -> AtomicHistogram:
        view, offset = self._shard(key, AtomicHistogram._cell_bytes(len(bounds)))
        return AtomicHistogram._from_buffer(view, offset, bounds)

    def native_histogram_cell(
        self, key: CellKey, schema: int, zero_threshold: float, max_buckets: int
    ) -> AtomicNativeHistogram:
        # Shared (not sharded): shards of one series could disagree on their
        # schema, and merging them would need the schema reduction of a scrape.
        r = self._record(key, KIND_SERIES, AtomicNativeHistogram._cell_bytes(max_buckets))
        return AtomicNativeHistogram._from_buffer(
            r.view, r.cell_offset, schema, zero_threshold, max_buckets
        )

    def rule_cell(self, key: CellKey, bounds: tuple[float, ...]) -> RuleExecutionMetric:
        view, offset = self._shard(key, RuleExecutionMetric._cell_bytes(len(bounds)))
        return RuleExecutionMetric._from_buffer(view, offset, bounds)

    def throughput_cell(
        self, key: CellKey, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> ThroughputMetric:
        nbytes = ThroughputMetric._cell_bytes(window_s, resolution_s)
        r = self._record(key, KIND_SERIES, nbytes)
        # CLOCK_MONOTONIC is one clock for every process of the machine, so
        # the slots of the shared ring mean the same instants to all of them.
        return ThroughputMetric._from_buffer(
            r.view, r.cell_offset, window_s, resolution_s, sla_ns, time.monotonic_ns
        )
