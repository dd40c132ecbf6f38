"""``MultiProcessRegistry``: a ``Registry`` whose cells live in a shared arena.

How each metric type combines across processes is told in the package
docstring (``atomicmetrics.multiprocess``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from atomicmetrics import _core
from atomicmetrics._core import AtomicCounter, AtomicFloat
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram
from atomicmetrics.counter import CounterFamily
from atomicmetrics.family import Family, FamilySpec
from atomicmetrics.formatting import render_labels
from atomicmetrics.gauge import GaugeFamily
from atomicmetrics.histogram import HistogramFamily
from atomicmetrics.multiprocess.arena import KIND_FAMILY, Arena, dumps
from atomicmetrics.multiprocess.errors import ArenaError
from atomicmetrics.multiprocess.processes import is_alive
from atomicmetrics.multiprocess.readers import CounterSum, HistogramSum, RuleSum
from atomicmetrics.multiprocess.storage import ArenaStorage, FamilyEntry, GaugeCell, LabelSet
from atomicmetrics.registry import Registry
from atomicmetrics.rule_family import RuleExecutionFamily
from atomicmetrics.samples import Collector, LabelPairs, MetricFamily, Sample
from atomicmetrics.throughput import ThroughputMetric
from atomicmetrics.throughput_family import ThroughputFamily

__all__ = ["ENV_VAR", "MultiProcessRegistry"]

ENV_VAR = "ATOMICMETRICS_MULTIPROC_DIR"

logger = logging.getLogger("atomicmetrics.multiprocess")

F = TypeVar("F", bound=Family[Any])
# A gauge label set as a scrape plans it: values, labels, rendered labels, cells.
_GaugeSet = tuple[tuple[str, ...], LabelPairs, str, tuple[GaugeCell, ...]]
# Every slot's chunk files: (slot number, chunk files), as ProcessSlots.shards().
_Shards = tuple[tuple[int, int], ...]
_PID_MODES = ("all", "liveall")


class MultiProcessRegistry(Registry):
    """A ``Registry`` whose metrics live in a shared-memory arena in ``directory``.

    Same factories, families and children as ``Registry``; what differs is
    where cells live and what ``collect()`` reads: every family, series and
    process of every process that uses the directory. Create it before
    forking and record through it in every process (or open the same
    directory in each process). See the package docstring for how each type
    combines across processes. ``group=True`` shares the directory with the
    processes of the same group (files ``0o660``; docs/multiprocess.md,
    trust model).

    A child's getters (``value()``, ``snapshot()``, ...) read what *this
    process* recorded for counters, histograms and rule metrics (its shard;
    a process that took over a dead process's slot also sees what that one
    added); a scrape reads the total of every process.

    Thread- and fork-safe: recording is the lock-free C call of the cell;
    factories and ``collect()`` serialize on reentrant locks of this object
    that are renewed in a forked child, and a signal handler or finalizer
    may create families and children or scrape while this thread is inside
    them. Opening raises ``ArenaError`` (a ``ValueError``) naming the file
    when the directory is unsafe (docs/multiprocess.md, trust model) or
    holds a foreign, corrupt or mixed arena. Factories raise ``ValueError``
    when a family of the same name exists in the arena with another type,
    label names or settings, or another family (in any process) claimed one
    of its exposed names first; ``CardinalityError`` past ``max_series``,
    counted over every process; ``ArenaFullError`` (an ``OSError``) when the
    arena cannot grow, having changed nothing. ``collect()`` never raises
    for what it finds in the arena: it skips what it cannot read and logs a
    warning naming the file. ``remove()``/``clear()`` remove the label sets
    for every process: no scrape shows them, and a later ``labels()`` (in
    any process) starts them afresh, while a process still holding an old
    child records into cells that nobody exposes (as in process).
    """

    def __init__(self, directory: str | os.PathLike[str], *, group: bool = False) -> None:
        super().__init__()
        self._arena = Arena(directory, group=group)
        self.directory = self._arena.directory
        self.group = group
        self._arena_storage = ArenaStorage(self._arena)
        self._storage = self._arena_storage
        # Guards mirroring and the reader caches below; never held by recording.
        # Reentrant: a signal handler or a finalizer may scrape or make a
        # family meanwhile. It is the one lock of the registry, its storage,
        # arena, slots and families (ArenaStorage.creation_lock): a finalizer
        # run by a scrape's allocations may make a child, and a second lock
        # taken in the other order by a creating thread would deadlock them.
        self._lock = self._arena_lock = self._arena_storage.creation_lock()
        self._mirrored = 0  # family records of the log handled so far
        self._mirroring: str | None = None  # the name _mirror is making (guarded by _arena_lock)
        self._unmirrorable: set[str] = set()  # families that could not be mirrored (warned)
        self._removals_seen = 0  # removals of the log handled so far
        self._detached: set[str] = set()  # mirrored gauge families not asked for here
        # family -> (versions, what the last scrape derived from them): see
        # _shared_items and _gauge_sets
        self._items: dict[str, tuple[Any, list[Any]]] = {}
        self._dead: set[tuple[int, int]] = set()  # processes seen dead (guarded by _arena_lock)
        # (family, label values, pid) -> labels of a mode-"all" gauge sample, rendered
        self._label_cache: dict[tuple[str, tuple[str, ...], int], tuple[LabelPairs, str]] = {}
        self._warned: set[str] = set()  # scrape problems already logged

    def __reduce__(self) -> tuple[Callable[[str, bool], MultiProcessRegistry], tuple[str, bool]]:
        """Pickles as its directory: a spawned process gets a registry on the same arena."""
        return (_reopen, (self.directory, self.group))

    @classmethod
    def from_env(cls) -> MultiProcessRegistry:
        """The registry of the directory named by ``ATOMICMETRICS_MULTIPROC_DIR``.

        Raises ``ValueError`` when the variable is unset or empty.
        """
        directory = os.environ.get(ENV_VAR, "")
        if not directory:
            raise ValueError(f"{ENV_VAR} is not set: name the arena directory in it")
        return cls(directory)

    # ---- processes ------------------------------------------------------------

    def live_processes(self) -> list[int]:
        """The pids of the live processes using the arena (this one included)."""
        return self._arena_storage.slots.live_pids()

    def mark_process_dead(self, pid: int) -> None:
        """Treat process ``pid`` as dead in the ``live*`` gauge modes from now on.

        Not needed in normal use: a process that exited stops counting by
        itself (liveness is checked at scrape time). This is for a process
        that must stop counting while its pid still runs, and for code
        written for prometheus_client's ``mark_process_dead``. The modes
        that keep a dead process's last value keep it. Raises ``TypeError``
        for a non-int.
        """
        if not isinstance(pid, int):
            raise TypeError(f"pid must be an int, not {type(pid).__name__}")
        self._arena_storage.mark_dead(pid)

    # ---- factories: Registry's, with the family's spec published in the arena --

    def _get_or_create(
        self, cls: type[F], claims: frozenset[str], spec: FamilySpec, **own: Any
    ) -> F:
        """``Registry``'s hook under every factory: the family, made after
        mirroring what other processes published and published in the arena
        if made here (a mirrored gauge first asked for here attaches).
        ``pid`` is reserved in the gauge modes that add it (``ValueError``)."""
        mode = own.get("multiprocess_mode")
        if mode in _PID_MODES and "pid" in spec.labelnames:
            raise ValueError(
                f"{spec.name}: the label name 'pid' is reserved in multiprocess_mode "
                f"{mode!r}, which adds a pid label to every sample"
            )
        with self._arena_lock:
            if self._mirroring == spec.name:  # _mirror's own call
                self._mirroring = None
                return super()._get_or_create(cls, claims, spec, **own)
            self._index_arena()
            name = spec.name
            known = name in self._families
            family = super()._get_or_create(cls, claims, spec, **own)
            if not known:
                self._publish(family, claims)
            elif name in self._detached and isinstance(family, GaugeFamily):
                self._detached.discard(name)  # first asked for here: attach
                family._rebind_cells()
            return family

    def _publish(self, family: Family[Any], claims: frozenset[str]) -> None:
        """Record a family made here in the arena, or undo it if the arena disagrees.

        The arena's log order settles races: the first record of a name
        defines its type and settings, and the first family to claim an
        exposed name wins it.
        """
        spec = _spec(family)
        body = dumps({**spec, "help": family.help, "claims": sorted(claims)})
        try:
            self._arena.get_or_create(KIND_FAMILY, family.name, body)
            entry = self._arena_storage.family(family.name)
        except BaseException:
            self.unregister(family)  # nothing else was changed
            raise
        theirs = None if entry is None else entry.spec
        if theirs is None:
            self.unregister(family)
            raise ArenaError(
                f"{self._arena.path(0)}: family {family.name!r} has a malformed description; "
                "delete the directory between runs"
            )
        if {k: theirs.get(k) for k in spec} != spec:
            self.unregister(family)
            raise ValueError(
                f"{family.name} is already registered in the arena {self.directory} as "
                f"{theirs['type']} with labels {theirs['labelnames']} and settings "
                f"{theirs['kwargs']}"
            )
        if entry is not None and not entry.accepted:
            self.unregister(family)
            taken = sorted(n for n in claims if self._arena_storage.claimant(n) is not None)
            owner = self._arena_storage.claimant(taken[0]) if taken else "?"
            name = taken[0] if taken else family.name
            raise ValueError(
                f"{family.name}: exposed name {name!r} is already used by family {owner!r}"
            )

    # ---- reading every process's data ---------------------------------------

    def _index_arena(self) -> None:
        """Mirror the families other processes published since the last call.

        Holds _arena_lock. A family that cannot be mirrored (a corrupt
        description, a name this process's own families claim) is skipped
        with a warning.
        """
        storage = self._arena_storage
        entries = storage.sync()
        for entry in entries[self._mirrored :]:
            name = entry.record.key
            if entry.accepted and name not in self._families and name not in self._unmirrorable:
                self._mirror(entry)
        self._mirrored = len(entries)
        # Children whose label set another process removed are forgotten
        # here too, so that labels() makes them afresh.
        removals = storage.removals(self._removals_seen)
        self._removals_seen += len(removals)
        for name, values in removals:
            family = self._families.get(name)
            if family is None or not storage.stale(name, values):
                continue
            family._discard(values)

    def _mirror(self, entry: FamilyEntry) -> None:
        """Make here the family another process published. Holds _arena_lock."""
        spec = entry.spec
        name = entry.record.key
        assert spec is not None  # accepted entries have one
        make = getattr(Registry, spec["type"], None) if spec["type"] in _KINDS else None
        try:
            if make is None:
                raise ValueError(f"unknown family type {spec['type']!r}")
            self._mirroring = name
            with self._arena_storage.detached():
                make(self, name, spec["help"], spec["labelnames"], **spec["kwargs"])
        except (ValueError, TypeError, OSError) as e:
            self._unmirrorable.add(name)
            logger.warning("%s: family %r is not read in this process: %s", self.directory, name, e)
            return
        finally:
            self._mirroring = None
        if spec["type"] == "gauge":
            self._detached.add(name)

    def _warn(self, what: str, e: Exception) -> None:
        message = f"{what}: {e}"
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s: %s (skipped)", self.directory, message)

    def collect(self) -> Iterator[MetricFamily]:
        """Every family of every process, in the order this process learnt of them.

        Sharded series sum every slot's shard, each read consistently; gauge
        cells are combined by mode; removed label sets are left out. Never
        blocks recording; every wait inside a snapshot is bounded (a process
        killed mid-update cannot hang a scrape). Never raises for what it
        finds in the arena: what cannot be read is skipped with a warning.
        """
        plan: list[tuple[Collector, list[Any]]] = []
        with self._arena_lock:
            try:
                self._index_arena()
            except (ArenaError, OSError) as e:
                self._warn("the record log could not be read to its end", e)
            shards: _Shards = ()
            try:
                shards = tuple(self._arena_storage.slots.shards())
            except (ArenaError, OSError) as e:
                self._warn("the process slots could not be read", e)
            # Liveness of every process with a gauge cell, looked up once per
            # scrape; a dead (pid, start time) never lives again, and one
            # marked dead (mark_process_dead) counts as dead.
            storage = self._arena_storage
            for ident in storage.gauge_processes():
                if ident not in self._dead and (not is_alive(*ident) or storage.marked(ident)):
                    self._dead.add(ident)
            for collector in self._collectors:
                if isinstance(collector, GaugeFamily):
                    plan.append((collector, self._gauge_sets(collector)))
                elif isinstance(collector, Family):
                    plan.append((collector, self._shared_items(collector, shards)))
                else:
                    plan.append((collector, []))
        for collector, items in plan:
            if isinstance(collector, GaugeFamily):
                yield self._gauge_family(collector, items)
            elif isinstance(collector, Family):
                yield from collector._collect(items)
            else:
                yield from collector.collect()

    def _shared_items(self, family: Family[Any], shards: _Shards) -> list[tuple[LabelPairs, Any]]:
        """(labels, reader) for every live label set of ``family``. Holds _arena_lock.

        Readers sum every slot's shard (``readers.py``) or, for a throughput
        metric, read the one shared cell. They are made once per label set,
        generation and set of slot files; a label set whose cells are not
        all there yet (a creation that failed half-way) is left out.
        """
        version, sets = self._arena_storage.live_sets(family.name)
        cached = self._items.get(family.name)
        if cached is not None and cached[0] == (version, shards):
            return cached[1]
        items: list[tuple[LabelPairs, Any]] = []
        for labelset in sets:
            if len(labelset.values) != len(family.labelnames):
                self._warn(
                    f"a series of {family.name} with {len(labelset.values)} label values "
                    f"for {len(family.labelnames)} label names",
                    ArenaError(self._arena.path(0)),
                )
                continue
            try:
                reader = self._reader(family, labelset, shards)
            except (ArenaError, OSError) as e:
                self._warn(f"a series of {family.name}", e)
                continue
            if reader is not None:
                items.append((tuple(zip(family.labelnames, labelset.values, strict=True)), reader))
        self._items[family.name] = ((version, shards), items)
        return items

    def _reader(self, family: Family[Any], labelset: LabelSet, shards: _Shards) -> Any:
        """What a scrape reads for one label set of ``family`` (None: incomplete)."""
        if isinstance(family, CounterFamily):
            ints = self._shard_cells(labelset, "counter", shards, AtomicCounter._from_buffer)
            floats = self._shard_cells(
                labelset, "counter", shards, lambda v, o: AtomicFloat._from_buffer(v, o + 8)
            )
            return None if ints is None or floats is None else CounterSum(ints, floats)
        if isinstance(family, HistogramFamily):
            bounds = family.bounds
            cells: list[Any] | None = []
            if bounds:  # classic buckets: sharded
                cells = self._shard_cells(
                    labelset,
                    "histogram",
                    shards,
                    lambda v, o: _core.AtomicHistogram._from_buffer(v, o, bounds),
                )
            native = None
            if family.native is not None:  # a native histogram: one shared cell
                cfg = family.native
                native = self._shared_cell(
                    labelset,
                    "native",
                    AtomicNativeHistogram._cell_bytes(cfg.max_buckets),
                    lambda v, o: AtomicNativeHistogram._from_buffer(v, o, *cfg),
                )
                if native is None:
                    return None
            return None if cells is None else HistogramSum(cells, bounds, native)
        if isinstance(family, RuleExecutionFamily):
            rule_bounds = family.bounds
            rules = self._shard_cells(
                labelset,
                "rule",
                shards,
                lambda v, o: _core.RuleExecutionMetric._from_buffer(v, o, rule_bounds),
            )
            return None if rules is None else RuleSum(rules, rule_bounds)
        if isinstance(family, ThroughputFamily):
            return self._shared_cell(
                labelset,
                "throughput",
                ThroughputMetric._cell_bytes(family.window_s, family.resolution_s),
                lambda v, o: ThroughputMetric._from_buffer(
                    v, o, family.window_s, family.resolution_s, family.sla_ns, time.monotonic_ns
                ),
            )
        raise ArenaError(f"{type(family).__name__} families cannot be read from an arena")

    def _shared_cell(
        self, labelset: LabelSet, role: str, nbytes: int, make: Callable[[memoryview, int], Any]
    ) -> Any:
        """A cell over the one shared record of ``role`` (None: not there yet)."""
        record = labelset.shared.get(role)
        if record is None:
            return None
        if record.cell_len != nbytes:
            raise ArenaError(f"{self._arena.path(0)}: series {record.key} has a wrong size")
        return make(record.view, record.cell_offset)

    def _shard_cells(
        self,
        labelset: LabelSet,
        role: str,
        shards: _Shards,
        make: Callable[[memoryview, int], Any],
    ) -> list[Any] | None:
        """A cell over every slot's shard of ``role`` (None: no such cell yet)."""
        found = labelset.shards.get(role)
        if found is None:
            return None
        ref = found[0]
        chunk, offset = ref >> 32, ref & 0xFFFF_FFFF
        view = self._arena_storage.slots.view
        return [make(view(slot, chunk), offset) for slot, chunks in shards if chunks > chunk]

    def _gauge_sets(self, family: GaugeFamily) -> list[_GaugeSet]:
        """The live label sets of a gauge family with the cells its mode reads:
        every process's, or the live ones' in a ``live*`` mode. Made again
        when the arena or the set of dead processes changes. Holds _arena_lock."""
        version, sets = self._arena_storage.live_sets(family.name)
        live_only = family.multiprocess_mode.startswith("live")
        dead = self._dead
        key = (version, len(dead) if live_only else 0)
        cached = self._items.get(family.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        plan = []
        for labelset in sets:
            if len(labelset.values) != len(family.labelnames):
                continue  # warned about by the shared path's check, if ever read there
            labels = tuple(zip(family.labelnames, labelset.values, strict=True))
            cells = tuple(c for c in labelset.cells if not live_only or c.ident not in dead)
            if cells:
                plan.append((labelset.values, labels, render_labels(labels), cells))
        self._items[family.name] = (key, plan)
        return plan

    def _gauge_family(self, family: GaugeFamily, sets: list[_GaugeSet]) -> MetricFamily:
        """One sample per label set (per process in modes ``all``/``liveall``)."""
        mode, name = family.multiprocess_mode, family.name
        kind = mode[4:] if mode.startswith("live") else mode
        samples: list[Sample] = []
        append = samples.append
        for values, labels, text, cells in sets:
            if kind == "all":
                for cell in cells:
                    pid_labels, pid_text = self._pid_labels(family, values, labels, cell.pid)
                    append(Sample(name, pid_labels, cell.value.load(), pid_text))
                continue
            if kind == "mostrecent":  # the latest change wins
                value = max(cells, key=lambda cell: cell.stamp.load()).value.load()
            else:
                loads = [cell.value.load() for cell in cells]
                value = sum(loads) if kind == "sum" else max(loads) if kind == "max" else min(loads)
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
        """Give the child its own gauge cells; renew locks.

        Renews what it uses itself (the fork hooks run in no particular
        order): the one lock of the storage (which the arena, the slots and
        every family share), and each family's lock before its gauge cells
        are rebound. The child's own slot and shards are ``ProcessSlots``'
        fork hook's work.
        """
        self._arena_storage._after_fork_in_child()  # a new lock for everything
        self._lock = self._arena_lock = self._arena_storage.creation_lock()
        for family in list(self._families.values()):
            family._after_fork_in_child()
            if isinstance(family, GaugeFamily) and family.name not in self._detached:
                family._rebind_cells()


def _reopen(directory: str, group: bool) -> MultiProcessRegistry:
    return MultiProcessRegistry(directory, group=group)


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
