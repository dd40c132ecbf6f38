"""Shared pieces of the reliability suites: size scaling, watchdogs, metric kinds.

``ATOMICMETRICS_STRESS_SCALE`` (a positive float, default 1) multiplies the
sizes and durations of the reliability tests: the default keeps each test to
a few seconds; ``ATOMICMETRICS_STRESS_SCALE=10`` gives the figures quoted in
docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


def scale() -> float:
    """The stress scale from ``ATOMICMETRICS_STRESS_SCALE`` (default 1.0)."""
    raw = os.environ.get("ATOMICMETRICS_STRESS_SCALE", "1")
    value = float(raw)
    if not value > 0:
        raise ValueError(f"ATOMICMETRICS_STRESS_SCALE must be > 0, not {raw!r}")
    return value


def scaled(n: float) -> int:
    """``n`` times the stress scale, at least 1."""
    return max(1, int(n * scale()))


@contextlib.contextmanager
def watchdog(timeout_s: float) -> Iterator[None]:
    """Abort the process with every thread's traceback if the body deadlocks.

    A deadlocked main thread cannot fail a test by itself; ``faulthandler``
    dumps the stacks to stderr and exits with status 1 from its own C
    thread after ``timeout_s``, which fails the run loudly.
    """
    faulthandler.dump_traceback_later(timeout_s, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@dataclass(frozen=True)
class Kind:
    """One registry family type: how to make it, record one unit, read the units."""

    name: str
    make: Callable[..., Any]  # (registry, name, labelnames, **factory_kwargs)
    record: Callable[[Any], None]
    units: Callable[[Any], float]


KINDS = (
    Kind(
        "counter",
        lambda r, n, ls, **kw: r.counter(n, "c", ls, **kw),
        lambda c: c.inc(),
        lambda c: c.value(),
    ),
    Kind(
        "gauge",
        lambda r, n, ls, **kw: r.gauge(n, "g", ls, **kw),
        lambda c: c.inc(),
        lambda c: c.value(),
    ),
    Kind(
        "histogram",
        lambda r, n, ls, **kw: r.histogram(n, "h", ls, **kw),
        lambda c: c.observe(0.25),
        lambda c: c.snapshot().count,
    ),
    Kind(
        "rule_execution",
        lambda r, n, ls, **kw: r.rule_execution(n, "r", ls, **kw),
        lambda c: c.record(1500, False),
        lambda c: c.execution_count(),
    ),
    Kind(
        "throughput",
        lambda r, n, ls, **kw: r.throughput(n, "t", ls, sla_ns=1000, **kw),
        lambda c: c.record(1, 2000),
        lambda c: c.events_processed(),
    ),
)
