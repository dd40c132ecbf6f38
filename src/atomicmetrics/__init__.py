"""atomicmetrics: lock-free, exact metrics for hot Python code paths.

Recording a metric costs about one C method call, takes no lock, and stays
exact under threads (GIL and free-threaded CPython) and forked workers. The
public names of DESIGN §§1-4 are re-exported here; ``atomicmetrics.reference``
(the mutex versions) and ``atomicmetrics.multiprocess`` are modules of their own.
"""

from __future__ import annotations

from atomicmetrics._core import (
    AtomicCounter,
    AtomicDuration,
    AtomicFloat,
    AtomicHistogram,
    AtomicMinMax,
    RuleExecutionMetric,
    StripedCounter,
)
from atomicmetrics.exposition import generate_text
from atomicmetrics.openmetrics import generate_openmetrics
from atomicmetrics.rule_metric import DEFAULT_DURATION_BUCKETS_NS
from atomicmetrics.snapshots import HistogramSnapshot, RuleExecutionSnapshot

__all__ = [
    "DEFAULT_DURATION_BUCKETS_NS",
    "AtomicCounter",
    "AtomicDuration",
    "AtomicFloat",
    "AtomicHistogram",
    "AtomicMinMax",
    "HistogramSnapshot",
    "RuleExecutionMetric",
    "RuleExecutionSnapshot",
    "StripedCounter",
    "generate_openmetrics",
    "generate_text",
]

__version__ = "0.1.0"
