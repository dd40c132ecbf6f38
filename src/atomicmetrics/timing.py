"""What ``Histogram`` (a C type) hands to Python: its timer and default buckets.

``HistogramTimer`` is what ``Histogram.time()`` returns; ``DEFAULT_BUCKETS_S``
are the bounds of ``Histogram()`` and of ``Registry.histogram`` without
``buckets``. A leaf that the C module imports while it initialises, so it
imports nothing from ``atomicmetrics``; ``atomicmetrics.histogram`` re-exports
both.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

__all__ = ["DEFAULT_BUCKETS_S", "HistogramTimer"]

P = ParamSpec("P")
R = TypeVar("R")

# Prometheus' default buckets (client_golang DefBuckets, client_python
# Histogram.DEFAULT_BUCKETS): 5 ms to 10 s, for request latencies in seconds.
DEFAULT_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip


class HistogramTimer:
    """Times a block or every call of a function and observes the seconds.

    As a context manager it observes when the block exits (also when it
    raises; the exception propagates). As a decorator each call gets its own
    start time, so a decorated function may run on many threads at once.
    Clock: ``time.perf_counter()``.
    """

    __slots__ = ("_observe", "_start")

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        self._start = 0.0

    def __enter__(self) -> HistogramTimer:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._observe(time.perf_counter() - self._start)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        observe = self._observe

        @functools.wraps(func)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)

        return timed
