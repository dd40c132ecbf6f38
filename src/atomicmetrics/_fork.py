"""The package's one fork hook: owners of locks, threads and process slots renew them.

``fork()`` copies the whole address space but only the forking thread: a
lock that another thread held at that moment stays held in the child, and
the first child call that takes it waits forever (found by
tests/stress/test_fork.py: a thread creating label children while the main
thread forked left the family lock held); worker threads and per-process
slots of the parent do not exist in the child either.

Every object with such state registers here with ``register(owner)``; one
``os.register_at_fork(after_in_child=...)`` hook then calls
``owner._after_fork_in_child()`` of each live owner in the child, before any
other code of the child runs. Owners are families and registries (fresh
locks), arenas (a fresh lock), multi-process registries (their process slot
and per-process gauge cells) and asynchronous recorders (an empty ring, no
workers). Hooks run in no particular order, so each owner renews everything
it uses itself (a multi-process registry renews its families' locks through
their own hook before it rebinds their cells); renewing twice is harmless.

What the renewed locks guard is left consistent by construction: every
critical section publishes its result with one dict or attribute store, so
a section cut short by the fork published nothing.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "register"]


class ForkAware(Protocol):
    """An object with state to renew in a fork child."""

    def _after_fork_in_child(self) -> None: ...


#: Owners alive in this process (weak: they die with their last reference).
#: WeakSet.add is one set insertion; called only on slow paths (creation).
_OWNERS: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(owner: ForkAware) -> None:
    """Call ``owner._after_fork_in_child()`` in every child forked from now on."""
    _OWNERS.add(owner)


def _after_fork_in_child() -> None:
    """Run every owner's hook; one that raises does not keep the others from running."""
    error: BaseException | None = None
    for owner in list(_OWNERS):
        try:
            owner._after_fork_in_child()
        except BaseException as e:  # re-raised below, after the other owners ran
            error = error or e
    if error is not None:
        raise error  # reported by CPython as an exception ignored in a fork hook


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
