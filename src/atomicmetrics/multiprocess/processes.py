"""Process identity and liveness for the multi-process arena.

A process is identified by its pid and its start time (``/proc/<pid>/stat``
field 22, clock ticks since boot), so a recycled pid is never mistaken for
the process that held it before. Where ``/proc`` is absent the start time is
0 and liveness falls back to ``os.kill(pid, 0)`` (a recycled pid then looks
alive). A *token* packs both into one word that a CAS can claim:
``pid << 32 | (start time & 0xFFFFFFFF)`` (the low 32 bits of the start time
wrap after ~497 days at 100 ticks/s; a recycled pid must also land on the
same tick modulo that to be mistaken).

Every process using one arena must see the others' pids: one PID namespace
(docs/multiprocess.md).
"""

from __future__ import annotations

import os

__all__ = ["is_alive", "start_time", "token", "token_alive", "token_pid"]

_LOW32 = 0xFFFF_FFFF


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


def is_alive(pid: int, started: int, mask: int = -1) -> bool:
    """Whether process ``pid`` that started at ``started`` is running.

    Start times are compared under ``mask`` (a token keeps the low 32 bits).
    A zombie (exited, not yet reaped) is dead; a pid now held by a process
    with another start time is dead. Never raises, never blocks.
    """
    if pid <= 0:
        return False
    if _has_proc():
        stat = _stat(pid)
        return (
            stat is not None and stat[0] not in ("Z", "X", "x") and stat[1] & mask == started & mask
        )
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True


def token(pid: int, started: int) -> int:
    """The one-word identity of a process (nonzero for any pid > 0)."""
    return pid << 32 | (started & _LOW32)


def token_pid(word: int) -> int:
    """The pid of a token."""
    return word >> 32


def token_alive(word: int) -> bool:
    """Whether the process of a token is running (``is_alive`` on its parts)."""
    return is_alive(word >> 32, word & _LOW32, _LOW32)
