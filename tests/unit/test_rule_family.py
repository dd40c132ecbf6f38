"""The rule-execution family (rule_family.py): five exposed families from one snapshot."""

from __future__ import annotations

import threading

import pytest

from atomicmetrics import Registry
from atomicmetrics.samples import Sample
from tests.helpers import THREADS, exposed, run_threads


def test_rule_execution_exposure_matches_the_metric(reg: Registry) -> None:
    fam = reg.rule_execution("rule", "rule runs", ["rule"], buckets=[1_000, 5_000_000])
    m = fam.labels("r1")
    for d, err in ((500, False), (2_000, True), (10_000_000, False)):
        m.record(d, err)
    fam.labels("idle")  # no data: no min/max sample
    fams = exposed(reg)
    assert set(fams) == {
        "rule_executions",
        "rule_errors",
        "rule_duration_seconds",
        "rule_duration_min_seconds",
        "rule_duration_max_seconds",
    }
    r1 = (("rule", "r1"),)
    idle = (("rule", "idle"),)
    assert fams["rule_executions"].type == "counter"
    assert fams["rule_executions"].samples == (
        Sample("rule_executions_total", r1, m.execution_count()),
        Sample("rule_executions_total", idle, 0),
    )
    assert fams["rule_errors"].type == "counter"
    assert fams["rule_errors"].samples[0] == Sample("rule_errors_total", r1, m.error_count())
    dur = fams["rule_duration_seconds"]
    assert dur.type == "histogram"
    buckets = [s for s in dur.samples if s.labels[:1] == r1 and s.name.endswith("_bucket")]
    assert [s.labels[-1] for s in buckets] == [("le", "1e-06"), ("le", "0.005"), ("le", "+Inf")]
    cumulative = [sum(m.bucket_counts()[: i + 1]) for i in range(3)]
    assert [s.value for s in buckets] == cumulative == [1, 2, 3]
    by_name = {s.name: s.value for s in dur.samples if s.labels == r1}
    assert by_name["rule_duration_seconds_count"] == m.execution_count()
    assert by_name["rule_duration_seconds_sum"] == m.total_duration_ns() / 1e9
    assert fams["rule_duration_min_seconds"].type == "gauge"
    assert fams["rule_duration_min_seconds"].samples == (
        Sample("rule_duration_min_seconds", r1, m.min_duration_ns() / 1e9),  # type: ignore[operator]
    )
    assert fams["rule_duration_max_seconds"].samples == (
        Sample("rule_duration_max_seconds", r1, m.max_duration_ns() / 1e9),  # type: ignore[operator]
    )


def test_rule_min_max_families_are_absent_while_empty(reg: Registry) -> None:
    fam = reg.rule_execution("rule", "", ["rule"])
    fam.labels("a")
    assert "rule_duration_min_seconds" not in exposed(reg)
    assert "rule_duration_max_seconds" not in exposed(reg)
    unlabelled = reg.rule_execution("solo", "")
    assert "solo_duration_min_seconds" not in exposed(reg)
    unlabelled.record(7)
    assert exposed(reg)["solo_duration_min_seconds"].samples == (
        Sample("solo_duration_min_seconds", (), 7e-9),
    )


@pytest.mark.usefixtures("switch_fast")
def test_composite_exposure_is_consistent_while_recording(reg: Registry) -> None:
    """One snapshot per child: _count == _executions_total in every scrape."""
    fam = reg.rule_execution("rule", "", ["rule"])
    stop = threading.Event()
    problems: list[str] = []

    def scraper() -> None:
        while not stop.is_set():
            fams = exposed(reg)
            total = {s.labels: s.value for s in fams["rule_executions"].samples}
            dur = fams["rule_duration_seconds"].samples
            for s in dur:
                if s.name.endswith("_count") and s.value != total[s.labels]:
                    problems.append(f"{s.value} != {total[s.labels]}")

    t = threading.Thread(target=scraper)
    t.start()
    try:
        run_threads(THREADS, lambda i: [fam.labels(str(i % 2)).record(j) for j in range(2_000)])
    finally:
        stop.set()
        t.join()
    assert not problems
    assert sum(s.value for s in exposed(reg)["rule_executions"].samples) == THREADS * 2_000


def test_an_unlabelled_family_proxies_the_metric(reg: Registry) -> None:
    r = reg.rule_execution("r", "")
    r.record(10)
    r.record(30, True)
    assert (r.execution_count(), r.error_count(), r.total_duration_ns()) == (2, 1, 40)
    assert (r.min_duration_ns(), r.max_duration_ns()) == (10, 30)
    assert r.average_duration_ns() == 20.0
    assert r.error_rate() == 0.5
    assert sum(r.bucket_counts()) == 2
    assert r.snapshot().execution_count == 2
    r.reset()
    assert r.execution_count() == 0
