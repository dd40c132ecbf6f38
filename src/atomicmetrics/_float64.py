"""The double rules of DESIGN §1 in plain Python, for the reference types.

The C module applies the same rules in ``csrc/convert.c`` (``am_as_double``);
the equivalence tests hold both to one behaviour.
"""

from __future__ import annotations

import struct

_DOUBLE = struct.Struct("<d")


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
