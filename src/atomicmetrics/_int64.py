"""The int64 rules of DESIGN §1 in plain Python, for the reference types.

The C module applies the same rules in ``csrc/convert.c``; the equivalence
tests hold both to one behaviour.
"""

from __future__ import annotations

import operator
from typing import SupportsIndex, cast

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


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
