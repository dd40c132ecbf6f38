"""prometheus_client.context_managers: counting exceptions, in-progress, timing.

Each object works as a context manager and as a function decorator (the
decorated function keeps its signature, see ``decorator.py``). They record
through the metric's public methods, so they cost what those cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

from atomicmetrics.prometheus_client.decorator import decorate

__all__ = ["ExceptionCounter", "InprogressTracker", "Timer"]

F = TypeVar("F", bound=Callable[..., Any])


class _Decorating:
    """``obj(f)`` runs each call of ``f`` inside ``with self._for_call():``."""

    def _for_call(self) -> Any:
        return self

    def __call__(self, f: F) -> F:
        def wrapped(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            with self._for_call():
                return func(*args, **kwargs)

        return decorate(f, wrapped)


class ExceptionCounter(_Decorating):
    """Increments ``counter`` when an instance of ``exception`` leaves the block.

    The exception propagates; other exceptions are not counted.
    """

    def __init__(
        self,
        counter: Any,
        exception: type[BaseException] | tuple[type[BaseException], ...],
    ) -> None:
        self._counter = counter
        self._exception = exception

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if isinstance(value, self._exception):
            self._counter.inc()
        return False


class InprogressTracker(_Decorating):
    """Increments ``gauge`` on entry and decrements it on exit."""

    def __init__(self, gauge: Any) -> None:
        self._gauge = gauge

    def __enter__(self) -> None:
        self._gauge.inc()

    def __exit__(self, typ: object, value: object, traceback: object) -> None:
        self._gauge.dec()


class Timer(_Decorating):
    """Calls ``metric.<callback_name>(seconds)`` with the block's duration.

    Durations come from ``time.perf_counter`` and are never negative. As a
    decorator each call gets a timer of its own (thread-safe, reentrant).
    ``labels(...)`` inside the block picks the child to record into (for a
    labelled parent: ``with h.time() as t: t.labels("x")``).
    """

    def __init__(self, metric: Any, callback_name: str) -> None:
        self._metric = metric
        self._callback_name = callback_name

    def _new_timer(self) -> Timer:
        return self.__class__(self._metric, self._callback_name)

    def _for_call(self) -> Timer:
        return self._new_timer()

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, typ: object, value: object, traceback: object) -> None:
        duration = max(time.perf_counter() - self._start, 0)
        getattr(self._metric, self._callback_name)(duration)

    def labels(self, *args: Any, **kw: Any) -> None:
        """Record into ``metric.labels(*args, **kw)`` when the block ends."""
        self._metric = self._metric.labels(*args, **kw)
