"""Mutex-based reference versions of the atomic types: the "before".

Each class guards plain Python fields with one ``threading.Lock`` and answers
every method exactly as its atomic twin does (same results, same errors,
nothing changed by a call that raises). They are the baseline of every
benchmark and the oracle of the equivalence tests; they are not meant for
production use.
"""

from __future__ import annotations

import bisect
import math
import sys
import threading
from collections.abc import Iterable
from datetime import timedelta
from fractions import Fraction

from atomicmetrics._numeric import INT64_MAX, as_bounds, as_double, as_int64, check_int64, same_bits
from atomicmetrics.atomic_native_histogram import NativeHistogramSnapshot
from atomicmetrics.rule_metric import DEFAULT_DURATION_BUCKETS_NS, RuleTimer
from atomicmetrics.snapshots import HistogramSnapshot, RuleExecutionSnapshot

__all__ = [
    "MutexCounter",
    "MutexDuration",
    "MutexFloat",
    "MutexHistogram",
    "MutexMinMax",
    "MutexNativeHistogram",
    "MutexRuleExecutionMetric",
    "lower_native_buckets",
    "native_bucket_index",
]


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


class MutexHistogram:
    """A fixed-bucket histogram guarded by a ``threading.Lock``.

    Twin of ``AtomicHistogram``: same bounds rules, same ``le`` bucket
    search, same getters and errors.
    """

    __slots__ = ("_bounds", "_buckets", "_lock", "_sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self._bounds = as_bounds(bounds)
        self._lock = threading.Lock()
        self._buckets = [0] * (len(self._bounds) + 1)  # guarded by _lock
        self._sum = 0.0  # guarded by _lock

    def observe(self, x: float) -> None:
        v = as_double(x, "x")
        if math.isnan(v):
            raise ValueError("cannot observe NaN")
        i = bisect.bisect_left(self._bounds, v)
        with self._lock:
            self._buckets[i] += 1
            self._sum += v

    def bounds(self) -> tuple[float, ...]:
        return self._bounds

    def count(self) -> int:
        with self._lock:
            return sum(self._buckets)

    def sum(self) -> float:
        with self._lock:
            return self._sum

    def bucket_counts(self) -> list[int]:
        with self._lock:
            return list(self._buckets)

    def snapshot(self) -> HistogramSnapshot:
        with self._lock:
            buckets, total = list(self._buckets), self._sum
        return HistogramSnapshot(self._bounds, buckets, sum(buckets), total)

    def reset(self) -> None:
        with self._lock:
            self._buckets = [0] * len(self._buckets)
            self._sum = 0.0


def native_bucket_index(ax: float, schema: int) -> int:
    """The native-histogram bucket of ``ax`` (> 0, not NaN) at ``schema``, exactly.

    The smallest ``i`` with ``ax <= 2**(i / 2**schema)``, decided with integer
    arithmetic on ``ax = M * 2**E`` (``M`` an int): ``M**n * 2**(E*n) <= 2**i``
    with ``n = 2**schema`` for schema > 0, a ceiling division of the binary
    exponent for schema <= 0. Slow (an int of 53 * 2**schema bits) and
    independent of the C module's tables. ``+inf`` is one bucket above the
    largest float.
    """
    if math.isinf(ax):
        return native_bucket_index(sys.float_info.max, schema) + 1
    m, e = math.frexp(ax)  # ax = m * 2**e, 0.5 <= m < 1
    if schema <= 0:
        k = e - 1 if m == 0.5 else e  # ceil(log2(ax)), exactly
        return -(-k // (1 << -schema))
    n = 1 << schema
    mant, exp = int(m * 2**53), (e - 53) * n  # ax**n = mant**n * 2**exp

    power: int = mant**n

    def at_or_below(i: int) -> bool:  # ax <= 2**(i / n)
        return power << max(exp - i, 0) <= 1 << max(i - exp, 0)

    i = math.ceil(math.log2(ax) * n)  # a guess, within a step or two
    while not at_or_below(i):
        i += 1
    while at_or_below(i - 1):
        i -= 1
    return i


class MutexNativeHistogram:
    """A native histogram guarded by a ``threading.Lock``.

    Twin of ``AtomicNativeHistogram``: same arguments and errors, bucket
    indices from ``native_bucket_index`` (exact arithmetic, no tables), and
    the schema lowered right after the observation that populates more than
    ``max_buckets`` buckets (pairs merge: ``i -> ceil(i / 2)``).
    """

    __slots__ = (
        "_lock",
        "_max_buckets",
        "_negative",
        "_positive",
        "_schema",
        "_schema0",
        "_sum",
        "_zero",
        "_zero_threshold",
    )

    def __init__(
        self, schema: int = 3, zero_threshold: float = 2.0**-128, max_buckets: int = 160
    ) -> None:
        schema = as_int64(schema, "schema")
        if not -4 <= schema <= 8:
            raise ValueError(f"schema must be an int in -4..8, not {schema}")
        zt = as_double(zero_threshold, "zero_threshold")
        if not 0.0 <= zt < math.inf:
            raise ValueError(f"zero_threshold must be a finite number >= 0, not {zero_threshold!r}")
        max_buckets = as_int64(max_buckets, "max_buckets")
        if not 1 <= max_buckets <= 2**20:
            raise ValueError(f"max_buckets must be an int in 1..{2**20}, not {max_buckets}")
        self._schema0 = schema
        self._zero_threshold = zt
        self._max_buckets = max_buckets
        self._lock = threading.Lock()
        self._schema = schema  # guarded by _lock, as are the four below
        self._zero = 0
        self._sum = 0.0
        self._positive: dict[int, int] = {}
        self._negative: dict[int, int] = {}

    @property
    def schema(self) -> int:
        return self._schema0

    @property
    def zero_threshold(self) -> float:
        return self._zero_threshold

    @property
    def max_buckets(self) -> int:
        return self._max_buckets

    def observe(self, v: float) -> None:
        x = as_double(v, "v")
        if math.isnan(x):
            raise ValueError("cannot observe NaN")
        ax = abs(x)
        with self._lock:
            self._sum += x
            if ax <= self._zero_threshold:
                self._zero += 1
                return
            span = self._negative if math.copysign(1.0, x) < 0 else self._positive
            i = native_bucket_index(ax, self._schema)
            span[i] = span.get(i, 0) + 1
            while len(self._positive) + len(self._negative) > self._max_buckets and (
                self._schema > -4
            ):
                self._positive = lower_native_buckets(self._positive)
                self._negative = lower_native_buckets(self._negative)
                self._schema -= 1

    def snapshot(self) -> NativeHistogramSnapshot:
        with self._lock:
            pos, neg = dict(sorted(self._positive.items())), dict(sorted(self._negative.items()))
            schema, zero, total = self._schema, self._zero, self._sum
        count = zero + sum(pos.values()) + sum(neg.values())
        return NativeHistogramSnapshot(schema, self._zero_threshold, zero, count, total, pos, neg)

    def reset(self) -> None:
        with self._lock:
            self._schema = self._schema0
            self._zero = 0
            self._sum = 0.0
            self._positive = {}
            self._negative = {}


def lower_native_buckets(buckets: dict[int, int], times: int = 1) -> dict[int, int]:
    """Native-histogram buckets ``times`` schemas lower, as Prometheus merges them.

    Bucket ``i`` merges into ``ceil(i / 2**times)``; the result is sorted by index.
    """
    out: dict[int, int] = {}
    for i, c in buckets.items():
        j = -(-i // 2**times)
        out[j] = out.get(j, 0) + c
    return dict(sorted(out.items()))


class MutexRuleExecutionMetric:
    """Rule-execution statistics guarded by a ``threading.Lock``.

    Twin of ``RuleExecutionMetric``: same bounds rules, same errors, same
    getters and snapshot (average clamped into [min, max] the same way).
    """

    __slots__ = ("_bounds", "_buckets", "_errors", "_lock", "_max", "_min", "_total")

    def __init__(self, buckets: Iterable[float] = DEFAULT_DURATION_BUCKETS_NS) -> None:
        self._bounds = as_bounds(buckets)
        self._lock = threading.Lock()
        self._buckets = [0] * (len(self._bounds) + 1)  # the rest guarded by _lock
        self._total = 0
        self._errors = 0
        self._min = INT64_MAX
        self._max = 0

    def record(self, duration_ns: int, error: bool = False) -> None:
        d = as_int64(duration_ns, "duration_ns")
        if d < 0:
            raise ValueError(f"duration_ns must be >= 0, not {d}")
        is_error = bool(error)
        i = bisect.bisect_left(self._bounds, float(d))
        with self._lock:
            if self._total > INT64_MAX - d:
                raise OverflowError(
                    f"record(): total duration: {self._total} + {d} is out of the signed"
                    " 64-bit range; nothing was changed"
                )
            self._total += d
            self._errors += is_error
            self._min = min(self._min, d)
            self._max = max(self._max, d)
            self._buckets[i] += 1

    def time(self) -> RuleTimer:
        return RuleTimer(self)

    def bounds(self) -> tuple[float, ...]:
        return self._bounds

    def snapshot(self) -> RuleExecutionSnapshot:
        with self._lock:
            buckets, total, errors = list(self._buckets), self._total, self._errors
            mn, mx = self._min, self._max
        count = sum(buckets)
        if count == 0:
            return RuleExecutionSnapshot(0, 0, total, 0.0, None, None, 0.0, buckets)
        average = min(max(float(total) / count, float(mn)), float(mx))
        return RuleExecutionSnapshot(
            count, errors, total, average, mn, mx, float(errors) / count, buckets
        )

    def execution_count(self) -> int:
        return self.snapshot().execution_count

    def error_count(self) -> int:
        return self.snapshot().error_count

    def total_duration_ns(self) -> int:
        return self.snapshot().total_duration_ns

    def average_duration_ns(self) -> float:
        return self.snapshot().average_duration_ns

    def min_duration_ns(self) -> int | None:
        return self.snapshot().min_duration_ns

    def max_duration_ns(self) -> int | None:
        return self.snapshot().max_duration_ns

    def error_rate(self) -> float:
        return self.snapshot().error_rate

    def bucket_counts(self) -> list[int]:
        return self.snapshot().bucket_counts

    def reset(self) -> None:
        with self._lock:
            self._buckets = [0] * len(self._buckets)
            self._total = self._errors = self._max = 0
            self._min = INT64_MAX
