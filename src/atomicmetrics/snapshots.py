"""Consistent point-in-time readings of the multi-word metrics.

``AtomicHistogram``, ``RuleExecutionMetric`` and ``ThroughputMetric`` (each
from the plain tuple its C core reads) and their mutex twins in
``atomicmetrics.reference`` all return these frozen dataclasses, built one
way: by their constructor. A leaf module: it imports nothing from
``atomicmetrics``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """One consistent reading of a histogram.

    ``bounds`` are the finite upper bounds; ``buckets`` has one more entry
    (the +Inf bucket last) and is per bucket, not cumulative; ``count ==
    sum(buckets)`` always, and ``sum`` is the sum of the same observations.
    A reading, not a live view: building it never blocks recording.
    """

    bounds: tuple[float, ...]
    buckets: list[int]
    count: int
    sum: float


@dataclass(frozen=True, slots=True)
class RuleExecutionSnapshot:
    """One consistent reading of a rule-execution metric.

    Fields are named after the metric's getters and describe the same set of
    executions: ``execution_count == sum(bucket_counts)``, ``error_count <=
    execution_count`` and, when not empty, ``min_duration_ns <=
    average_duration_ns <= max_duration_ns`` (the average is a float,
    clamped into that range against rounding; ``min``/``max`` are ``None``
    when empty, ``average_duration_ns`` and ``error_rate`` are 0.0 then).
    """

    execution_count: int
    error_count: int
    total_duration_ns: int
    average_duration_ns: float
    min_duration_ns: int | None
    max_duration_ns: int | None
    error_rate: float
    bucket_counts: list[int]


@dataclass(frozen=True, slots=True)
class ThroughputSnapshot:
    """One consistent reading of a throughput metric; fields are its getters.

    ``sla_violations <= sample_count`` (and the rate is their ratio, 0.0
    without samples); the events behind ``throughput`` (per second over the
    window) and ``peak_throughput`` (per second of the busiest slot) never
    exceed ``events_processed``; no reset falls inside the reading.
    """

    events_processed: int
    sample_count: int
    sla_violations: int
    sla_violation_rate: float
    throughput: float
    peak_throughput: float
