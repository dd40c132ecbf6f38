"""csrc/native_bounds.h: the exact bound tables of the native histogram are
what scripts/gen_native_bounds.py derives (with integer arithmetic), and the
derivation itself is exact (checked here against Fractions)."""

from __future__ import annotations

import math
import runpy
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GEN: dict[str, Any] = runpy.run_path(str(ROOT / "scripts" / "gen_native_bounds.py"))


def test_header_is_what_the_generator_writes() -> None:
    assert (ROOT / "csrc" / "native_bounds.h").read_text() == GEN["render"]()


def test_each_bound_is_the_largest_double_at_or_below_two_to_the_j_over_256() -> None:
    bounds, lut = GEN["tables"]()
    assert bounds[0] == 0
    assert bounds[256] == 2**52
    for j in range(1, 256):
        below = 1 + Fraction(bounds[j], 2**52)
        above = 1 + Fraction(bounds[j] + 1, 2**52)
        assert below**256 < 2**j < above**256, j  # never equal: the bound is irrational
    # Rounding to nearest (what a float literal or exp2 gives) differs often.
    off = sum(1 for j in range(1, 256) if 2.0 ** (j / 256) != 1 + bounds[j] / 2**52)
    assert 0 < off < 256
    for cell, j in enumerate(lut):
        edge = cell << 43
        assert bounds[j] >= edge
        assert j == 0 or bounds[j - 1] < edge
    assert math.isclose(1 + bounds[128] / 2**52, math.sqrt(2), rel_tol=1e-15)
