"""Bucket upper bounds in plain Python, for the reference types.

The C module applies the same rules in ``csrc/bounds.c``; the equivalence
tests hold both to one behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def as_bounds(bounds: Iterable[float]) -> tuple[float, ...]:
    """Return validated bucket upper bounds as a tuple of floats.

    Ints and floats are accepted (TypeError otherwise). They must be
    strictly increasing and finite; one trailing +Inf is accepted and
    dropped. Empty input, no finite bound, NaN, other infinities, ints too
    large for a float and non-increasing bounds raise ValueError.
    """
    items = list(bounds)  # TypeError when not iterable
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
