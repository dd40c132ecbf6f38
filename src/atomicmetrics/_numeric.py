"""The numeric argument rules of the C module, in plain Python.

One module mirrors ``csrc/convert.c`` (int64 and double arguments) and
``csrc/bounds.c`` (bucket upper bounds): the mutex twins in
``atomicmetrics.reference`` apply these rules, and the registry and the
configuration validate bucket bounds with ``as_bounds``. The equivalence tests
(``tests/unit``, hypothesis against the C types) hold both sides to one
behaviour, error types and messages included.
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Iterable
from typing import SupportsIndex, cast

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "as_bounds",
    "as_double",
    "as_int64",
    "check_int64",
    "same_bits",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_DOUBLE = struct.Struct("<d")


# ---- int64 (csrc/convert.c am_as_int64) -------------------------------------


def as_int64(value: object, what: str) -> int:
    """Return ``value`` as an int in the int64 range.

    TypeError unless ``value`` is an int, a bool or has ``__index__`` (floats
    are refused); OverflowError outside [-2**63, 2**63-1].
    """
    if type(value) is int:  # the common case, without the checks below
        v: int = value
    elif isinstance(value, float) or not hasattr(type(value), "__index__"):
        # hasattr on the type, not isinstance(value, typing.SupportsIndex): a
        # runtime Protocol check costs microseconds and would inflate every
        # mutex baseline that `atomicmetrics bench` compares against.
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    else:
        v = operator.index(cast(SupportsIndex, value))
    check_int64(v, what)
    return v


def check_int64(v: int, what: str) -> None:
    """OverflowError unless ``v`` fits in a signed 64-bit word."""
    if not INT64_MIN <= v <= INT64_MAX:
        raise OverflowError(f"{what} is out of the signed 64-bit range [-2**63, 2**63-1]")


# ---- double (csrc/convert.c am_as_double) ----------------------------------


def as_double(value: object, what: str) -> float:
    """Return ``value`` as a float.

    TypeError unless ``value`` is an int (bool included) or a float; an int
    too large for a double raises OverflowError. NaN and infinities pass.
    """
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"{what} must be an int or a float, not {type(value).__name__}")


def same_bits(a: float, b: float) -> bool:
    """Whether two floats have the same IEEE-754 bit pattern (-0.0 != 0.0)."""
    return _DOUBLE.pack(a) == _DOUBLE.pack(b)


# ---- bucket upper bounds (csrc/bounds.c am_bounds_from) --------------------


def as_bounds(bounds: Iterable[float]) -> tuple[float, ...]:
    """Return validated bucket upper bounds as a tuple of floats.

    Ints and floats are accepted (TypeError otherwise, and for a non-iterable).
    They must be strictly increasing and finite; one trailing +Inf is
    accepted and dropped (the +Inf bucket is always there). Empty input, no
    finite bound, NaN, other infinities, ints too large for a float and
    non-increasing bounds raise ValueError.
    """
    try:
        items = list(bounds)
    except TypeError:
        raise TypeError("bounds must be a sequence of numbers") from None
    out: list[float] = []
    for i, item in enumerate(items):
        if not isinstance(item, (int, float)):
            raise TypeError(f"bound must be an int or a float, not {type(item).__name__}")
        try:
            v = float(item)
        except OverflowError:
            raise ValueError(f"bound {i} is too large to be a finite float") from None
        if math.isnan(v):
            raise ValueError(f"bound {i} is NaN")
        if math.isinf(v):
            if v > 0 and i == len(items) - 1:
                break
            raise ValueError(f"bound {i} is infinite (only a last +Inf is allowed)")
        if out and not v > out[-1]:
            raise ValueError(
                f"bounds must be strictly increasing: bound {i} ({item!r}) <= bound {i - 1}"
            )
        out.append(v)
    if not out:
        raise ValueError("bounds must hold at least one finite bound")
    return tuple(out)
