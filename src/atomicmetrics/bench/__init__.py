"""``atomicmetrics bench``: recording costs measured against the baselines.

The package holds one concept in four files:

* ``harness`` -- the engine: candidates, the interleaved timing loop, reports;
* ``candidates`` -- what is measured, group by group;
* ``command`` -- the command line: options, progress bar, table, ``--json``;
* ``plot`` -- the ``--plot`` chart (matplotlib, optional).

``add_arguments`` and ``run_command`` are what ``atomicmetrics.cli`` calls.
"""

from __future__ import annotations

from atomicmetrics.bench.command import add_arguments, run_command, select

__all__ = ["add_arguments", "run_command", "select"]
