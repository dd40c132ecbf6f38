"""Bad input across the public API: every call succeeds or raises the documented
exception with nothing changed, and every registry exposes parseable text.

Hypothesis draws arguments of every wrong type and edge value (NaN, ±Inf,
int64 limits and beyond, huge and empty strings, unicode, control
characters, lone surrogates, invalid names). A call may only raise
``TypeError``, ``ValueError`` (``CardinalityError`` included) or
``OverflowError``, and when it does every getter answers as before. Then the
registry must render in both formats and be read back by prometheus_client's
text and OpenMetrics parsers with the same label values; a bounded sample
also goes through ``promtool check metrics``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from atomicmetrics import (
    Registry,
    ThroughputMetric,
    generate_openmetrics,
    generate_text,
)
from tests.helpers import CELLS, INT64_MAX, INT64_MIN, Cell, promtool_check

DOCUMENTED = (TypeError, ValueError, OverflowError)


SPECIAL_TEXT = st.sampled_from(
    ["", " ", "\x00", "\n", "\r\n", "\t", "\\", '"', "\\n", "\u2028", "\ud800", "\udfff", "é",
     "🙂", "\x1b[31m", "a" * 5_000, "le", "__name__", "x" * 300]
)  # fmt: skip
TEXT = st.one_of(SPECIAL_TEXT, st.text(max_size=40))
NUMBERS = st.one_of(
    st.sampled_from(
        [0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN - 1, INT64_MAX + 1, 2**64, -(2**100)]
    ),
    st.integers(),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    st.booleans(),
)
ANYTHING = st.one_of(
    NUMBERS,
    TEXT,
    st.none(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.just(object()),
    st.complex_numbers(max_magnitude=10),
)


def _fingerprint(value: Any) -> Any:
    """A comparable picture of a getter's answer (floats by bit pattern: NaN == NaN)."""
    if isinstance(value, float):
        return ("f", struct.pack("<d", value))
    if isinstance(value, (list, tuple)):
        return tuple(_fingerprint(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return tuple(_fingerprint(getattr(value, f)) for f in value.__dataclass_fields__)
    return value


def _fixed_clock() -> int:
    return 10**12


# The getters and the methods (with their arity) of each cell type of CELLS.
SURFACE: dict[str, tuple[tuple[str, ...], tuple[tuple[str, int], ...]]] = {
    "counter": (
        ("load",),
        (("add", 1), ("fetch_add", 1), ("store", 1), ("swap", 1), ("compare_and_swap", 2),
         ("inc", 0), ("dec", 0)),
    ),
    "float": (("load",), (("add", 1), ("store", 1), ("swap", 1), ("compare_and_swap", 2))),
    "duration": (
        ("load_ns",),
        (("add_ns", 1), ("add", 1), ("store_ns", 1), ("compare_and_swap_ns", 2)),
    ),
    "minmax": (("snapshot",), (("observe", 1),)),
    "histogram": (("snapshot",), (("observe", 1),)),
    "native_histogram": (("snapshot",), (("observe", 1),)),
    "rule": (("snapshot",), (("record", 1), ("record", 2))),
    "throughput": (
        ("snapshot", "throughput", "peak_throughput"),
        (("record", 0), ("record", 1), ("record", 2)),
    ),
    "striped": (("load",), (("add", 1), ("inc", 0))),
}  # fmt: skip


def _new_cell(cell: Cell) -> Any:
    """A fresh cell; the throughput metric on a fixed clock, so its rates stay put."""
    if cell.name == "throughput":
        return ThroughputMetric(sla_ns=100, clock=_fixed_clock)
    return cell.make()


def _state(obj: Any, getters: tuple[str, ...]) -> Any:
    return tuple(_fingerprint(getattr(obj, g)()) for g in getters)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(CELLS) - 1),
    calls=st.lists(st.tuples(st.integers(0, 10), st.lists(ANYTHING, max_size=2)), max_size=8),
)
def test_primitive_calls_succeed_or_change_nothing(
    index: int, calls: list[tuple[int, list[Any]]]
) -> None:
    getters, methods = SURFACE[CELLS[index].name]
    obj = _new_cell(CELLS[index])
    for which, pool in calls:
        name, arity = methods[which % len(methods)]
        args = [*pool, 1, 1][:arity]
        before = _state(obj, getters)
        try:
            getattr(obj, name)(*args)
        except DOCUMENTED:
            assert _state(obj, getters) == before, (name, args)


# ---- registries ------------------------------------------------------------

METRIC_NAMES = st.one_of(
    st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True), TEXT, st.none(), st.integers()
)
LABEL_NAMES = st.one_of(st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True), TEXT)
KINDS = ("counter", "gauge", "histogram", "rule_execution", "throughput")


@st.composite
def family_specs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(KINDS)),
        "name": draw(METRIC_NAMES),
        "help": draw(st.one_of(TEXT, st.none())),
        "labelnames": draw(st.lists(LABEL_NAMES, max_size=3)),
        "max_series": draw(st.one_of(st.none(), st.integers(-1, 4), st.sampled_from([2**63]))),
        "on_overflow": draw(st.sampled_from(["raise", "collapse", "other"])),
        "buckets": draw(
            st.one_of(
                st.none(),
                st.lists(st.floats(), max_size=4),
                st.just([0.5, 1.0, math.inf]),
                st.just([-5.0, 0.0, 1e300]),
            )
        ),
    }


def _make(registry: Registry, spec: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {"max_series": spec["max_series"], "on_overflow": spec["on_overflow"]}
    if spec["buckets"] is not None and spec["kind"] in ("histogram", "rule_execution"):
        kwargs["buckets"] = spec["buckets"]
    factory = getattr(registry, spec["kind"])
    return factory(spec["name"], spec["help"], spec["labelnames"], **kwargs)


def _record(family: Any, kind: str, value: Any) -> Callable[[Any], None]:
    if kind == "counter":
        return family.inc  # type: ignore[no-any-return]
    if kind == "gauge":
        return family.set  # type: ignore[no-any-return]
    if kind == "histogram":
        return family.observe  # type: ignore[no-any-return]
    return family.record  # type: ignore[no-any-return]


def _child_state(child: Any, kind: str) -> Any:
    getter = {
        "counter": "value",
        "gauge": "value",
        "histogram": "snapshot",
        "rule_execution": "snapshot",
        "throughput": "events_processed",
    }[kind]
    return _fingerprint(getattr(child, getter)())


def _registry_state(registry: Registry) -> Any:
    return _fingerprint([(f.name, f.type, f.samples) for f in registry.collect()])


def _exercise(
    specs: list[dict[str, Any]], ops: list[tuple[int, list[Any], Any]]
) -> tuple[Registry, dict[str, set[tuple[str, ...]]]]:
    """Build a registry from fuzzed specs and ops; check the error contract
    on the way. Returns it and the label sets each family accepted."""
    registry = Registry()
    families: list[tuple[Any, str]] = []
    for spec in specs:
        before = _registry_state(registry)
        try:
            families.append((_make(registry, spec), spec["kind"]))
        except DOCUMENTED:
            assert _registry_state(registry) == before
    accepted: dict[str, set[tuple[str, ...]]] = {}
    for which, values, amount in ops:
        if not families:
            break
        family, kind = families[which % len(families)]
        children_before = dict(family._children)
        try:
            child = family.labels(*values)
        except DOCUMENTED:
            assert family._children == children_before
            continue
        accepted.setdefault(family.name, set()).add(tuple(str(v) for v in values))
        before = _child_state(child, kind)
        try:
            _record(child, kind, amount)(amount)
        except DOCUMENTED:
            assert _child_state(child, kind) == before, (kind, amount)
    return registry, accepted


def _check_exposition(registry: Registry, accepted: dict[str, set[tuple[str, ...]]]) -> None:
    text = generate_text(registry)
    openmetrics = generate_openmetrics(registry)
    seen_text = {
        tuple(sorted(s.labels.items())) for f in parse_text(text.decode()) for s in f.samples
    }
    list(parse_openmetrics(openmetrics.decode()))
    label_values = {v for pairs in seen_text for _, v in pairs}
    for sets in accepted.values():
        for values in sets:
            for value in values:
                overflowed = "__overflow__" in label_values
                assert value in label_values or overflowed, value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(family_specs(), min_size=1, max_size=4),
    ops=st.lists(
        st.tuples(st.integers(0, 3), st.lists(st.one_of(TEXT, NUMBERS), max_size=3), NUMBERS),
        max_size=12,
    ),
)
def test_registry_survives_bad_input_and_exposes_parseable_text(
    specs: list[dict[str, Any]], ops: list[tuple[int, list[Any], Any]]
) -> None:
    registry, accepted = _exercise(specs, ops)
    _check_exposition(registry, accepted)


@pytest.mark.stress
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(family_specs(), min_size=2, max_size=4),
    ops=st.lists(
        st.tuples(st.integers(0, 3), st.lists(st.one_of(TEXT, NUMBERS), max_size=3), NUMBERS),
        min_size=4,
        max_size=12,
    ),
)
def test_fuzzed_registries_pass_promtool(
    specs: list[dict[str, Any]], ops: list[tuple[int, list[Any], Any]]
) -> None:
    registry, _ = _exercise(specs, ops)
    result = promtool_check(generate_text(registry))
    # Exit 1 is a parse error; 3 is lint advice only (a ':' in a name, an
    # empty help text: both allowed by the Prometheus data model).
    assert result.returncode in (0, 3), result.stdout + result.stderr
    # Match promtool's own failure wording, not the bare word "error": a
    # family named ":" is exposed as ":_errors_total" and lints with exit 3.
    assert "error while linting" not in result.stderr, result.stderr
    assert "parsing error" not in result.stderr, result.stderr


def test_lone_surrogates_are_refused_where_they_enter() -> None:
    registry = Registry()
    family = registry.counter("surrogates", "h", ("k",))
    with pytest.raises(ValueError, match="UTF-8"):
        family.labels("\ud800")
    assert family._children == {}
    with pytest.raises(ValueError, match="UTF-8"):
        registry.counter("other", "help \udfff")
    family.labels("ok").inc()
    assert b'surrogates_total{k="ok"} 1' in generate_text(registry)


def test_rule_buckets_that_meet_in_seconds_are_refused() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="strictly increasing once in seconds"):
        registry.rule_execution("tiny", "", (), buckets=[-5e-324, 0.0])  # -0.0 and 0.0 s
    with pytest.raises(ValueError, match="strictly increasing once in seconds"):
        registry.rule_execution("ulps", "", (), buckets=[495812.7455696093, 495812.74556960934])
    assert list(registry.collect()) == []
    family = registry.rule_execution("fine", "", (), buckets=[-1.0, 0.0, 1.0])
    family.record(0)
    list(parse_openmetrics(generate_openmetrics(registry).decode()))


def test_counter_value_never_drops_below_its_int_part_past_2_53() -> None:
    from atomicmetrics import Counter

    counter = Counter()
    counter.inc(2**53 + 1)
    before = counter.value()
    counter.inc(0.5)
    assert counter.value() >= before
    for _ in range(100):
        previous = counter.value()
        counter.inc(1)
        counter.inc(0.25)
        assert counter.value() >= previous
