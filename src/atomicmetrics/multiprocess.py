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

import json
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Literal

from atomicmetrics import _processes
from atomicmetrics._core import AtomicCounter
from atomicmetrics.arena import KIND_FAMILY, KIND_PROCESS, KIND_SERIES, Arena, Record
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample

__all__ = ["ENV_VAR", "GAUGE_MODES", "MultiProcessRegistry"]

ENV_VAR = "ATOMICMETRICS_MULTIPROC_DIR"
GAUGE_MODES = ("all", "livesum", "max", "min", "mostrecent")
GaugeMode = Literal["all", "livesum", "max", "min", "mostrecent"]

_GAUGE_CELL_BYTES = 16  # [value: double bits, stamp: int64 ns of the last set]


class _Process:
    """One process's slot in the arena: pid, start time, and its record."""

    __slots__ = ("pid", "record", "started")

    def __init__(self, arena: Arena) -> None:
        self.pid = os.getpid()
        self.started = _processes.start_time(self.pid)
        self.record = arena.get_or_create(KIND_PROCESS, dumps([self.pid, self.started]))


class ArenaStorage:
    """Cells of a ``MultiProcessRegistry``: placed in the arena, found by key.

    Implements ``atomicmetrics.storage.CellStorage``. A cell is the cells
    region of the series record keyed ``[family, labelvalues, role]`` (plus
    ``pid, start time`` for gauges, which are per process); every process
    asking for one key gets the same words. Runs only when a child is
    created. Raises ``ArenaError`` when the record found has another size
    than the one asked for (a foreign or mismatched arena).
    """

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.process = _Process(arena)

    def after_fork_in_child(self) -> None:
        """Register the child's own process slot (gauge cells follow it)."""
        self.process = _Process(self.arena)

    def _cells(self, key: CellKey, nbytes: int, *, per_process: bool = False) -> Record:
        parts: list[object] = [key.family, list(key.labelvalues), key.role]
        if per_process:
            parts += [self.process.pid, self.process.started]
        record = self.arena.get_or_create(KIND_SERIES, dumps(parts), "", nbytes)
        if record.cell_len != nbytes:
            raise ArenaError(
                f"{self.arena.directory}: series {record.key} holds {record.cell_len} bytes "
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
        r = self._cells(key, _GAUGE_CELL_BYTES, per_process=True)
        return AtomicFloat._from_buffer(r.view, r.cell_offset)

    def histogram_cell(self, key: CellKey, bounds: tuple[float, ...]) -> AtomicHistogram:
        r = self._cells(key, AtomicHistogram._cell_bytes(bounds))
        return AtomicHistogram._from_buffer(r.view, r.cell_offset, bounds)

    def rule_cell(self, key: CellKey, bounds: tuple[float, ...]) -> RuleExecutionMetric:
        r = self._cells(key, RuleExecutionMetric._cell_bytes(bounds))
        return RuleExecutionMetric._from_buffer(r.view, r.cell_offset, bounds)

    def throughput_cell(
        self, key: CellKey, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> ThroughputMetric:
        r = self._cells(key, ThroughputMetric._cell_bytes(window_s, resolution_s))
        return ThroughputMetric._from_buffer(r.view, r.cell_offset, window_s, resolution_s, sla_ns)
