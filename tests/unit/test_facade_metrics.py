"""atomicmetrics.prometheus_client's metric classes: prometheus_client's API on C cells.

prometheus_client's own suite (scripts/prometheus_client_suite.py) checks the
API; these tests check what the facade adds: the C fast paths and their
fallbacks, nothing half-applied, exact totals under threads.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest

from atomicmetrics import _core
from atomicmetrics.prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
)
from tests.helpers import INT64_MAX, THREADS, run_threads

PER_THREAD = 20_000


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


# ---- the fast paths are C callables --------------------------------------------


def test_recording_methods_are_c_callables(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)
    g = Gauge("g", "h", registry=registry)
    h = Histogram("h", "h", registry=registry)
    fam = Counter("l", "h", ["x"], registry=registry)
    assert type(c.inc) is _core._DefaultCall
    assert type(g.inc) is _core._DefaultCall
    assert type(g.dec) is _core._DefaultCall
    assert type(g.set) is _core._DefaultCall
    assert type(h.observe) is _core._DefaultCall
    assert type(fam.labels) is _core._FastLookup
    assert type(fam.labels("a").inc) is _core._DefaultCall


def test_subclass_overrides_keep_their_methods(registry: CollectorRegistry) -> None:
    calls = []

    class Audited(Counter):
        def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
            calls.append(amount)
            super().inc(amount, exemplar)

    c = Audited("audited", "h", registry=registry)
    c.inc()
    c.inc(2)
    assert calls == [1, 2]
    assert registry.get_sample_value("audited_total") == 3.0


def test_parent_refuses_to_record(registry: CollectorRegistry) -> None:
    fam = Counter("p", "h", ["x"], registry=registry)
    with pytest.raises(ValueError, match="missing label values"):
        fam.inc()
    h = Histogram("ph", "h", ["x"], registry=registry)
    with pytest.raises(ValueError, match="missing label values"):
        h.observe(1.0)


# ---- Counter ---------------------------------------------------------------------


def test_counter_amounts(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)
    c.inc()
    c.inc(2)
    c.inc(0.5)
    c.inc(amount=3.0)
    c.inc(Fraction(1, 4))
    c.inc(True)
    assert registry.get_sample_value("c_total") == 7.75
    c.inc(2**70)  # past int64: the float part takes it, as prometheus_client's float does
    assert registry.get_sample_value("c_total") == 7.75 + 2.0**70


def test_counter_errors_change_nothing(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)
    c.inc(5)
    with pytest.raises(ValueError, match="non-negative"):
        c.inc(-1)
    with pytest.raises(TypeError):
        c.inc("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label metric name"):
        c.inc(1, exemplar={"bad name": "x"})  # refused before anything is added
    with pytest.raises(ValueError, match="exceeding the limit of 128"):
        c.inc(1, exemplar={"a": "x" * 128})
    assert registry.get_sample_value("c_total") == 5.0


def test_counter_int64_boundary(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)
    c.inc(INT64_MAX)
    with pytest.raises(OverflowError):
        c.inc()  # the C path: no fallback, nothing added
    c.inc(1)  # would overflow the int part: goes to the float part instead
    assert registry.get_sample_value("c_total") == float(INT64_MAX) + 1.0


def test_counter_exemplar_is_latest(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)
    c.inc(exemplar={"trace_id": "a"})
    c.inc(2, exemplar={"trace_id": "b"})
    c.inc()  # without one: the latest stays
    (metric,) = c.collect()
    total = metric.samples[0]
    assert total.value == 4.0
    assert total.exemplar is not None
    assert total.exemplar.labels == {"trace_id": "b"}
    assert total.exemplar.value == 2


def test_counter_reset(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)
    c.inc(3.5)
    c.reset()
    assert registry.get_sample_value("c_total") == 0.0
    c.inc()
    assert registry.get_sample_value("c_total") == 1.0


def test_counter_concurrent_exact(registry: CollectorRegistry) -> None:
    c = Counter("c", "h", registry=registry)

    def work(_: int) -> None:
        inc = c.inc
        for _ in range(PER_THREAD):
            inc()

    run_threads(THREADS, work)
    assert registry.get_sample_value("c_total") == THREADS * PER_THREAD


def test_labels_concurrent_creation_one_child(registry: CollectorRegistry) -> None:
    fam = Counter("l", "h", ["rule", "kind"], registry=registry)
    seen = []

    def work(_: int) -> None:
        for i in range(2_000):
            child = fam.labels(f"r{i % 50}", "k")
            child.inc()
            if i == 0:
                seen.append(child)

    run_threads(THREADS, work)
    assert len({id(c) for c in seen}) == 1
    assert len(fam._metrics) == 50
    total = sum(
        registry.get_sample_value("l_total", {"rule": f"r{i}", "kind": "k"}) or 0 for i in range(50)
    )
    assert total == THREADS * 2_000


def test_labels_fast_and_slow_paths_agree(registry: CollectorRegistry) -> None:
    one = Counter("one", "h", ["x"], registry=registry)
    assert one.labels("7") is one.labels(7) is one.labels(x="7") is one.labels(x=7)
    two = Gauge("two", "h", ["a", "b"], registry=registry)
    assert two.labels("1", "2") is two.labels(1, 2) is two.labels(b="2", a="1")
    one.remove("7")
    assert registry.get_sample_value("one_total", {"x": "7"}) is None
    assert one.labels("7") is not None
    one.clear()
    assert one._metrics == {}
    assert one._lookup == {}


# ---- Gauge -----------------------------------------------------------------------


def test_gauge_fast_paths_and_fallbacks(registry: CollectorRegistry) -> None:
    g = Gauge("g", "h", registry=registry)
    g.inc()
    g.inc(2)
    g.dec()
    g.dec(0.5)
    assert registry.get_sample_value("g") == 1.5
    g.set(7)
    assert registry.get_sample_value("g") == 7.0
    g.set("2.5")  # type: ignore[arg-type]  # prometheus_client takes float(value)
    assert registry.get_sample_value("g") == 2.5
    g.set(Fraction(1, 2))
    assert registry.get_sample_value("g") == 0.5
    with pytest.raises(ValueError, match="could not convert"):
        g.set("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g.set()  # type: ignore[call-arg]
    assert registry.get_sample_value("g") == 0.5


def test_gauge_mostrecent_refuses_inc(registry: CollectorRegistry) -> None:
    g = Gauge("g", "h", registry=registry, multiprocess_mode="mostrecent")
    with pytest.raises(RuntimeError):
        g.inc()
    with pytest.raises(RuntimeError):
        g.dec()
    g.set(3)
    assert registry.get_sample_value("g") == 3.0
    with pytest.raises(ValueError, match="multiprocess mode"):
        Gauge("bad", "h", registry=registry, multiprocess_mode="avg")  # type: ignore[arg-type]


def test_gauge_concurrent_exact(registry: CollectorRegistry) -> None:
    g = Gauge("g", "h", registry=registry)

    def work(_: int) -> None:
        inc, dec = g.inc, g.dec
        for _ in range(PER_THREAD):
            inc()
            inc(2)
            dec()

    run_threads(THREADS, work)
    assert registry.get_sample_value("g") == 2.0 * THREADS * PER_THREAD


# ---- Histogram / Summary --------------------------------------------------------


def test_histogram_fallbacks(registry: CollectorRegistry) -> None:
    h = Histogram("h", "h", buckets=[1, 2], registry=registry)
    h.observe(1)
    h.observe(Fraction(3, 2))  # refused by the C cell, converted by the fallback
    h.observe(amount=5.0)
    assert registry.get_sample_value("h_bucket", {"le": "1.0"}) == 1.0
    assert registry.get_sample_value("h_bucket", {"le": "2.0"}) == 2.0
    assert registry.get_sample_value("h_count") == 3.0
    assert registry.get_sample_value("h_sum") == 7.5
    with pytest.raises(ValueError, match="NaN"):
        h.observe(float("nan"))
    with pytest.raises(TypeError):
        h.observe("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        h.observe()  # type: ignore[call-arg]
    assert registry.get_sample_value("h_count") == 3.0


def test_histogram_exemplar_lands_in_its_bucket(registry: CollectorRegistry) -> None:
    h = Histogram("h", "h", buckets=[1, 2], registry=registry)
    h.observe(1.5, {"trace_id": "x"})
    h.observe(1.0, {"trace_id": "y"})
    (metric,) = h.collect()
    exemplars = {s.labels["le"]: s.exemplar for s in metric.samples if s.name == "h_bucket"}
    assert exemplars["1.0"] is not None
    assert exemplars["1.0"].labels == {"trace_id": "y"}
    assert exemplars["2.0"] is not None
    assert exemplars["2.0"].labels == {"trace_id": "x"}
    assert exemplars["+Inf"] is None


@pytest.mark.parametrize("buckets", [[1, 1, 2], [float("nan"), 1], [float("-inf"), 1]])
def test_histogram_buckets_must_be_distinct_and_finite(buckets: list[float]) -> None:
    with pytest.raises(ValueError, match=r"[Bb]ucket"):
        Histogram("h", "h", buckets=buckets, registry=None)


def test_histogram_concurrent_consistent(registry: CollectorRegistry) -> None:
    h = Histogram("h", "h", buckets=[0.5, 1.5], registry=registry)
    stop = threading.Event()
    bad = []

    def read() -> None:
        while not stop.is_set():
            (metric,) = h.collect()
            by_name = {(s.name, s.labels.get("le")): s.value for s in metric.samples}
            if by_name[("h_bucket", "+Inf")] != by_name[("h_count", None)]:
                bad.append(by_name)

    reader = threading.Thread(target=read)
    reader.start()

    def work(_: int) -> None:
        observe = h.observe
        for i in range(PER_THREAD // 4):
            observe(i % 3)

    try:
        run_threads(4, work)
    finally:
        stop.set()
        reader.join()
    assert not bad
    assert registry.get_sample_value("h_count") == PER_THREAD
    assert (
        registry.get_sample_value("h_bucket", {"le": "0.5"})
        == sum(1 for i in range(PER_THREAD // 4) if i % 3 == 0) * 4
    )


def test_summary(registry: CollectorRegistry) -> None:
    s = Summary("s", "h", registry=registry)
    s.observe(2)
    s.observe(Fraction(1, 2))
    with pytest.raises(TypeError):
        s.observe("x")  # type: ignore[arg-type]
    assert registry.get_sample_value("s_count") == 2.0
    assert registry.get_sample_value("s_sum") == 2.5
