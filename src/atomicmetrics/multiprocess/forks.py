"""Work done in a forked child for the live objects of one layer of the arena.

Each layer (arena, slots, registry) keeps one ``AfterFork`` and adds its
objects to it; ``os.register_at_fork`` runs the hooks in the order they were
registered, which is the import order of the layers: the arena's locks are
renewed before the slots claim a slot for the child, and that before the
registry gives gauges their own cells.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["AfterFork"]


class _Forked(Protocol):
    def _after_fork_in_child(self) -> None: ...


class AfterFork:
    """Calls ``_after_fork_in_child()`` of every live object added, in a forked child."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet[_Forked] = weakref.WeakSet()
        os.register_at_fork(after_in_child=self._after_in_child)

    def add(self, obj: _Forked) -> None:
        self._live.add(obj)

    def _after_in_child(self) -> None:
        for obj in list(self._live):
            obj._after_fork_in_child()
