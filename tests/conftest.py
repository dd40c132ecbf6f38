"""Fixtures shared by every suite; helper functions live in tests/helpers.py."""

from __future__ import annotations

import sys

import pytest

from atomicmetrics import Registry


@pytest.fixture
def switch_fast() -> object:
    """Make the GIL switch threads often so races get a chance to happen."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@pytest.fixture
def reg() -> Registry:
    """A fresh registry of the test's own."""
    return Registry()
