"""Forked workers: metrics whose cells live in a shared-memory arena.

``MultiProcessRegistry(directory)`` offers the factory API of a ``Registry``
but places every cell in an ``Arena`` (``atomicmetrics.multiprocess.arena``)
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

The package, one file per part:

* ``registry`` -- ``MultiProcessRegistry``: factories, mirroring of families
  other processes made, and the scrape that combines every process;
* ``storage`` -- ``ArenaStorage``: the cell-storage seam over an arena (series
  keys, label-set generations, per-process gauge cells);
* ``arena`` -- ``Arena``: the mmap'd segment files, their byte layout and the
  append-only record log;
* ``processes`` -- process identity (pid and start time) and liveness.
"""

from __future__ import annotations

from atomicmetrics.multiprocess.arena import ArenaError
from atomicmetrics.multiprocess.registry import ENV_VAR, MultiProcessRegistry
from atomicmetrics.multiprocess.storage import ArenaStorage

__all__ = ["ENV_VAR", "ArenaError", "ArenaStorage", "MultiProcessRegistry"]
