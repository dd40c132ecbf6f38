"""Mutex-based reference versions of the atomic types: the "before".

Each class guards plain Python fields with one ``threading.Lock`` and answers
every method exactly as its atomic twin does (same results, same errors,
nothing changed by a call that raises). They are the baseline of every
benchmark and the oracle of the equivalence tests; they are not meant for
production use.
"""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from fractions import Fraction

from atomicmetrics._float64 import as_double, same_bits
from atomicmetrics._int64 import as_int64, check_int64

__all__ = ["MutexCounter", "MutexDuration", "MutexFloat", "MutexMinMax"]


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


class MutexFloat:
    """A double guarded by a ``threading.Lock``; twin of ``AtomicFloat``."""

    __slots__ = ("_lock", "_value")

    def __init__(self, value: float = 0.0) -> None:
        self._value = as_double(value, "value")  # guarded by _lock
        self._lock = threading.Lock()

    def add(self, x: float) -> None:
        x = as_double(x, "x")
        with self._lock:
            self._value += x

    def load(self) -> float:
        with self._lock:
            return self._value

    def store(self, x: float) -> None:
        x = as_double(x, "x")
        with self._lock:
            self._value = x

    def swap(self, x: float) -> float:
        x = as_double(x, "x")
        with self._lock:
            prev, self._value = self._value, x
            return prev

    def compare_and_swap(self, expected: float, new: float) -> bool:
        expected = as_double(expected, "expected")
        new = as_double(new, "new")
        with self._lock:
            if not same_bits(self._value, expected):
                return False
            self._value = new
            return True

    def __float__(self) -> float:
        return self.load()

    def __repr__(self) -> str:
        return f"MutexFloat({self.load()!r})"


_NS_PER_S = 10**9


def _ns_of(d: object) -> int:
    """A timedelta, or int / float seconds, as nanoseconds (AtomicDuration.add rules)."""
    if isinstance(d, int):
        ns = as_int64(d, "d") * _NS_PER_S
    elif isinstance(d, float):
        if math.isnan(d):
            raise ValueError("cannot add NaN seconds to a duration")
        if math.isinf(d):
            raise OverflowError("cannot add infinite seconds to a duration")
        ns = round(Fraction(d) * _NS_PER_S)  # nearest ns, ties to even
    elif isinstance(d, timedelta):
        ns = ((d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds) * 1_000
    else:
        raise TypeError(f"d must be a timedelta, int or float, not {type(d).__name__}")
    check_int64(ns, "the duration to add")
    return ns


class MutexDuration:
    """Nanoseconds in an int guarded by a ``threading.Lock``; twin of ``AtomicDuration``."""

    __slots__ = ("_counter",)

    def __init__(self, ns: int = 0) -> None:
        self._counter = MutexCounter(as_int64(ns, "ns"))

    def add_ns(self, ns: int) -> None:
        self._counter._add(as_int64(ns, "ns"), "add_ns()")

    def add(self, d: timedelta | float) -> None:
        self._counter._add(_ns_of(d), "add()")

    def load_ns(self) -> int:
        return self._counter.load()

    def load(self) -> timedelta:
        # nearest microsecond, ties to even (timedelta's own rule)
        return timedelta(microseconds=round(Fraction(self._counter.load(), 1_000)))

    def seconds(self) -> float:
        return self._counter.load() / _NS_PER_S

    def store_ns(self, ns: int) -> None:
        self._counter.store(as_int64(ns, "ns"))

    def compare_and_swap_ns(self, expected: int, new: int) -> bool:
        return self._counter.compare_and_swap(expected, new)

    def reset(self) -> int:
        return self._counter.reset()

    def __repr__(self) -> str:
        return f"MutexDuration(ns={self.load_ns()})"


class MutexMinMax:
    """Minimum and maximum ints guarded by a ``threading.Lock``; twin of ``AtomicMinMax``."""

    __slots__ = ("_lock", "_pair")

    def __init__(self) -> None:
        self._pair: tuple[int, int] | None = None  # guarded by _lock
        self._lock = threading.Lock()

    def observe(self, v: int) -> None:
        v = as_int64(v, "v")
        with self._lock:
            pair = self._pair
            self._pair = (v, v) if pair is None else (min(pair[0], v), max(pair[1], v))

    def min(self) -> int | None:
        pair = self.snapshot()
        return None if pair is None else pair[0]

    def max(self) -> int | None:
        pair = self.snapshot()
        return None if pair is None else pair[1]

    def snapshot(self) -> tuple[int, int] | None:
        with self._lock:
            return self._pair

    def reset(self) -> None:
        with self._lock:
            self._pair = None

    def __repr__(self) -> str:
        pair = self.snapshot()
        if pair is None:
            return "MutexMinMax(empty)"
        return f"MutexMinMax(min={pair[0]}, max={pair[1]})"
