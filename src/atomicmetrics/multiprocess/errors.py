"""The exceptions of the multi-process arena."""

from __future__ import annotations

import errno

__all__ = ["RECOVERY", "ArenaError", "ArenaFullError"]

RECOVERY = (
    "stop every process using it, then delete the directory (or call "
    "atomicmetrics.multiprocess.remove_stale_arena on it) and start again"
)


class ArenaError(ValueError):
    """A multi-process arena directory or file is unsafe, foreign, stale or corrupt.

    The message names the file or directory and the recovery. Raised when a
    registry opens the directory and by factory calls that meet a bad record;
    a scrape never raises it (it skips what it cannot read and logs a
    warning on the ``atomicmetrics.multiprocess`` logger).
    """


class ArenaFullError(OSError):
    """The arena could not grow: the file system is full or a size limit was hit.

    An ``OSError`` (``errno`` is the file system's: ``ENOSPC``, ``EDQUOT``,
    ``EFBIG``; ``ENOSPC`` when the arena reached its own limit of segments).
    Raised only by the call that needed new space (a factory or a first
    ``labels(...)``), which then changed nothing: every existing series keeps
    recording, every scrape keeps working, and the same call succeeds once
    space is freed.
    """


FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
