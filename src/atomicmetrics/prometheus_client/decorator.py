"""prometheus_client.decorator: signature-preserving decorators.

prometheus_client ships a copy of the ``decorator`` package for its timers
and counters; the parts it uses are ``decorate`` and ``getargspec``. Here a
decorated function is a ``functools.wraps`` wrapper that also carries the
original's ``__signature__``, so ``inspect.signature`` and ``getargspec``
report the original arguments (``getfullargspec`` honours
``__signature__``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

__all__ = ["ArgSpec", "decorate", "decorator", "getargspec"]

F = TypeVar("F", bound=Callable[..., Any])


class ArgSpec(NamedTuple):
    """``getargspec``'s answer: positional names, ``*args``, ``**kw``, defaults."""

    args: list[str]
    varargs: str | None
    varkw: str | None
    defaults: tuple[Any, ...] | None


def getargspec(f: Callable[..., Any]) -> ArgSpec:
    """The old ``inspect.getargspec`` shape of ``f``'s signature."""
    spec = inspect.getfullargspec(f)
    return ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


def decorate(func: F, caller: Callable[..., Any]) -> F:
    """``func`` wrapped so that each call is ``caller(func, *args, **kwargs)``.

    The wrapper keeps ``func``'s name, docstring, module and signature.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return caller(func, *args, **kwargs)

    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def decorator(caller: Callable[..., Any]) -> Callable[[F], F]:
    """Turn ``caller(func, *args, **kwargs)`` into a decorator (``decorate`` applied)."""

    def make(func: F) -> F:
        return decorate(func, caller)

    return make
