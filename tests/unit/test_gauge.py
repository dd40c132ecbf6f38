"""The registry's Gauge (gauge.py): set, inc/dec by CAS, its family's samples."""

from __future__ import annotations

import math
import time

import pytest

from atomicmetrics import Gauge, Registry
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import THREADS, exposed, run_threads


def test_gauge_operations(reg: Registry) -> None:
    g = reg.gauge("g", "").labels()
    assert isinstance(g, Gauge)
    assert g.value() == 0.0
    g.set(5)
    g.inc()
    g.inc(2.5)
    g.dec()
    g.dec(0.5)
    assert g.value() == 7.0
    g.inc(-7)
    g.dec(-1)
    assert g.value() == 1.0
    g.set(math.nan)
    assert math.isnan(g.value())
    g.set(-math.inf)
    assert g.value() == -math.inf
    before = time.time()
    g.set_to_current_time()
    assert before <= g.value() <= time.time()


@pytest.mark.parametrize("bad", ["1", None, [1]])
def test_gauge_bad_values_raise_type_error_and_change_nothing(reg: Registry, bad: object) -> None:
    g = reg.gauge("g", "").labels()
    g.set(3)
    for call in (g.set, g.inc, g.dec):
        with pytest.raises(TypeError):
            call(bad)  # type: ignore[operator]
    assert g.value() == 3


@pytest.mark.usefixtures("switch_fast")
def test_gauge_inc_dec_exact_on_threads(reg: Registry) -> None:
    g = reg.gauge("g", "")
    n = 4_000

    def work(i: int) -> None:
        for _ in range(n):
            g.inc(2)
            g.dec()

    run_threads(THREADS, work)
    assert g.value() == THREADS * n


def test_gauge_exposure(reg: Registry) -> None:
    reg.gauge("temp", "temperature").set(21.5)
    assert exposed(reg)["temp"] == MetricFamily(
        "temp", "gauge", "temperature", (Sample("temp", (), 21.5),)
    )


def test_gauge_stands_alone_without_a_registry() -> None:
    g = Gauge()
    g.set(4)
    g.dec()
    assert g.value() == 3.0
