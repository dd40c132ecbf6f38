"""RuleExecutionMetric: count, errors, total/min/max duration and buckets of a rule.

The cell and its hot path are C (``atomicmetrics._core.RuleExecutionMetric``,
``csrc/rule_metric.c``): one ``record()`` call updates the count, total,
min/max, bucket and error count. This thin subclass adds what Python does
best: the default buckets, ``time()`` (a ``RuleTimer``) and ``snapshot()``
(a ``RuleExecutionSnapshot`` built from the C reading).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import ParamSpec, Protocol, TypeVar

from atomicmetrics import _core
from atomicmetrics.snapshots import RuleExecutionSnapshot

__all__ = ["DEFAULT_DURATION_BUCKETS_NS", "RuleExecutionMetric", "RuleTimer"]

#: Default upper bounds of rule durations, in nanoseconds: one per decade
#: from 1 µs to 10 s (1e3 ... 1e10), plus the implicit +Inf bucket. A
#: decade per bucket keeps a rule metric's cell at 28 words (224 bytes; each
#: extra bound costs 16 bytes, one word per half)
#: while still telling a 5 µs rule from a 50 µs one. Floats, in a tuple:
#: every metric built with the default shares this one object.
DEFAULT_DURATION_BUCKETS_NS: tuple[float, ...] = (
    1e3,
    1e4,
    1e5,
    1e6,
    1e7,
    1e8,
    1e9,
    1e10,
)

P = ParamSpec("P")
R = TypeVar("R")


class _Recorder(Protocol):
    def record(self, duration_ns: int, error: bool = False) -> None: ...


class RuleTimer:
    """Times a block or a function into a rule metric; from ``metric.time()``.

    As a context manager, measures the ``with`` body with
    ``time.perf_counter_ns()`` and records it, with ``error=True`` when the
    body raises (the exception propagates). As a decorator, does the same
    for every call of the function. One timer times one ``with`` block at a
    time (call ``time()`` again for nested or concurrent blocks); the
    decorated function is thread-safe. Cost: two clock reads and one
    ``record()`` per measurement.
    """

    __slots__ = ("_metric", "_start")

    def __init__(self, metric: _Recorder) -> None:
        self._metric = metric
        self._start = 0

    def __enter__(self) -> RuleTimer:
        self._start = time.perf_counter_ns()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._metric.record(time.perf_counter_ns() - self._start, exc_type is not None)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        record = self._metric.record
        clock = time.perf_counter_ns

        @functools.wraps(func)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            start = clock()
            try:
                result = func(*args, **kwargs)
            except BaseException:
                record(clock() - start, True)
                raise
            record(clock() - start, False)
            return result

        return timed


class RuleExecutionMetric(_core.RuleExecutionMetric):
    """Execution count, error count, total/min/max duration and a duration
    histogram of one rule, recorded by one lock-free C call.

    ``RuleExecutionMetric(buckets=DEFAULT_DURATION_BUCKETS_NS)``: upper
    bounds in ns, the rules of ``AtomicHistogram``'s bounds.
    ``record(duration_ns, error=False)``: duration_ns an int >= 0
    (TypeError / ValueError); OverflowError when the total would pass
    2**63-1; a call that raises changes nothing.

    Thread-safe (GIL and free-threaded builds, and across processes when the
    cell lives in a shared arena). ``record()`` never waits: four atomic
    operations (plus a CAS for a new min or max). Readers (getters,
    ``snapshot()``, ``reset()``) exclude each other by a lock bit in the
    cell, never block ``record()``, and see one consistent set of executions
    (``csrc/hotcold.h``). Contended ``record()`` calls (free-threaded
    builds) spread over per-thread stripes, each a whole cell, summed by
    readers (``csrc/stripes.h``); a striped metric may raise OverflowError
    within 2**55 ns of a 2**63 ns total (exact while unstriped). Durations
    are placed in buckets by their nearest double (exact below 2**53 ns);
    the average is clamped into [min, max] against rounding.
    """

    __slots__ = ()

    def __new__(cls, buckets: Sequence[float] = DEFAULT_DURATION_BUCKETS_NS) -> RuleExecutionMetric:
        return super().__new__(cls, buckets)

    def time(self) -> RuleTimer:
        """A ``RuleTimer`` for this metric: a context manager and decorator
        that records the duration of its body (``time.perf_counter_ns``), with
        ``error=True`` when the body raises (the exception propagates)."""
        return RuleTimer(self)

    def snapshot(self) -> RuleExecutionSnapshot:
        """A consistent ``RuleExecutionSnapshot``: exactly the executions
        recorded before the call; ``execution_count == sum(bucket_counts)``,
        ``error_count <= execution_count``, ``min <= average <= max``."""
        return RuleExecutionSnapshot(*self._snapshot())
