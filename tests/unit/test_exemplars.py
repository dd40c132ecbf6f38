"""Exemplars on registry counters and histograms: validation, latest per counter
and per bucket, nothing recorded when a call raises, and where they show
(OpenMetrics and protobuf, parsed back; never Prometheus text 0.0.4)."""

from __future__ import annotations

import math
import time
import weakref
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from atomicmetrics import (
    AtomicHistogram,
    Counter,
    Histogram,
    Registry,
    generate_openmetrics,
    generate_protobuf,
    generate_text,
)
from atomicmetrics.exemplars import EXEMPLAR_MAX_CHARS, ExemplarSlots, make_exemplar
from atomicmetrics.samples import Exemplar, MetricFamily, Sample
from tests.helpers import THREADS, StaticCollector, read_while_writing
from tests.metrics_proto import decode_delimited


def om_exemplars(reg: Registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
    """(sample name, labels) -> exemplar, as prometheus_client's OpenMetrics parser reads them."""
    out = {}
    for family in parse_om(generate_openmetrics(reg).decode()):
        for s in family.samples:
            if s.exemplar is not None:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.exemplar
    return out


def test_make_exemplar_checks_the_labels() -> None:
    before = time.time()
    ex = make_exemplar({"trace_id": "abc", "span": "1"}, 2)
    assert ex.labels == (("trace_id", "abc"), ("span", "1"))
    assert ex.value == 2.0
    assert ex.timestamp is not None
    assert before <= ex.timestamp <= time.time()
    assert make_exemplar({}, 1).labels == ()
    at_limit = {"t": "x" * (EXEMPLAR_MAX_CHARS - 1)}
    assert make_exemplar(at_limit, 1).labels == (("t", "x" * 127),)
    # Characters, not bytes: 127 of a 3-byte character still fit.
    assert make_exemplar({"t": "\u4e2d" * 127}, 1)
    for bad, exc in (
        ({"t": "x" * EXEMPLAR_MAX_CHARS}, ValueError),  # 129 characters in all
        ({"1t": "x"}, ValueError),
        ({"__t": "x"}, ValueError),
        ({"t": "\ud800"}, ValueError),
        ({"t": 1}, TypeError),
        ({1: "x"}, TypeError),
        ([("t", "x")], TypeError),
        ("trace_id=abc", TypeError),
    ):
        with pytest.raises(exc):
            make_exemplar(bad, 1)


def test_counter_keeps_its_latest_exemplar() -> None:
    reg = Registry()
    c = reg.counter("jobs", "Jobs.", ["q"]).labels("a")
    c.inc(exemplar={"trace_id": "first"})
    c.inc(2.5, exemplar={"trace_id": "second"})
    c.inc()
    c.inc(4)
    assert c.value() == 8.5
    (ex,) = om_exemplars(reg).values()
    assert ex.labels == {"trace_id": "second"}
    assert ex.value == 2.5
    (family,) = decode_delimited(generate_protobuf(reg))
    pb = family.metric[0].counter.exemplar
    assert [(p.name, p.value) for p in pb.label] == [("trace_id", "second")]
    assert pb.value == 2.5
    assert abs(pb.timestamp.seconds + pb.timestamp.nanos / 1e9 - time.time()) < 60
    assert b"trace_id" not in generate_text(reg)


def test_a_refused_call_changes_nothing() -> None:
    reg = Registry()
    c = reg.counter("c", "C.")
    c.inc(1, exemplar={"trace_id": "kept"})
    for amount, exemplar, exc in (
        (-1, {"trace_id": "x"}, ValueError),  # a bad amount: no exemplar either
        (1, {"trace_id": "x" * 200}, ValueError),  # a bad exemplar: no increment either
        (1, "x", TypeError),
    ):
        with pytest.raises(exc):
            c.inc(amount, exemplar=exemplar)
    assert c.value() == 1
    assert [e.labels for e in om_exemplars(reg).values()] == [{"trace_id": "kept"}]
    h = reg.histogram("h", "H.", buckets=[1.0])
    for x, exemplar, exc in (
        (math.nan, {"trace_id": "x"}, ValueError),
        ("1", {"trace_id": "x"}, TypeError),
        (0.5, {"trace_id": "x" * 200}, ValueError),
        (0.5, {"t": 1}, TypeError),
    ):
        with pytest.raises(exc):
            h.observe(x, exemplar=exemplar)
    assert h.snapshot().count == 0
    assert len(om_exemplars(reg)) == 1


@pytest.mark.parametrize("native", [False, True])
def test_histogram_keeps_the_latest_exemplar_of_each_bucket(native: bool) -> None:
    reg = Registry()
    h = reg.histogram("lat_seconds", "Latency.", ["m"], buckets=[0.1, 1.0], native=native)
    child = h.labels("GET")
    child.observe(0.05, exemplar={"trace_id": "a"})
    child.observe(0.07, exemplar={"trace_id": "b"})  # same bucket: replaces a
    child.observe(0.5)
    child.observe(30.0, exemplar={"trace_id": "c"})  # the +Inf bucket
    child.observe(0.5, exemplar=None)
    got = om_exemplars(reg)
    assert {k[1][0][1]: (e.labels["trace_id"], e.value) for k, e in got.items()} == {
        "0.1": ("b", 0.07),
        "+Inf": ("c", 30.0),
    }
    (family,) = decode_delimited(generate_protobuf(reg))
    hist = family.metric[0].histogram
    assert [b.exemplar.value if b.HasField("exemplar") else None for b in hist.bucket] == [
        0.07,
        None,
    ]
    (inf,) = hist.exemplars  # the +Inf bucket's (the protobuf has no +Inf bucket)
    assert inf.value == 30.0
    assert child.snapshot().count == 5
    if native:
        n = child.native_snapshot()
        assert n is not None
        assert n.count == 5


def test_native_only_histogram_keeps_one_latest_exemplar() -> None:
    reg = Registry()
    h = reg.histogram("rt_seconds", "RT.", buckets=(), native=True)
    h.observe(0.25, exemplar={"trace_id": "x"})
    h.observe(0.5, exemplar={"trace_id": "y"})
    ((key, ex),) = om_exemplars(reg).items()
    assert key == ("rt_seconds_bucket", (("le", "+Inf"),))
    assert (ex.labels, ex.value) == ({"trace_id": "y"}, 0.5)
    (family,) = decode_delimited(generate_protobuf(reg))
    hist = family.metric[0].histogram
    assert [e.value for e in hist.exemplars] == [0.5]
    assert hist.schema == 3


def test_only_family_children_keep_exemplars() -> None:
    for metric, record in (
        (Counter(), lambda m, ex: m.inc(1, exemplar=ex)),
        (Histogram([1.0]), lambda m, ex: m.observe(1.0, exemplar=ex)),
    ):
        with pytest.raises(TypeError, match="exemplars"):
            record(metric, {"trace_id": "x"})
        record(metric, None)  # None: no exemplar, as if omitted
        reg = Registry()
        family = reg.counter("c", "C.") if isinstance(metric, Counter) else reg.histogram("h", "H.")
        with pytest.raises(ValueError, match="already"):
            family._only_child()._set_exemplar_slots(ExemplarSlots(1, [False]))
    with pytest.raises(TypeError, match="keyword"):
        AtomicHistogram([1.0]).observe(1.0, exemplar={"trace_id": "x"})  # type: ignore[call-arg]
    h = Registry().histogram("h", "H.", buckets=[1.0])
    with pytest.raises(TypeError, match="unexpected keyword"):
        h.labels().observe(1.0, trace={"trace_id": "x"})  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        h.labels().observe()  # type: ignore[call-arg]


def test_exemplars_while_observers_and_scrapers_run(switch_fast: object) -> None:
    reg = Registry()
    h = reg.histogram("busy_seconds", "Busy.", buckets=[0.5], native=True)
    c = reg.counter("busy", "Busy.")
    n = 2_000

    def write(i: int) -> None:
        for k in range(n):
            ex = {"trace_id": f"{i}-{k}"} if k % 3 == 0 else None
            h.observe(0.25 if k % 2 else 0.75, exemplar=ex)
            c.inc(exemplar=ex)

    def check() -> object:
        for ex in om_exemplars(reg).values():
            thread, _, k = ex.labels["trace_id"].partition("-")
            if not (0 <= int(thread) < THREADS and int(k) % 3 == 0):
                return ex
        return None

    assert read_while_writing(write, check) == []
    assert h.snapshot().count == c.value() == (THREADS - 1) * n


def test_openmetrics_exemplar_text() -> None:
    stamped = Exemplar((("trace_id", 'q"\\'),), 0.5, 1700000000.5)
    bare = Exemplar((), 2.0)
    collector = StaticCollector(
        [
            MetricFamily(
                "c",
                "counter",
                "",
                (
                    Sample("c_total", (("k", "a"),), 3, None, stamped),
                    Sample("c_total", (), 1, None, bare),
                ),
            )
        ]
    )
    assert generate_openmetrics(collector).decode() == (
        "# TYPE c counter\n"
        'c_total{k="a"} 3 # {trace_id="q\\"\\\\"} 0.5 1700000000.5\n'
        "c_total 1 # {} 2.0\n"
        "# EOF\n"
    )
    assert b"#" not in generate_text(collector).split(b"\n", 1)[1]


class _Slots(ExemplarSlots):
    __slots__ = ("__weakref__",)


def test_a_freed_childs_slots_go_with_it() -> None:
    records: list[tuple[Any, Any]] = [
        (Counter, lambda c: c.inc(exemplar={"trace_id": "x"})),
        (lambda: Histogram([1.0]), lambda h: h.observe(1.0, exemplar={"trace_id": "x"})),
    ]
    for make, record in records:
        for _ in range(200):
            child = make()
            slots = _Slots(2, [False])
            alive = weakref.ref(slots)
            child._set_exemplar_slots(slots)
            del slots
            assert alive() is not None  # the child keeps its slots alive...
            del child
            assert alive() is None  # ...and no longer once it is gone
            fresh = make()  # often at the freed address: it must not inherit them
            with pytest.raises(TypeError, match="exemplars"):
                record(fresh)
