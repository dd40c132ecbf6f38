"""Forked children for the multi-process tests: start, release together, join."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable


def fork(fn: Callable[[], object]) -> int:
    """Run ``fn`` in a forked child that exits 0 on success, 1 on an exception."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            fn()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def join(pid: int) -> int:
    """Wait for a child; its exit code."""
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def run_at_once(n: int, body: Callable[[int], None]) -> list[int]:
    """``n`` forked children, all started (each past its fork hook, so holding
    its slot), run ``body(i)`` together; their exit codes."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()

    def make(i: int) -> Callable[[], None]:
        def run() -> None:
            os.write(ready_w, b"r")
            os.read(go_r, 1)
            body(i)

        return run

    pids = [fork(make(i)) for i in range(n)]
    for _ in range(n):
        os.read(ready_r, 1)
    os.write(go_w, b"g" * n)
    codes = [join(p) for p in pids]
    for fd in (ready_r, ready_w, go_r, go_w):
        os.close(fd)
    return codes
