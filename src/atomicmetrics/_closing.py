"""``ClosingContext``: the context-manager protocol of objects that have a ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["ClosingContext"]

_T = TypeVar("_T", bound="ClosingContext")


class ClosingContext:
    """Mixin: ``with obj:`` returns ``obj`` and calls ``obj.close()`` on exit.

    For the recorders and the HTTP server; the subclass defines ``close()``
    (thread-safety and errors are its own). Exceptions are never suppressed.
    """

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
