"""Hand-made collectors and external-tool lookup for the exposition suites."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence

import pytest

from atomicmetrics.formatting import format_bound
from atomicmetrics.samples import LabelPairs, MetricFamily, Sample

INF = float("inf")


class StaticCollector:
    """A collector that yields the families it was given, every time."""

    def __init__(self, families: Iterable[MetricFamily]) -> None:
        self.families = tuple(families)

    def collect(self) -> tuple[MetricFamily, ...]:
        return self.families


def histogram_samples(
    name: str,
    labels: LabelPairs,
    bounds: Sequence[float],
    per_bucket: Sequence[int],
    total: float,
) -> list[Sample]:
    """Samples of one histogram child as a registry exposes them (le last)."""
    samples = []
    running = 0
    for bound, count in zip([*bounds, INF], per_bucket, strict=True):
        running += count
        samples.append(Sample(f"{name}_bucket", (*labels, ("le", format_bound(bound))), running))
    samples.append(Sample(f"{name}_count", labels, running))
    samples.append(Sample(f"{name}_sum", labels, total))
    return samples


def ci() -> bool:
    """True when running under CI (``CI=true``), where every tool must exist."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """Path of an external tool: skip without it locally, FAIL without it in CI."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found on PATH (Debian: apt-get install -y prometheus)"
    if ci():
        pytest.fail(message)
    pytest.skip(message)


def promtool_check(text: bytes) -> subprocess.CompletedProcess[str]:
    """Run ``promtool check metrics`` on exposition text (bounded wait)."""
    return subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=text.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
