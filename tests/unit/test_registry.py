"""Registry: factories, name rules, collisions, collectors, snapshot(), storage seam."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

import atomicmetrics
from atomicmetrics import REGISTRY, Registry, generate_openmetrics, generate_text
from atomicmetrics.samples import MetricFamily, Sample
from atomicmetrics.storage import CellKey, InProcessStorage, MultiprocessMode
from tests.helpers import StaticCollector


def test_public_names() -> None:
    for name in ("Registry", "REGISTRY", "Counter", "Gauge", "Histogram", "CardinalityError"):
        assert name in atomicmetrics.__all__
        assert getattr(atomicmetrics, name) is not None
    assert isinstance(REGISTRY, Registry)


# ---- same family / conflicts ------------------------------------------------------


def test_same_name_type_and_labels_return_the_same_family(reg: Registry) -> None:
    assert reg.counter("a", "x", ["l"]) is reg.counter("a", "other help", ("l",))
    assert reg.gauge("g", "x") is reg.gauge("g", "x")
    assert reg.histogram("h", "x", buckets=[1, 2]) is reg.histogram("h", "x", buckets=[1.0, 2.0])
    assert reg.rule_execution("r", "x", ["rule"]) is reg.rule_execution("r", "x", ["rule"])
    assert reg.throughput("t", "x", window_s=10, resolution_s=1) is reg.throughput(
        "t", "x", window_s=10, resolution_s=1
    )


def test_counter_x_and_x_total_are_one_family_exposed_as_x_total(reg: Registry) -> None:
    fam = reg.counter("requests_total", "r")
    assert reg.counter("requests", "r") is fam
    assert fam.name == "requests"
    fam.inc()
    (exposed,) = reg.collect()
    assert exposed.name == "requests"
    assert exposed.type == "counter"
    assert exposed.samples == (Sample("requests_total", (), 1, ""),)


@pytest.mark.parametrize(
    "second",
    [
        lambda r: r.gauge("a", "x", ["l"]),
        lambda r: r.histogram("a", "x", ["l"]),
        lambda r: r.rule_execution("a", "x", ["l"]),
        lambda r: r.throughput("a", "x", ["l"]),
        lambda r: r.counter("a", "x", ["m"]),
        lambda r: r.counter("a", "x", ["l", "m"]),
        lambda r: r.counter("a", "x"),
        lambda r: r.counter("a", "x", ["l"], max_series=3),
        lambda r: r.counter("a", "x", ["l"], max_series=None, on_overflow="collapse"),
    ],
)
def test_same_name_with_other_type_labels_or_settings_raises(reg: Registry, second: Any) -> None:
    first = reg.counter("a", "x", ["l"])
    with pytest.raises(ValueError, match="already"):
        second(reg)
    assert reg.counter("a", "x", ["l"]) is first
    assert [f.name for f in reg.collect()] == ["a"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda r: r.histogram("h", "", buckets=[1]), lambda r: r.histogram("h", "", buckets=[2])),
        (lambda r: r.gauge("g", ""), lambda r: r.gauge("g", "", multiprocess_mode="max")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.rule_execution("r", "", buckets=[5])),
        (lambda r: r.throughput("t", ""), lambda r: r.throughput("t", "", sla_ns=5)),
    ],
)
def test_other_settings_raise(reg: Registry, first: Any, second: Any) -> None:
    first(reg)
    with pytest.raises(ValueError, match="other settings"):
        second(reg)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda r: r.histogram("a", ""), lambda r: r.counter("a_count", "")),
        (lambda r: r.histogram("a", ""), lambda r: r.gauge("a_sum", "")),
        (lambda r: r.histogram("a", ""), lambda r: r.gauge("a_bucket", "")),
        (lambda r: r.counter("a_count", ""), lambda r: r.histogram("a", "")),
        (lambda r: r.counter("x", ""), lambda r: r.gauge("x_total", "")),
        (lambda r: r.gauge("x_total", ""), lambda r: r.counter("x", "")),
        (lambda r: r.counter("x", ""), lambda r: r.gauge("x", "")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.counter("r_executions", "")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.counter("r_errors_total", "")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.gauge("r_duration_seconds_count", "")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.histogram("r_duration_min_seconds", "")),
        (lambda r: r.gauge("r_duration_max_seconds", ""), lambda r: r.rule_execution("r", "")),
        (lambda r: r.throughput("t", ""), lambda r: r.counter("t_events", "")),
        (lambda r: r.throughput("t", ""), lambda r: r.gauge("t_peak_events_per_second", "")),
        (lambda r: r.throughput("t", ""), lambda r: r.counter("t_sla_violations_total", "")),
        (lambda r: r.counter("t_samples", ""), lambda r: r.throughput("t", "")),
        # OpenMetrics lets counters and histograms carry <name>_created
        (lambda r: r.counter("jobs", ""), lambda r: r.gauge("jobs_created", "")),
        (lambda r: r.gauge("jobs_created", ""), lambda r: r.counter("jobs_total", "")),
        (lambda r: r.counter("jobs", ""), lambda r: r.counter("jobs_created", "")),
        (lambda r: r.histogram("h", ""), lambda r: r.gauge("h_created", "")),
        (lambda r: r.gauge("h_created", ""), lambda r: r.histogram("h", "")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.gauge("r_executions_created", "")),
        (lambda r: r.rule_execution("r", ""), lambda r: r.gauge("r_duration_seconds_created", "")),
        (lambda r: r.throughput("t", ""), lambda r: r.gauge("t_sla_violations_created", "")),
    ],
)
def test_exposed_name_collisions_raise(reg: Registry, first: Any, second: Any) -> None:
    first(reg)
    with pytest.raises(ValueError, match="already"):
        second(reg)
    assert len({f.name for f in reg.collect()}) == len(list(reg.collect()))


def test_created_clash_is_refused_where_parsers_would_refuse_the_scrape() -> None:
    """Without the _created claim the registry accepted both families and
    every OpenMetrics scrape of it failed to parse ("Clashing name")."""
    reg = Registry()
    reg.counter("jobs", "")
    with pytest.raises(ValueError, match="'jobs_created' is already used by family 'jobs'"):
        reg.gauge("jobs_created", "")
    bypass = Registry()  # the same two families, side by side through a collector
    bypass.counter("jobs", "")
    bypass.register(StaticCollector([MetricFamily("jobs_created", "gauge", "", ())]))
    with pytest.raises(ValueError, match="Clashing name"):
        list(parse_openmetrics(generate_openmetrics(bypass).decode()))


_BASES = ("a", "a_total", "a_created", "a_count", "a_sum", "a_bucket", "a_created_total")
_KINDS: dict[str, Callable[[Registry, str], object]] = {
    "counter": lambda r, n: r.counter(n, "").inc(),
    "gauge": lambda r, n: r.gauge(n, "").set(1),
    "histogram": lambda r, n: r.histogram(n, "").observe(0.5),
    "rule_execution": lambda r, n: r.rule_execution(n, "").record(10),
    "throughput": lambda r, n: r.throughput(n, "").record(1, 5),
}


@given(st.lists(st.tuples(st.sampled_from(sorted(_KINDS)), st.sampled_from(_BASES)), max_size=6))
def test_whatever_the_registry_accepts_parses_in_both_formats(
    asks: list[tuple[str, str]],
) -> None:
    reg = Registry()
    for kind, name in asks:
        with contextlib.suppress(ValueError):  # refused: a clash or a type conflict
            _KINDS[kind](reg, name)
    families = list(parse_openmetrics(generate_openmetrics(reg).decode()))
    assert len({f.name for f in families}) == len(families)
    list(parse_text(generate_text(reg).decode()))


def test_composite_families_do_not_collide_with_themselves_or_neighbours(reg: Registry) -> None:
    reg.throughput("t", "")  # t_events and t_events_per_second are distinct
    reg.throughput("t_events", "")  # exposes t_events_events_total, not t_events_total
    reg.rule_execution("r", "")
    with pytest.raises(ValueError, match="already registered as"):
        reg.counter("r", "")  # one name, one type, even if "r" is not exposed itself


# ---- names -------------------------------------------------------------------


FACTORIES = [
    lambda r, n, ls: r.counter(n, "", ls),
    lambda r, n, ls: r.gauge(n, "", ls),
    lambda r, n, ls: r.histogram(n, "", ls),
    lambda r, n, ls: r.rule_execution(n, "", ls),
    lambda r, n, ls: r.throughput(n, "", ls),
]


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "é", "a.b", "a\n"])
def test_invalid_metric_names_raise(reg: Registry, make: Any, name: str) -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        make(reg, name, ())
    assert list(reg.collect()) == []


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("name", ["a", "_a", ":a", "a:b_c9", "A_Z", "__x", "a_total"])
def test_valid_metric_names(reg: Registry, make: Any, name: str) -> None:
    make(reg, name, ("l_1", "_l"))


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize(
    "labels",
    [["1a"], ["a-b"], [""], ["a:b"], ["__a"], ["__"], ["a", "a"], ["a", "b", "a"]],
)
def test_invalid_label_names_raise(reg: Registry, make: Any, labels: list[str]) -> None:
    with pytest.raises(ValueError, match="label name"):
        make(reg, "m", labels)
    assert list(reg.collect()) == []


def test_le_is_reserved_on_histograms_and_rule_metrics_only(reg: Registry) -> None:
    for make in (FACTORIES[2], FACTORIES[3]):
        with pytest.raises(ValueError, match="'le' is reserved"):
            make(reg, "m", ["le"])
    reg.counter("c", "", ["le"])
    reg.gauge("g", "", ["le"])
    reg.throughput("t", "", ["le"])


def test_wrongly_typed_names_raise_type_error(reg: Registry) -> None:
    with pytest.raises(TypeError):
        reg.counter(3, "")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reg.counter("a", "", "label")  # a bare str is not a sequence of names
    with pytest.raises(TypeError):
        reg.counter("a", "", [1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        reg.counter("a", 5)  # type: ignore[arg-type]
    assert list(reg.collect()) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.histogram("h", "", buckets=[]),
        lambda r: r.histogram("h", "", buckets=[2, 1]),
        lambda r: r.histogram("h", "", buckets=[1, 1]),
        lambda r: r.histogram("h", "", buckets=[math.nan]),
        lambda r: r.histogram("h", "", buckets=[-math.inf, 1]),
        lambda r: r.rule_execution("r", "", buckets=[]),
        lambda r: r.throughput("t", "", window_s=0),
        lambda r: r.throughput("t", "", window_s=10, resolution_s=3),
        lambda r: r.gauge("g", "", multiprocess_mode="average"),
    ],
)
def test_bad_settings_raise_and_register_nothing(reg: Registry, make: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- messages are the C types'
        make(reg)
    assert list(reg.collect()) == []


@pytest.mark.parametrize("mode", ["all", "livesum", "max", "min", "mostrecent"])
def test_multiprocess_mode_is_accepted_in_process(reg: Registry, mode: MultiprocessMode) -> None:
    g = reg.gauge("g", "", multiprocess_mode=mode)
    g.set(2)
    assert g.value() == 2


def test_histogram_buckets_are_normalized(reg: Registry) -> None:
    h = reg.histogram("h", "", buckets=[0.1, 1, math.inf])
    assert h.bounds == (0.1, 1.0)
    assert reg.histogram("h", "", buckets=(0.1, 1.0)) is h


# ---- collectors and collect() ----------------------------------------------------


class Custom:
    def __init__(self, name: str) -> None:
        self.name = name

    def collect(self) -> Iterable[MetricFamily]:
        yield MetricFamily(self.name, "gauge", "custom", (Sample(self.name, (), 1.5),))


def test_collect_yields_families_and_collectors_in_registration_order(reg: Registry) -> None:
    reg.counter("a", "")
    custom = Custom("b")
    reg.register(custom)
    reg.gauge("c", "")
    assert [f.name for f in reg.collect()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register(custom)
    reg.unregister(custom)
    assert [f.name for f in reg.collect()] == ["a", "c"]
    with pytest.raises(ValueError, match="not registered"):
        reg.unregister(custom)
    with pytest.raises(TypeError):
        reg.register(object())  # type: ignore[arg-type]


def test_unregistering_a_family_frees_its_names(reg: Registry) -> None:
    h = reg.histogram("a", "")
    reg.unregister(h)
    assert list(reg.collect()) == []
    h2 = reg.histogram("a", "")
    assert h2 is not h  # a new family
    reg.unregister(h2)
    reg.counter("a_count", "")  # a_count is free again


def test_collect_while_registering_does_not_break(reg: Registry) -> None:
    reg.counter("a", "")
    it = reg.collect()
    reg.counter("b", "")  # registered after the call: not seen by this iteration
    assert next(it).name == "a"
    reg.counter("c", "")
    assert list(it) == []
    assert [f.name for f in reg.collect()] == ["a", "b", "c"]


# ---- snapshot() ----------------------------------------------------------------


def test_snapshot_is_strict_json_with_documented_shape(reg: Registry) -> None:
    reg.counter("c", "a counter", ["k"]).labels("v").inc(2)
    g = reg.gauge("g", "a gauge", ["k"])
    g.labels("nan").set(math.nan)
    g.labels("pinf").set(math.inf)
    g.labels("ninf").set(-math.inf)
    g.labels("half").set(0.5)
    reg.histogram("h", "a histogram", buckets=[1]).observe(math.inf)
    snap = reg.snapshot()
    text = json.dumps(snap, allow_nan=False)
    assert json.loads(text) == snap
    assert snap["c"] == {
        "type": "counter",
        "help": "a counter",
        "samples": [{"name": "c_total", "labels": {"k": "v"}, "value": 2}],
    }
    assert {s["labels"]["k"]: s["value"] for s in snap["g"]["samples"]} == {
        "nan": "NaN",
        "pinf": "+Inf",
        "ninf": "-Inf",
        "half": 0.5,
    }
    assert snap["h"]["samples"] == [
        {"name": "h_bucket", "labels": {"le": "1.0"}, "value": 0},
        {"name": "h_bucket", "labels": {"le": "+Inf"}, "value": 1},
        {"name": "h_count", "labels": {}, "value": 1},
        {"name": "h_sum", "labels": {}, "value": "+Inf"},
    ]


def test_snapshot_merges_same_named_families_from_collectors(reg: Registry) -> None:
    reg.register(Custom("x"))
    reg.register(Custom("x"))
    assert len(reg.snapshot()["x"]["samples"]) == 2


# ---- storage seam ----------------------------------------------------------------


class RecordingStorage(InProcessStorage):
    """Counts what the registry asks for, by key."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: list[tuple[str, CellKey]] = []

    def int_cell(self, key: CellKey) -> Any:
        self.keys.append(("int", key))
        return super().int_cell(key)

    def float_cell(self, key: CellKey) -> Any:
        self.keys.append(("float", key))
        return super().float_cell(key)

    def gauge_cell(self, key: CellKey, mode: MultiprocessMode) -> Any:
        self.keys.append((f"gauge:{mode}", key))
        return super().gauge_cell(key, mode)

    def histogram_cell(self, key: CellKey, bounds: tuple[float, ...]) -> Any:
        self.keys.append((f"histogram:{bounds}", key))
        return super().histogram_cell(key, bounds)

    def rule_cell(self, key: CellKey, bounds: tuple[float, ...]) -> Any:
        self.keys.append((f"rule:{bounds}", key))
        return super().rule_cell(key, bounds)

    def throughput_cell(
        self, key: CellKey, window_s: float, resolution_s: float, sla_ns: int | None
    ) -> Any:
        self.keys.append((f"throughput:{window_s}/{resolution_s}/{sla_ns}", key))
        return super().throughput_cell(key, window_s, resolution_s, sla_ns)


class SeamRegistry(Registry):
    def __init__(self) -> None:
        super().__init__()
        self._storage = self.recorder = RecordingStorage()


def test_cells_come_from_the_storage_seam_once_per_child() -> None:
    reg = SeamRegistry()
    c = reg.counter("c_total", "", ["k"])
    c.labels("a").inc()
    c.labels("a").inc()
    reg.gauge("g", "", multiprocess_mode="livesum").set(1)
    reg.histogram("h", "", ["k"], buckets=[1, 2]).labels("b").observe(1)
    reg.rule_execution("r", "", buckets=[10]).record(1)
    reg.throughput("t", "", window_s=4, resolution_s=2, sla_ns=7)  # unlabelled: child made now
    assert reg.recorder.keys == [
        ("int", CellKey("c", ("a",), "int")),
        ("float", CellKey("c", ("a",), "float")),
        ("gauge:livesum", CellKey("g", (), "value")),
        ("histogram:(1.0, 2.0)", CellKey("h", ("b",), "histogram")),
        ("rule:(10.0,)", CellKey("r", (), "rule")),
        ("throughput:4/2/7", CellKey("t", (), "throughput")),
    ]


def test_as_prometheus_collector_exposes_the_registry(reg: Registry) -> None:
    import prometheus_client  # a [test] dependency

    reg.counter("bridged", "bridged counter", ["k"]).labels("v").inc(3)
    target = prometheus_client.CollectorRegistry()
    target.register(reg.as_prometheus_collector())
    assert target.get_sample_value("bridged_total", {"k": "v"}) == 3.0
    reg.gauge("later", "").set(2)  # read at each scrape
    assert target.get_sample_value("later") == 2.0


def test_gauge_rebind_cells_switches_every_child_to_fresh_storage_cells() -> None:
    """The multi-process registry's fork hook: per-process gauge cells."""
    reg = SeamRegistry()
    labelled = reg.gauge("g", "", ["k"], multiprocess_mode="max")
    solo = reg.gauge("solo", "", multiprocess_mode="min")
    child = labelled.labels("a")
    child.set(5)
    solo.set(7)
    reg.recorder.keys.clear()
    labelled._rebind_cells()
    solo._rebind_cells()
    assert reg.recorder.keys == [
        ("gauge:max", CellKey("g", ("a",), "value")),
        ("gauge:min", CellKey("solo", (), "value")),
    ]
    assert child.value() == 0.0  # a fresh cell
    assert labelled.labels("a") is child  # the same child object
    child.inc(2)
    solo.set(3)
    solo.inc()
    assert child.value() == 2.0
    assert solo.value() == 4.0
    assert solo.labels().value() == 4.0
    assert {f.name: f.samples[0].value for f in reg.collect()} == {"g": 2.0, "solo": 4.0}
