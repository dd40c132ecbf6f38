"""Configuration of metrics recording: levels, the async recorder's knobs, presets.

``AsyncMetricsConfig`` sizes the async recorder; ``MetricsConfig`` says how
much to record and how (``MetricsLevel``), with the bucket layout, SLA and
window that the metric factories use. ``production_metrics_config()`` and
``development_metrics_config()`` are the two presets, and
``MetricsConfig.from_env()`` reads ``ATOMICMETRICS_*`` variables over the
production preset. ``make_recorder`` (in ``atomicmetrics.recorder``) turns a
``MetricsConfig`` into a recorder.

Every config is a frozen dataclass validated on construction: an invalid
field raises ``ValueError`` naming the field (wrong types included, and a
``bool`` where a number is expected: ``buffer_size=True`` is a mistake, not
a size of 1). ``from_env`` raises ``ValueError`` naming the variable.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from atomicmetrics._numeric import as_bounds
from atomicmetrics.rule_metric import DEFAULT_DURATION_BUCKETS_NS

__all__ = [
    "AsyncMetricsConfig",
    "MetricsConfig",
    "MetricsLevel",
    "development_metrics_config",
    "production_metrics_config",
]

_ENV_PREFIX = "ATOMICMETRICS_"


class MetricsLevel(enum.IntEnum):
    """How much a service records, ordered: ``OFF < BASIC < STANDARD < DEBUG``.

    ``OFF`` records nothing (``make_recorder`` gives a ``NullRecorder``);
    ``BASIC`` and ``STANDARD`` record through an ``AsyncMetricRecorder``
    (what each level records beyond that is the application's choice: compare
    levels, ``if config.level >= MetricsLevel.STANDARD``); ``DEBUG`` applies
    every call in the caller (``SyncRecorder``) so that numbers are exact at
    once and a failing call is seen where it happens.
    """

    OFF = 0
    BASIC = 1
    STANDARD = 2
    DEBUG = 3


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be an int > 0, not {value!r}")
    return value


def _positive_seconds(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number of seconds > 0, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class AsyncMetricsConfig:
    """Sizes and policy of an ``AsyncMetricRecorder``.

    ``buffer_size``: calls the ring holds at once (1 .. 2**32).
    ``worker_count``: worker threads applying calls.
    ``batch_size``: most calls a worker takes and applies per turn.
    ``flush_timeout_s``: how long ``close()`` (and the close at interpreter
    exit) waits for the workers to drain; ``flush()`` takes its own timeout.
    ``drop_on_overflow``: when the ring is full, ``record()`` drops the call
    and returns False (True) or waits for room (False).

    Immutable (safe to share between threads). Every field is validated:
    ``ValueError`` naming the field for a wrong type, a ``bool`` where a
    number is expected, a value <= 0, NaN or infinity.
    """

    buffer_size: int = 10_000
    worker_count: int = 2
    batch_size: int = 256
    flush_timeout_s: float = 5.0
    drop_on_overflow: bool = True

    def __post_init__(self) -> None:
        size = _positive_int(self.buffer_size, "buffer_size")
        if size > 2**32:
            raise ValueError(f"buffer_size must be at most 2**32, not {size!r}")
        _positive_int(self.worker_count, "worker_count")
        _positive_int(self.batch_size, "batch_size")
        _positive_seconds(self.flush_timeout_s, "flush_timeout_s")
        if not isinstance(self.drop_on_overflow, bool):
            raise ValueError(f"drop_on_overflow must be a bool, not {self.drop_on_overflow!r}")


def _check_buckets(value: object) -> tuple[float, ...]:
    """The bucket bounds rules (``as_bounds``: a trailing +Inf is dropped), as a
    ValueError naming the field."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"duration_buckets_ns must be a sequence of numbers, not {value!r}")
    try:
        return as_bounds(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"duration_buckets_ns: {e}") from None


@dataclass(frozen=True)
class MetricsConfig:
    """What a service records and how: the level, the async recorder's
    config, and the defaults handed to rule-execution and throughput metrics.

    ``level``: a ``MetricsLevel``. ``async_metrics``: an
    ``AsyncMetricsConfig`` (used at ``BASIC``/``STANDARD``).
    ``duration_buckets_ns``: histogram bounds in nanoseconds (the
    ``AtomicHistogram`` rules; stored as a tuple of finite floats, a
    trailing +Inf dropped). ``sla_ns``: the
    latency above which a throughput sample violates its SLA (int >= 0), or
    None for no SLA. ``window_s``: the throughput window in seconds (> 0).

    Immutable; every field validated on construction (``ValueError`` naming
    the field).
    """

    level: MetricsLevel = MetricsLevel.STANDARD
    async_metrics: AsyncMetricsConfig = field(default_factory=AsyncMetricsConfig)
    duration_buckets_ns: tuple[float, ...] = DEFAULT_DURATION_BUCKETS_NS
    sla_ns: int | None = None
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.level, MetricsLevel):
            raise ValueError(f"level must be a MetricsLevel, not {self.level!r}")
        if not isinstance(self.async_metrics, AsyncMetricsConfig):
            raise ValueError(
                f"async_metrics must be an AsyncMetricsConfig, not {self.async_metrics!r}"
            )
        object.__setattr__(self, "duration_buckets_ns", _check_buckets(self.duration_buckets_ns))
        sla = self.sla_ns
        if sla is not None and (
            isinstance(sla, bool) or not isinstance(sla, int) or not 0 <= sla < 2**63
        ):
            raise ValueError(f"sla_ns must be None or an int in [0, 2**63), not {sla!r}")
        _positive_seconds(self.window_s, "window_s")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MetricsConfig:
        """The production preset with ``ATOMICMETRICS_*`` variables applied.

        Reads ``ATOMICMETRICS_LEVEL`` (a level name, any case),
        ``_BUFFER_SIZE``, ``_WORKER_COUNT``, ``_BATCH_SIZE`` (ints),
        ``_FLUSH_TIMEOUT_S``, ``_WINDOW_S`` (seconds), ``_DROP_ON_OVERFLOW``
        (``true/false/1/0/yes/no``, any case), ``_SLA_NS`` (an int, or
        ``none``). Unset or empty variables keep the preset's value;
        surrounding whitespace is ignored. ``environ`` defaults to
        ``os.environ`` (a test seam). Raises ``ValueError`` naming the
        variable for a value that does not parse or is invalid.
        """
        env = os.environ if environ is None else environ
        base = production_metrics_config()
        am = base.async_metrics
        config_values: dict[str, Any] = {}
        async_values: dict[str, Any] = {}
        for suffix, parse, target, attr in _ENV_FIELDS:
            var = _ENV_PREFIX + suffix
            raw = env.get(var, "").strip()
            if not raw:
                continue
            try:
                one: dict[str, Any] = {attr: parse(raw)}
                if target == "async":
                    replace(am, **one)  # validates this field alone
                    async_values.update(one)
                else:
                    replace(base, **one)
                    config_values.update(one)
            except ValueError as e:
                raise ValueError(f"{var}={raw!r}: {e}") from None
        return replace(base, async_metrics=replace(am, **async_values), **config_values)


def _parse_level(raw: str) -> MetricsLevel:
    try:
        return MetricsLevel[raw.upper()]
    except KeyError:
        names = ", ".join(level.name for level in MetricsLevel)
        raise ValueError(f"not a level name (one of {names}, any case)") from None


def _parse_int(raw: str) -> int:
    try:
        return int(raw, 10)
    except ValueError:
        raise ValueError("not an integer") from None


def _parse_seconds(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("not a number of seconds") from None


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_bool(raw: str) -> bool:
    try:
        return _BOOLS[raw.lower()]
    except KeyError:
        raise ValueError("not a boolean (true/false/1/0/yes/no)") from None


def _parse_sla(raw: str) -> int | None:
    return None if raw.lower() == "none" else _parse_int(raw)


# (variable suffix, parser, "async" or "config", field name)
_ENV_FIELDS: tuple[tuple[str, Callable[[str], object], str, str], ...] = (
    ("LEVEL", _parse_level, "config", "level"),
    ("BUFFER_SIZE", _parse_int, "async", "buffer_size"),
    ("WORKER_COUNT", _parse_int, "async", "worker_count"),
    ("BATCH_SIZE", _parse_int, "async", "batch_size"),
    ("FLUSH_TIMEOUT_S", _parse_seconds, "async", "flush_timeout_s"),
    ("DROP_ON_OVERFLOW", _parse_bool, "async", "drop_on_overflow"),
    ("SLA_NS", _parse_sla, "config", "sla_ns"),
    ("WINDOW_S", _parse_seconds, "config", "window_s"),
)


def production_metrics_config() -> MetricsConfig:
    """The production preset: level ``STANDARD``, an async recorder with a
    50,000-call buffer, ``min(8, os.cpu_count())`` workers (1 when the count
    is unknown), dropping on overflow so that recording never blocks."""
    return MetricsConfig(
        level=MetricsLevel.STANDARD,
        async_metrics=AsyncMetricsConfig(
            buffer_size=50_000,
            worker_count=min(8, os.cpu_count() or 1),
            drop_on_overflow=True,
        ),
    )


def development_metrics_config() -> MetricsConfig:
    """The development preset: level ``DEBUG`` (calls applied in the caller
    by ``make_recorder``) and a 1,000-call buffer for when the level is raised
    to an async one; other fields at their defaults."""
    return MetricsConfig(
        level=MetricsLevel.DEBUG,
        async_metrics=AsyncMetricsConfig(buffer_size=1_000),
    )
