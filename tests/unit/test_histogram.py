"""The registry's Histogram (histogram.py): observe, time(), its family's samples."""

from __future__ import annotations

import math
import time

import pytest

from atomicmetrics import Histogram, Registry
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import exposed, run_threads


def test_histogram_observe_and_snapshot(reg: Registry) -> None:
    h = reg.histogram("h", "", buckets=[0.1, 1.0]).labels()
    assert isinstance(h, Histogram)
    for x in (0.05, 0.1, 0.5, 1.0, 7, math.inf):
        h.observe(x)
    s = h.snapshot()
    assert s.buckets == [2, 2, 2]
    assert s.count == 6
    assert s.sum == math.inf
    with pytest.raises(ValueError, match=r"(?i)nan"):
        h.observe(math.nan)
    with pytest.raises(TypeError):
        h.observe("1")  # type: ignore[arg-type]
    assert h.snapshot().count == 6


def test_histogram_default_buckets_are_seconds(reg: Registry) -> None:
    h = reg.histogram("h", "")
    assert h.bounds[0] == 0.005
    assert h.bounds[-1] == 10.0


def test_histogram_time_as_context_manager_and_decorator(reg: Registry) -> None:
    fam = reg.histogram("h", "", buckets=[0.001, 10])
    with fam.time():
        pass
    with pytest.raises(KeyError), fam.time():
        raise KeyError("observed anyway")

    @fam.time()
    def slow(x: int) -> int:
        time.sleep(0.002)
        return x * 2

    assert slow.__name__ == "slow"
    assert run_threads(4, slow) == [0, 2, 4, 6]  # one timer, concurrent calls
    s = fam.snapshot()
    assert s.count == 6
    assert s.buckets[1] >= 4  # the sleeping calls took more than 1 ms
    assert 0.008 <= s.sum < 10


def test_histogram_exposure(reg: Registry) -> None:
    h = reg.histogram("lat", "latency", ["path"], buckets=[0.5, 1])
    h.labels("/").observe(0.2)
    h.labels("/").observe(0.7)
    p = (("path", "/"),)
    assert exposed(reg)["lat"] == MetricFamily(
        "lat",
        "histogram",
        "latency",
        (
            Sample("lat_bucket", (*p, ("le", "0.5")), 1),
            Sample("lat_bucket", (*p, ("le", "1.0")), 2),
            Sample("lat_bucket", (*p, ("le", "+Inf")), 2),
            Sample("lat_count", p, 2),
            Sample("lat_sum", p, 0.2 + 0.7),
        ),
    )


def test_histogram_stands_alone_without_a_registry() -> None:
    h = Histogram([1, 2])
    h.observe(1.5)
    assert h.snapshot().buckets == [0, 1, 0]
    assert Histogram().snapshot().bounds[0] == 0.005
    with pytest.raises(ValueError):  # noqa: PT011 -- AtomicHistogram's message
        Histogram([2, 1])
