"""Shared fixtures: designed concurrency helpers used across the suites, and
``apply_op``, the comparable result of one call for mutex-twin equivalence."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

THREADS = 8


def run_threads(n: int, target: Callable[[int], object]) -> list[object]:
    """Run ``target(i)`` on ``n`` threads that start together on a barrier.

    Returns the results in thread order; re-raises the first exception.
    """
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as e:  # re-raised in the caller below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def apply_op(
    obj: object,
    op: tuple[Any, ...],
    errors: tuple[type[Exception], ...] = (OverflowError, TypeError),
    normal: Callable[[Any], object] = lambda v: v,
) -> object:
    """What ``obj.<op[0]>(*op[1:])`` did, comparable between a metric and its twin.

    ``("ok", normal(result))``, or ``("raised", type)`` for an exception in
    ``errors``; any other exception propagates (fails the test).
    """
    try:
        result = getattr(obj, op[0])(*op[1:])
    except errors as e:
        return ("raised", type(e))
    return ("ok", normal(result))


@pytest.fixture
def switch_fast() -> object:
    """Make the GIL switch threads often so races get a chance to happen."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)
