"""Process-lifetime objects: what every thread loads, spared its reference counts.

On free-threaded CPython every load of a shared object -- ``REQUESTS`` from a
module global, ``inc`` from its attributes -- adds to and then subtracts from
the object's reference count, and threads that do not own the object do so
with atomic adds on one shared word: threads recording into one module-level
metric fight over that word (measured on 3.13t: two threads reached x0.25-0.33
of one thread's total). ``pin`` spares them: on 3.13t it makes the objects
immortal, on 3.14t and later it turns on deferred reference counting
(``PyUnstable_Object_EnableDeferredRefcount``; immortal for non-GC objects);
on GIL builds it does nothing.

Rules (``csrc/lifetime.c`` holds the mechanism, docs/freethreading.md the
policy):

* Only objects this thread has just created and no other thread can reach yet
  are pinned -- a registry pins a family before publishing it, a family pins a
  child before putting it in its children -- and the C side refuses anything
  it can tell is shared (another thread owns it or holds a reference).
* Immortal objects are never freed, nor what they reference, so 3.13t pins at
  most a per-process budget of objects (``ATOMICMETRICS_IMMORTAL_BUDGET``,
  default 10,000; 0 turns pinning off). Past it objects stay mortal: a program
  that creates registries or label children in a loop keeps at most the budget
  alive and then runs as it would without pinning.
"""

from __future__ import annotations

import os
from typing import TypeVar

from atomicmetrics import _core

__all__ = ["BUDGET_ENV", "MODE", "budget", "pin", "process_lifetime"]

T = TypeVar("T")

#: The environment variable read at import: the most objects made immortal.
BUDGET_ENV = "ATOMICMETRICS_IMMORTAL_BUDGET"

#: What pinning does on this interpreter: "none" (GIL build), "immortal"
#: (free-threaded 3.13) or "deferred" (free-threaded 3.14 and later).
MODE: str = _core.PIN_MODE


def pin(*objects: object) -> int:
    """Spare ``objects`` reference-count traffic from threads (see the module
    docstring); returns how many are so now. Never raises for an object it
    cannot pin: it leaves it as it is."""
    return _core._pin(*objects)


def process_lifetime(obj: T) -> T:
    """Declare ``obj`` -- a metric you just created -- to live as long as the process.

    For metrics you build yourself and share between threads on a
    free-threaded CPython, such as a module-level counter::

        REQUESTS = process_lifetime(StripedCounter())

    Every thread can then load ``REQUESTS`` without contending on its
    reference count (measured on 3.13t: ``REQUESTS.inc()`` from 2 threads went
    from x0.26 to x1.9 of one thread's total with a ``StripedCounter``). A
    registry does this itself for every family and child it makes.

    Call it in the thread that created ``obj``, before any other thread can
    see it; otherwise, or once the per-process budget is spent, or on a GIL
    build, it leaves ``obj`` as it is (never an error). On 3.13t the object
    becomes immortal: it is never freed. Returns ``obj``.
    """
    pin(obj)
    return obj


def budget(limit: int | None = None) -> tuple[int, int]:
    """``(used, limit)`` of the per-process budget of immortal objects, after
    setting ``limit`` when given (an int >= 0; ``ValueError`` otherwise)."""
    return _core._pin_budget(limit)


def _budget_from_env() -> None:
    raw = os.environ.get(BUDGET_ENV)
    if raw is None:
        return
    try:
        limit = int(raw.strip())
    except ValueError:
        raise ValueError(f"{BUDGET_ENV} must be a whole number >= 0, not {raw!r}") from None
    if limit < 0:
        raise ValueError(f"{BUDGET_ENV} must be a whole number >= 0, not {raw!r}")
    budget(limit)


_budget_from_env()
