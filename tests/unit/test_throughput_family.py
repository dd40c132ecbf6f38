"""The throughput family (throughput_family.py): five exposed families from one snapshot."""

from __future__ import annotations

from typing import Any

from atomicmetrics import Registry
from atomicmetrics.samples import Sample
from tests.helpers import exposed


def test_throughput_exposure_matches_the_metric(reg: Registry) -> None:
    fam = reg.throughput("ev", "events", ["src"], window_s=10, resolution_s=1, sla_ns=100)
    m = fam.labels("kafka")
    m.record(5, latency_ns=50)
    m.record(7, latency_ns=500)
    m.record()
    fams = exposed(reg)
    k = (("src", "kafka"),)
    expected: dict[str, tuple[str, Any]] = {
        "ev_events": ("counter", Sample("ev_events_total", k, m.events_processed())),
        "ev_samples": ("counter", Sample("ev_samples_total", k, m.sample_count())),
        "ev_sla_violations": ("counter", Sample("ev_sla_violations_total", k, m.sla_violations())),
        "ev_peak_events_per_second": (
            "gauge",
            Sample("ev_peak_events_per_second", k, m.peak_throughput()),
        ),
    }
    assert set(fams) == {*expected, "ev_events_per_second"}
    for name, (kind, sample) in expected.items():
        assert fams[name].type == kind
        assert fams[name].samples == (sample,)
    assert (m.events_processed(), m.sample_count(), m.sla_violations()) == (13, 3, 1)
    (rate,) = fams["ev_events_per_second"].samples
    assert fams["ev_events_per_second"].type == "gauge"
    assert rate.name == "ev_events_per_second"
    assert rate.labels == k
    assert 0 < rate.value <= 13  # the window rate moves with the clock


def test_an_unlabelled_family_proxies_the_metric(reg: Registry) -> None:
    t = reg.throughput("t", "", sla_ns=5)
    t.record(4, latency_ns=9)
    assert (t.events_processed(), t.sample_count(), t.sla_violations()) == (4, 1, 1)
    assert t.sla_violation_rate() == 1.0
    assert t.throughput() > 0
    assert t.peak_throughput() > 0
    assert t.snapshot().events_processed == 4
    t.reset()
    assert t.events_processed() == 0
