"""Locks renewed in a forked child, whose holder may have been a parent thread.

``fork()`` copies every lock in the state it is in but only the forking
thread: a lock that another thread held at that moment stays held in the
child, and the first child call that takes it waits forever (found by
tests/stress/test_fork.py: a thread creating label children while the main
thread forked left the family lock held). Objects whose slow paths take a
lock register here with ``track``; in the child, ``_renew_locks()`` of each
one gives it fresh locks. What those locks guard is left consistent by
construction: every critical section publishes its result with one dict or
attribute store, so a section cut short by the fork published nothing.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["track"]


class HasForkLocks(Protocol):
    """An object with locks to renew in a fork child."""

    def _renew_locks(self) -> None: ...


#: Owners alive in this process (weak: they die with their last reference).
#: WeakSet.add is one set insertion; taken only on slow paths (creation).
_OWNERS: weakref.WeakSet[HasForkLocks] = weakref.WeakSet()


def track(owner: HasForkLocks) -> None:
    """Renew ``owner``'s locks in every child forked from now on."""
    _OWNERS.add(owner)


def _after_fork_in_child() -> None:
    for owner in list(_OWNERS):
        owner._renew_locks()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
