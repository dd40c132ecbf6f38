"""Configuration: the configs, their presets and environment variables."""

from __future__ import annotations

import dataclasses
import math
import os

import pytest

from atomicmetrics import (
    DEFAULT_DURATION_BUCKETS_NS,
    AsyncMetricsConfig,
    MetricsConfig,
    MetricsLevel,
    development_metrics_config,
    production_metrics_config,
)


def test_async_defaults() -> None:
    c = AsyncMetricsConfig()
    assert (c.buffer_size, c.worker_count, c.batch_size) == (10_000, 2, 256)
    assert c.flush_timeout_s == 5.0
    assert c.drop_on_overflow is True


def test_configs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AsyncMetricsConfig().buffer_size = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        MetricsConfig().level = MetricsLevel.OFF  # type: ignore[misc]


@pytest.mark.parametrize("name", ["buffer_size", "worker_count", "batch_size"])
@pytest.mark.parametrize("bad", [0, -1, True, False, 1.0, "8", None, 2**70 * -1])
def test_async_int_fields_reject_bad_values_naming_the_field(name: str, bad: object) -> None:
    with pytest.raises(ValueError, match=name):
        AsyncMetricsConfig(**{name: bad})  # type: ignore[arg-type]


def test_buffer_size_upper_bound() -> None:
    assert AsyncMetricsConfig(buffer_size=2**32).buffer_size == 2**32
    with pytest.raises(ValueError, match="buffer_size"):
        AsyncMetricsConfig(buffer_size=2**32 + 1)


@pytest.mark.parametrize("bad", [0, -0.5, math.nan, math.inf, True, "5", None])
def test_flush_timeout_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ValueError, match="flush_timeout_s"):
        AsyncMetricsConfig(flush_timeout_s=bad)  # type: ignore[arg-type]


def test_flush_timeout_accepts_int_and_small_float() -> None:
    assert AsyncMetricsConfig(flush_timeout_s=2).flush_timeout_s == 2
    assert AsyncMetricsConfig(flush_timeout_s=0.001).flush_timeout_s == 0.001


@pytest.mark.parametrize("bad", [1, 0, "yes", None])
def test_drop_on_overflow_must_be_bool(bad: object) -> None:
    with pytest.raises(ValueError, match="drop_on_overflow"):
        AsyncMetricsConfig(drop_on_overflow=bad)  # type: ignore[arg-type]


def test_levels_are_ordered_and_named() -> None:
    assert [lv.name for lv in MetricsLevel] == ["OFF", "BASIC", "STANDARD", "DEBUG"]
    assert MetricsLevel.OFF < MetricsLevel.BASIC < MetricsLevel.STANDARD < MetricsLevel.DEBUG


def test_metrics_config_defaults() -> None:
    c = MetricsConfig()
    assert c.level is MetricsLevel.STANDARD
    assert c.async_metrics == AsyncMetricsConfig()
    assert c.duration_buckets_ns == DEFAULT_DURATION_BUCKETS_NS
    assert c.sla_ns is None
    assert c.window_s == 60.0


def test_metrics_config_positional_order() -> None:
    am = AsyncMetricsConfig(buffer_size=7)
    c = MetricsConfig(MetricsLevel.BASIC, am, (1, 2, math.inf), 500, 30)
    assert c.level is MetricsLevel.BASIC
    assert c.async_metrics is am
    assert c.duration_buckets_ns == (1.0, 2.0)  # a trailing +Inf is dropped, as everywhere
    assert (c.sla_ns, c.window_s) == (500, 30)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("level", "STANDARD"),
        ("level", 2),
        ("async_metrics", None),
        ("async_metrics", {"buffer_size": 3}),
        ("duration_buckets_ns", ()),
        ("duration_buckets_ns", (math.inf,)),
        ("duration_buckets_ns", (2, 1)),
        ("duration_buckets_ns", (1, 1)),
        ("duration_buckets_ns", (1, math.nan)),
        ("duration_buckets_ns", (-math.inf, 1)),
        ("duration_buckets_ns", (1, math.inf, 5)),
        ("duration_buckets_ns", "123"),
        ("duration_buckets_ns", (1, "2")),
        ("duration_buckets_ns", None),
        ("sla_ns", -1),
        ("sla_ns", 1.5),
        ("sla_ns", True),
        ("sla_ns", 2**63),
        ("window_s", 0),
        ("window_s", math.nan),
        ("window_s", -1.0),
        ("window_s", math.inf),
        ("window_s", False),
    ],
)
def test_metrics_config_rejects_bad_values_naming_the_field(name: str, bad: object) -> None:
    with pytest.raises(ValueError, match=name):
        MetricsConfig(**{name: bad})  # type: ignore[arg-type]


def test_production_preset() -> None:
    c = production_metrics_config()
    assert c.level is MetricsLevel.STANDARD
    assert c.async_metrics.buffer_size == 50_000
    assert c.async_metrics.worker_count == min(8, os.cpu_count() or 1)
    assert c.async_metrics.drop_on_overflow is True


def test_production_preset_without_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert production_metrics_config().async_metrics.worker_count == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert production_metrics_config().async_metrics.worker_count == 8


def test_development_preset() -> None:
    c = development_metrics_config()
    assert c.level is MetricsLevel.DEBUG
    assert c.async_metrics.buffer_size == 1_000


def test_from_env_empty_is_the_production_preset() -> None:
    assert MetricsConfig.from_env({}) == production_metrics_config()


def test_from_env_reads_every_variable() -> None:
    env = {
        "ATOMICMETRICS_LEVEL": "debug",
        "ATOMICMETRICS_BUFFER_SIZE": "123",
        "ATOMICMETRICS_WORKER_COUNT": "3",
        "ATOMICMETRICS_BATCH_SIZE": "17",
        "ATOMICMETRICS_FLUSH_TIMEOUT_S": "0.25",
        "ATOMICMETRICS_DROP_ON_OVERFLOW": "no",
        "ATOMICMETRICS_SLA_NS": "5000000",
        "ATOMICMETRICS_WINDOW_S": "30",
    }
    c = MetricsConfig.from_env(env)
    assert c.level is MetricsLevel.DEBUG
    assert c.async_metrics == AsyncMetricsConfig(123, 3, 17, 0.25, False)
    assert c.sla_ns == 5_000_000
    assert c.window_s == 30.0
    assert c.duration_buckets_ns == DEFAULT_DURATION_BUCKETS_NS


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMICMETRICS_LEVEL", "Basic")
    monkeypatch.setenv("ATOMICMETRICS_WORKER_COUNT", " 5 ")
    c = MetricsConfig.from_env()
    assert c.level is MetricsLevel.BASIC
    assert c.async_metrics.worker_count == 5
    assert c.async_metrics.buffer_size == 50_000  # the rest stays production


@pytest.mark.parametrize("name", ["off", "OFF", "Basic", "standard", "DeBuG"])
def test_from_env_level_any_case(name: str) -> None:
    c = MetricsConfig.from_env({"ATOMICMETRICS_LEVEL": name})
    assert c.level is MetricsLevel[name.upper()]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("NO", False),
    ],
)
def test_from_env_booleans(raw: str, value: bool) -> None:
    c = MetricsConfig.from_env({"ATOMICMETRICS_DROP_ON_OVERFLOW": raw})
    assert c.async_metrics.drop_on_overflow is value


def test_from_env_empty_value_keeps_the_preset() -> None:
    env = {"ATOMICMETRICS_BUFFER_SIZE": "", "ATOMICMETRICS_LEVEL": "  "}
    assert MetricsConfig.from_env(env) == production_metrics_config()


def test_from_env_sla_none() -> None:
    assert MetricsConfig.from_env({"ATOMICMETRICS_SLA_NS": "none"}).sla_ns is None


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("ATOMICMETRICS_LEVEL", "verbose"),
        ("ATOMICMETRICS_LEVEL", "2"),
        ("ATOMICMETRICS_BUFFER_SIZE", "ten"),
        ("ATOMICMETRICS_BUFFER_SIZE", "0"),
        ("ATOMICMETRICS_BUFFER_SIZE", "1.5"),
        ("ATOMICMETRICS_WORKER_COUNT", "-2"),
        ("ATOMICMETRICS_BATCH_SIZE", "0x10"),
        ("ATOMICMETRICS_FLUSH_TIMEOUT_S", "soon"),
        ("ATOMICMETRICS_FLUSH_TIMEOUT_S", "nan"),
        ("ATOMICMETRICS_FLUSH_TIMEOUT_S", "0"),
        ("ATOMICMETRICS_DROP_ON_OVERFLOW", "maybe"),
        ("ATOMICMETRICS_DROP_ON_OVERFLOW", "2"),
        ("ATOMICMETRICS_SLA_NS", "-1"),
        ("ATOMICMETRICS_SLA_NS", "1e6"),
        ("ATOMICMETRICS_WINDOW_S", "-3"),
        ("ATOMICMETRICS_WINDOW_S", "inf"),
    ],
)
def test_from_env_bad_value_names_the_variable(var: str, raw: str) -> None:
    with pytest.raises(ValueError, match=var):
        MetricsConfig.from_env({var: raw})
