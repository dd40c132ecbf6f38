"""``atomicmetrics demo`` in-process: the simulation, its summary, its metrics, the dashboard."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from atomicmetrics import Registry, generate_text
from atomicmetrics.cli import main
from atomicmetrics.demo import BUCKETS_NS, Engine, make_rules, quantile_from_buckets
from tests.helpers import assert_usage_error

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


def test_quantile_from_buckets_interpolates_like_histogram_quantile() -> None:
    bounds = (1.0, 2.0, 4.0)
    assert quantile_from_buckets(bounds, [0, 0, 0, 0], 0.99) is None
    assert quantile_from_buckets(bounds, [10, 0, 0, 0], 0.5) == pytest.approx(0.5)
    assert quantile_from_buckets(bounds, [0, 10, 0, 0], 0.5) == pytest.approx(1.5)
    # 90 of 100 below 2.0; the 99th rank falls 9/10 into (2, 4].
    assert quantile_from_buckets(bounds, [50, 40, 10, 0], 0.99) == pytest.approx(3.8)
    # A rank in the +Inf bucket is reported as the highest finite bound.
    assert quantile_from_buckets(bounds, [1, 0, 0, 99], 0.99) == 4.0


def test_rules_are_reproducible_and_varied() -> None:
    rules = make_rules(20, seed=3)
    assert rules == make_rules(20, seed=3)
    assert [r.name for r in rules] == [f"rule-{i}" for i in range(20)]
    assert max(r.error_rate for r in rules) > 0.05 > min(r.error_rate for r in rules)
    assert max(r.sigma for r in rules) > 1.0


def _args(**kw: object) -> argparse.Namespace:
    base = {"rules": 8, "workers": 2, "level": "debug", "rate": 0, "sla_ms": 5.0, "seed": 1}
    base.update(kw)
    return argparse.Namespace(**base)


def _exposed(registry: Registry) -> set[str]:
    text = generate_text(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_engine_records_every_event_and_rule_execution() -> None:
    registry = Registry()
    engine = Engine(_args(), registry)
    engine.start()
    while engine.events.sample_count() < 2000:
        engine.stop.wait(0.01)
    engine.join()
    engine.recorder.close()
    samples = engine.events.sample_count()
    runs = sum(c.execution_count() for c in engine.children.values())
    assert 2 * samples <= runs <= 6 * samples  # each event runs 2..6 rules
    assert engine.events.events_processed() == samples
    assert 0 < engine.events.sla_violations() < samples
    assert sum(c.error_count() for c in engine.children.values()) > 0


def test_level_off_records_nothing() -> None:
    registry = Registry()
    engine = Engine(_args(level="off"), registry)
    engine.start()
    engine.stop.wait(0.2)
    engine.join()
    engine.recorder.close()
    assert engine.events.sample_count() == 0
    assert all(c.execution_count() == 0 for c in engine.children.values())


def test_dashboard_uses_only_metrics_the_demo_exposes() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    registry = Registry()
    engine = Engine(_args(), registry)
    for child in engine.children.values():
        child.record(BUCKETS_NS[3], False)
    engine.events.record(1, 10**9)
    engine.recorder.close()
    exposed = _exposed(registry)
    panels = dashboard["panels"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(?:demo|atomicmetrics)_[A-Za-z0-9_:]+", e)}
    assert used, "the dashboard queries no demo metric"
    assert used <= exposed, f"not exposed by the demo: {sorted(used - exposed)}"
    for needed in (
        "demo_rule_duration_seconds_bucket",
        "demo_rule_errors_total",
        "demo_rule_executions_total",
        "demo_events_events_per_second",
        "demo_events_sla_violations_total",
        "atomicmetrics_recorder_dropped_total",
    ):
        assert needed in used
    assert any(
        p["type"] == "heatmap" and "demo_rule_duration_seconds_bucket" in t["expr"]
        for p in panels
        for t in p["targets"]
    )
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) for p in panels)


def test_demo_runs_serves_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["demo", "--duration", "1.5", "--port", "0", "--rules", "6", "--workers", "2"])
    assert rc == 0
    out = capsys.readouterr().out
    assert re.search(r"serving http://127\.0\.0\.1:\d+/metrics", out)
    assert "-- summary after" in out
    assert "-- final summary" in out
    assert "rule-" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--workers", "0"], "at least 1"),
        (["demo", "--rules", "many"], "whole number"),
        (["demo", "--level", "loud"], "invalid choice"),
        (["demo", "--port", "70000"], "0..65535"),
        (["demo", "--duration", "-1"], "positive number of seconds"),
    ],
)
def test_bad_demo_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_usage_error(argv, message, capsys)
