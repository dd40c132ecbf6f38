"""Whether an arena directory is in use, and removing a stale one safely.

Every process that opens an arena holds a shared ``flock`` on its directory
for as long as the arena is open (forked children share it; the kernel
drops it when the last holder exits, SIGKILL included). ``arena_in_use``
and ``remove_stale_arena`` try an exclusive lock without waiting: it is
granted only when no live process holds the directory, so a live process's
data is never deleted, and a process opening the directory meanwhile waits
until the removal is done and then starts a fresh arena.
"""

from __future__ import annotations

import contextlib
import os

from atomicmetrics.multiprocess.arena import _is_arena_file
from atomicmetrics.multiprocess.directory import ArenaDirectory

__all__ = ["arena_in_use", "remove_stale_arena"]


def arena_in_use(directory: str | os.PathLike[str]) -> bool:
    """Whether a live process has an arena in ``directory`` open (False if it
    does not exist). Raises ``ArenaError`` for a directory that is not ours."""
    try:
        d = ArenaDirectory(directory, use=False)
    except FileNotFoundError:
        return False
    try:
        return not d.lock_exclusive()
    finally:
        d.close()


def remove_stale_arena(directory: str | os.PathLike[str]) -> bool:
    """Delete the arena files in ``directory`` unless a live process uses them.

    Returns True when no arena is left there (removed, or there was none;
    the directory itself stays), False when a live process has it open
    (then nothing is deleted). Only the arena's own files are touched.
    Raises ``ArenaError`` for a directory that is not ours or not safe
    (docs/multiprocess.md, trust model). Call it where a new run starts --
    at the top of a gunicorn config file, in ``ExecStartPre`` -- instead of
    ``rm -rf``: run again later (a config reload), it leaves the live run
    alone.
    """
    try:
        d = ArenaDirectory(directory, use=False)
    except FileNotFoundError:
        return True
    try:
        if not d.lock_exclusive():
            return False
        for name in d.names():
            if _is_arena_file(name) or (
                name.startswith(".atomicmetrics-") and name.endswith(".tmp")
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=d.fd)
        return True
    finally:
        d.close()
