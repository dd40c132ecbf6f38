"""prometheus_client.utils: the float spellings of the exposition formats."""

from __future__ import annotations

from typing import Any

__all__ = ["INF", "MINUS_INF", "NaN", "floatToGoString"]

INF = float("inf")
MINUS_INF = float("-inf")
NaN = float("nan")


def floatToGoString(d: Any) -> str:
    """Render ``float(d)`` the way prometheus_client 0.21 does, byte for byte.

    ``+Inf``, ``-Inf`` and ``NaN`` as Go spells them; finite values as
    Python's shortest round trip, except that positive values from 1e6 up to
    the point where ``repr`` itself switches to an exponent (1e16) are written
    with one, as Go does (``1.5e+06``; from 1e10 on prometheus_client writes a
    three-digit exponent, ``1e+010``, which this keeps so output stays
    identical). Raises what ``float(d)`` raises (``TypeError``,
    ``ValueError``). Pure; thread-safe.
    """
    v = float(d)
    if v - v == 0.0:  # finite: inf - inf and nan - nan are nan
        text = float.__repr__(v)
        if v < 1e6 or "e" in text:
            return text
        whole, _, frac = text.partition(".")
        mantissa = f"{whole[0]}.{whole[1:]}{frac}".rstrip("0").rstrip(".")
        return f"{mantissa}e+0{len(whole) - 1}"
    if v != v:
        return "NaN"
    return "+Inf" if v > 0 else "-Inf"
