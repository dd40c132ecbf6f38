"""Process identity and liveness for the multi-process arena.

A process is identified by its pid and its start time (``/proc/<pid>/stat``
field 22, clock ticks since boot), so a recycled pid is never mistaken for
the process that held it before. Where ``/proc`` is absent the start time is
0 and liveness falls back to ``os.kill(pid, 0)``.
"""

from __future__ import annotations

import os

__all__ = ["is_alive", "start_time"]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) from /proc/<pid>/stat, or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # "pid (comm) state ..." -- comm may contain spaces and parentheses.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[19])
    except (IndexError, ValueError):
        return None


def _has_proc() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/stat")


def start_time(pid: int) -> int:
    """The start time of live process ``pid`` (0 where /proc is absent)."""
    stat = _stat(pid) if _has_proc() else None
    return 0 if stat is None else stat[1]


def is_alive(pid: int, started: int) -> bool:
    """Whether process ``pid`` that started at ``started`` is running.

    A zombie (exited, not yet reaped) is dead; a pid now held by a process
    with another start time is dead. Never raises, never blocks.
    """
    if _has_proc():
        stat = _stat(pid)
        return stat is not None and stat[0] not in ("Z", "X", "x") and stat[1] == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True
