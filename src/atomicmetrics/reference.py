"""Mutex-based reference versions of the atomic types: the "before".

Each class guards plain Python fields with one ``threading.Lock`` and answers
every method exactly as its atomic twin does (same results, same errors,
nothing changed by a call that raises). They are the baseline of every
benchmark and the oracle of the equivalence tests; they are not meant for
production use.
"""

from __future__ import annotations

import threading

from atomicmetrics._int64 import as_int64, check_int64

__all__ = ["MutexCounter"]


class MutexCounter:
    """A signed 64-bit counter guarded by a ``threading.Lock``."""

    __slots__ = ("_lock", "_value")

    def __init__(self, value: int = 0) -> None:
        self._value = as_int64(value, "value")  # guarded by _lock
        self._lock = threading.Lock()

    def _add(self, n: int, op: str) -> int:
        with self._lock:
            prev = self._value
            result = prev + n
            try:
                check_int64(result, op)
            except OverflowError:
                raise OverflowError(
                    f"{op}: {prev} + {n} is out of the signed 64-bit range; nothing was changed"
                ) from None
            self._value = result
            return prev

    def inc(self) -> None:
        self._add(1, "inc()")

    def dec(self) -> None:
        self._add(-1, "dec()")

    def add(self, n: int) -> None:
        self._add(as_int64(n, "n"), "add()")

    def fetch_add(self, n: int) -> int:
        return self._add(as_int64(n, "n"), "fetch_add()")

    def load(self) -> int:
        with self._lock:
            return self._value

    def store(self, v: int) -> None:
        v = as_int64(v, "v")
        with self._lock:
            self._value = v

    def swap(self, v: int) -> int:
        v = as_int64(v, "v")
        with self._lock:
            prev, self._value = self._value, v
            return prev

    def compare_and_swap(self, expected: int, new: int) -> bool:
        expected = as_int64(expected, "expected")
        new = as_int64(new, "new")
        with self._lock:
            if self._value != expected:
                return False
            self._value = new
            return True

    def reset(self) -> int:
        return self.swap(0)

    def __int__(self) -> int:
        return self.load()

    def __index__(self) -> int:
        return self.load()

    def __repr__(self) -> str:
        return f"MutexCounter({self.load()})"
