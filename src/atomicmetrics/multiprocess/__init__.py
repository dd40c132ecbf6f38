"""Forked workers: metrics whose cells live in a shared-memory arena.

``MultiProcessRegistry(directory)`` offers the factory API of a ``Registry``
but places every cell in an ``Arena`` (``atomicmetrics.multiprocess.arena``)
mapped by every process that uses the directory. Create it before forking
(or open the same directory in each process); every process then records
through it:

* counters, histograms and rule-execution metrics are *sharded*: each
  process records into cells of its own for a series (its shard, kept in
  its process slot), so processes never contend for a cache line, and a
  scrape sums every slot's shard -- exact, dead processes included. A new
  process takes over a dead one's slot and keeps adding to its words, so
  memory stays bounded by the peak number of live processes;
* throughput metrics are ONE shared cell per series (their window and peak
  are properties of the total);
* gauges are one cell per series *per process*, combined at scrape time by
  ``multiprocess_mode`` with prometheus_client's names and meanings:
  ``"all"`` (one series per process with a ``pid`` label), ``"min"``,
  ``"max"``, ``"sum"``, ``"mostrecent"`` keep a dead process's last value;
  ``"liveall"``, ``"livemin"``, ``"livemax"``, ``"livesum"``,
  ``"livemostrecent"`` count live processes only;
* families, series and slots are records of the arena's log, so a family
  created after the fork in any process is visible to every scraper, and
  ``generate_text`` in any one process reads every process's data without
  opening a file per process.

Hot-path cost: the same C call as the in-process metric (the cell object is
the same C type, only its words live in a mapping). After ``fork()`` the
child claims a slot of its own and its shard mappings are moved onto that
slot's files at the same addresses, and its gauge children get cells of
their own, all in ``os.register_at_fork`` hooks; nothing is checked per call.

The package, one file per part:

* ``registry`` -- ``MultiProcessRegistry``: factories, mirroring of families
  other processes made, and the scrape that combines every process;
* ``storage`` -- ``ArenaStorage``: the cell-storage seam over an arena and
  the index of its log (claims, label sets, generations, cells);
* ``readers`` -- what a scrape reads for a sharded series: the sum of shards;
* ``slots`` -- process slots, the shard space and each process's windows;
* ``arena`` -- ``Arena``: the segment files, their byte layout and the
  append-only record log;
* ``directory`` -- the checked directory every file goes through (trust model);
* ``lifecycle`` -- ``arena_in_use`` and ``remove_stale_arena``;
* ``processes`` -- process identity (pid and start time) and liveness;
* ``errors`` -- ``ArenaError`` and ``ArenaFullError``.
"""

from __future__ import annotations

from atomicmetrics.multiprocess.errors import ArenaError, ArenaFullError
from atomicmetrics.multiprocess.lifecycle import arena_in_use, remove_stale_arena
from atomicmetrics.multiprocess.registry import ENV_VAR, MultiProcessRegistry
from atomicmetrics.multiprocess.storage import ArenaStorage

__all__ = [
    "ENV_VAR",
    "ArenaError",
    "ArenaFullError",
    "ArenaStorage",
    "MultiProcessRegistry",
    "arena_in_use",
    "remove_stale_arena",
]
