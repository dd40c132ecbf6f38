"""Families (family.py) and their labels: lookup, creation once, removal,
cardinality, rendered label texts, and their races."""

from __future__ import annotations

import threading
from enum import Enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

import atomicmetrics
from atomicmetrics import CardinalityError, Registry
from tests.helpers import THREADS, plain, run_threads

# ---- lookup ------------------------------------------------------------------


def test_labels_by_position_and_by_name_are_the_same_child(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["method", "code"])
    child = fam.labels("GET", "200")
    assert fam.labels(method="GET", code="200") is child
    assert fam.labels(code="200", method="GET") is child
    assert fam.labels("GET", "201") is not child


def test_label_values_are_converted_with_str(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["code"])
    assert fam.labels(200) is fam.labels("200")
    assert fam.labels(code=200) is fam.labels("200")
    assert fam.labels(True) is fam.labels("True")
    assert fam.labels(1) is not fam.labels(True)  # 1 == True, but str() differs
    assert fam.labels(None) is fam.labels("None")
    assert fam.labels([1, 2]) is fam.labels("[1, 2]")  # unhashable: converted
    samples = next(iter(fam.collect())).samples
    assert {s.labels for s in samples} == {
        (("code", "200"),),
        (("code", "True"),),
        (("code", "1"),),
        (("code", "None"),),
        (("code", "[1, 2]"),),
    }


class Method(str, Enum):
    GET = "get"


class Shouty(str):
    def __str__(self) -> str:
        return self.upper()


@pytest.mark.parametrize("labelnames", [["method"], ["method", "other"]])
def test_str_subclasses_are_converted_with_str_even_when_equal(
    reg: Registry, labelnames: list[str]
) -> None:
    """The C fast path only takes exact str: equal-but-different values convert."""
    fam = reg.counter("req", "requests", labelnames)
    rest = ("x",) * (len(labelnames) - 1)
    plain = fam.labels("get", *rest)
    assert Method.GET == "get"
    assert fam.labels(Method.GET, *rest) is fam.labels(str(Method.GET), *rest)
    assert fam.labels(Method.GET, *rest) is not plain
    assert fam.labels(Shouty("get"), *rest) is fam.labels("GET", *rest)
    assert fam.labels("get", *rest) is plain


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a",), {}),
        (("a", "b", "c"), {}),
        ((), {"x": "a"}),
        ((), {"x": "a", "y": "b", "z": "c"}),
        ((), {"x": "a", "z": "b"}),
        (("a",), {"y": "b"}),
    ],
)
def test_wrong_number_or_names_of_labels_raise(
    reg: Registry, args: tuple[str, ...], kwargs: dict[str, str]
) -> None:
    fam = reg.counter("req", "requests", ["x", "y"])
    with pytest.raises(ValueError, match="req"):
        fam.labels(*args, **kwargs)
    with pytest.raises(ValueError, match="req"):
        fam.remove(*args, **kwargs)
    assert next(iter(fam.collect())).samples == ()


def test_family_without_labels_records_directly(reg: Registry) -> None:
    fam = reg.counter("hits", "hits")
    fam.inc()
    fam.inc(2)
    assert fam.value() == 3
    assert fam.labels().value() == 3
    # The family's methods are the child's own bound methods (no extra call).
    assert fam.inc == fam.labels().inc
    with pytest.raises(ValueError, match="needs 0 label values"):
        fam.labels("x")
    with pytest.raises(ValueError, match="needs the labels"):
        fam.labels(x="1")
    with pytest.raises(ValueError, match="without labels"):
        fam.remove()
    fam.clear()  # does nothing
    assert fam.value() == 3


def test_labelled_family_refuses_direct_recording(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["code"])
    with pytest.raises(ValueError, match="labels"):
        fam.inc()
    with pytest.raises(ValueError, match="labels"):
        fam.value()
    g = reg.gauge("temp", "t", ["room"])
    for call in (lambda: g.set(1), g.inc, g.dec, g.set_to_current_time, g.value):
        with pytest.raises(ValueError, match="record through labels"):
            call()


# ---- removal -----------------------------------------------------------------


def test_remove_and_clear(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["code"])
    a = fam.labels("200")
    a.inc()
    fam.labels("500").inc(3)
    fam.remove("200")
    fam.remove("404")  # absent: ignored
    assert [s.labels for s in next(iter(fam.collect())).samples] == [(("code", "500"),)]
    assert fam.labels("200") is not a  # a fresh child after removal
    assert fam.labels("200").value() == 0
    fam.remove(code=200)
    fam.clear()
    assert next(iter(fam.collect())).samples == ()


def test_remove_and_clear_while_recording(reg: Registry) -> None:
    """Removal never breaks a recorder: it keeps a working (detached) child."""
    fam = reg.counter("req", "requests", ["worker"])
    per_thread = 5_000
    stop = threading.Event()

    def remover() -> None:
        while not stop.is_set():
            fam.remove("0")
            fam.clear()

    t = threading.Thread(target=remover)
    t.start()
    try:

        def work(i: int) -> int:
            done = 0
            for _ in range(per_thread):
                fam.labels(str(i % 2)).inc()
                done += 1
            return done

        assert sum(run_threads(THREADS, work)) == THREADS * per_thread  # type: ignore[arg-type]
    finally:
        stop.set()
        t.join()
    for s in next(iter(fam.collect())).samples:
        assert 0 <= s.value <= THREADS * per_thread


# ---- cardinality ---------------------------------------------------------------


def test_cardinality_error_is_exported_and_a_value_error() -> None:
    assert atomicmetrics.CardinalityError is CardinalityError
    assert "CardinalityError" in atomicmetrics.__all__
    assert issubclass(CardinalityError, ValueError)


def test_max_series_raises_past_the_limit(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["user"], max_series=2)
    a = fam.labels("a")
    fam.labels("b")
    with pytest.raises(CardinalityError, match="max_series=2"):
        fam.labels("c")
    assert fam.labels("a") is a  # existing children stay reachable
    assert len(next(iter(fam.collect())).samples) == 2
    fam.remove("b")
    fam.labels("c")  # room again
    with pytest.raises(CardinalityError):
        fam.labels("d")


def test_collapse_returns_one_shared_overflow_child(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["user", "page"], max_series=2, on_overflow="collapse")
    fam.labels("a", "1").inc()
    fam.labels("b", "1").inc()
    over = fam.labels("c", "1")
    assert fam.labels("d", "9") is over
    assert fam.labels(user="e", page="2") is over
    assert fam.labels("__overflow__", "__overflow__") is over
    over.inc(5)
    fam.labels("x", "y").inc()
    samples = {s.labels: s.value for s in next(iter(fam.collect())).samples}
    assert samples == {
        (("user", "a"), ("page", "1")): 1,
        (("user", "b"), ("page", "1")): 1,
        (("user", "__overflow__"), ("page", "__overflow__")): 6,
    }
    fam.remove("a", "1")
    assert fam.labels("new", "1") is not over  # room again
    fam.clear()
    assert fam.labels("z", "z") is not over


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_series": 0}, ValueError),
        ({"max_series": -3}, ValueError),
        ({"max_series": 1.5}, TypeError),
        ({"max_series": "3"}, TypeError),
        ({"on_overflow": "drop"}, ValueError),
    ],
)
def test_cardinality_settings_are_validated(
    reg: Registry, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        reg.counter("req", "requests", ["user"], **kwargs)  # type: ignore[arg-type]
    reg.counter("req", "requests", ["user"])  # nothing was registered


# ---- races -------------------------------------------------------------------


@pytest.mark.usefixtures("switch_fast")
def test_concurrent_creation_of_one_child_makes_exactly_one(reg: Registry) -> None:
    for round_ in range(20):
        fam = reg.counter(f"same_{round_}", "x", ["k"])
        children = run_threads(THREADS, lambda i, fam=fam: fam.labels("v"))  # type: ignore[misc]
        assert all(c is children[0] for c in children)


@pytest.mark.usefixtures("switch_fast")
def test_concurrent_labels_same_and_different_children_exact_totals(reg: Registry) -> None:
    fam = reg.counter("req", "requests", ["key"])
    per_thread, keys = 3_200, 16
    stop = threading.Event()
    seen_invalid: list[str] = []

    def reader() -> None:  # invariants hold while writers run
        last: dict[tuple[tuple[str, str], ...], int | float] = {}
        while not stop.is_set():
            for s in next(iter(fam.collect())).samples:
                if s.value < last.get(s.labels, 0):
                    seen_invalid.append(f"{s.labels} went down")
                last[s.labels] = s.value

    t = threading.Thread(target=reader)
    t.start()
    try:

        def work(i: int) -> None:
            for j in range(per_thread):
                fam.labels(str(j % keys)).inc()  # same keys on every thread
                fam.labels(f"own-{i}").inc()  # a key of this thread only

        run_threads(THREADS, work)
    finally:
        stop.set()
        t.join()
    assert not seen_invalid
    values = {s.labels[0][1]: s.value for s in next(iter(fam.collect())).samples}
    assert len(values) == keys + THREADS
    for k in range(keys):
        assert values[str(k)] == THREADS * per_thread // keys
    for i in range(THREADS):
        assert values[f"own-{i}"] == per_thread


@pytest.mark.usefixtures("switch_fast")
@pytest.mark.parametrize("on_overflow", ["raise", "collapse"])
def test_max_series_under_concurrent_creation(reg: Registry, on_overflow: str) -> None:
    limit = 5
    fam = reg.counter("req", "requests", ["k"], max_series=limit, on_overflow=on_overflow)  # type: ignore[arg-type]
    refused = [0] * THREADS

    def work(i: int) -> None:
        for j in range(200):
            try:
                fam.labels(f"{i}-{j}").inc()
            except CardinalityError:
                refused[i] += 1

    run_threads(THREADS, work)
    samples = next(iter(fam.collect())).samples
    real = [s for s in samples if s.labels != (("k", "__overflow__"),)]
    assert len(real) == limit
    total = sum(s.value for s in samples)
    if on_overflow == "raise":
        assert len(samples) == limit
        assert total + sum(refused) == THREADS * 200
    else:
        assert len(samples) == limit + 1
        assert total == THREADS * 200
        assert sum(refused) == 0


# ---- model equivalence ---------------------------------------------------------

LABEL_VALUES = st.sampled_from(["a", "b", "c", "d", "__overflow__", 1, True, None])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("inc"), LABEL_VALUES, LABEL_VALUES),
        st.tuples(st.just("remove"), LABEL_VALUES, LABEL_VALUES),
        st.tuples(st.just("clear"), st.none(), st.none()),
    ),
    max_size=40,
)


@given(ops=OPS, limit=st.one_of(st.none(), st.integers(1, 4)), collapse=st.booleans())
def test_labels_remove_clear_match_a_dict_model(
    ops: list[tuple[str, object, object]], limit: int | None, collapse: bool
) -> None:
    """A plain dict with the documented rules predicts every exposed series."""
    fam = Registry().counter(
        "m", "", ["x", "y"], max_series=limit, on_overflow="collapse" if collapse else "raise"
    )
    model: dict[tuple[str, str], int] = {}
    over = ("__overflow__", "__overflow__")
    collapsed = False  # whether model[over] is the collapse child (not counted)
    for op, x, y in ops:
        key = (str(x), str(y))
        if op == "inc":
            real = len(model) - (collapsed and over in model)
            if key in model or limit is None or real < limit:
                model[key] = model.get(key, 0) + 1
            elif collapse:
                model[over] = model.get(over, 0) + 1
                collapsed = True
            else:
                with pytest.raises(CardinalityError):
                    fam.labels(x, y)
                continue
            fam.labels(x, y).inc()
        elif op == "remove":
            model.pop(key, None)
            collapsed = collapsed and key != over
            fam.remove(x, y)
        else:
            model.clear()
            collapsed = False
            fam.clear()
    exposed = {tuple(v for _, v in s.labels): s.value for s in next(iter(fam.collect())).samples}
    assert exposed == model


def test_an_explicit_overflow_label_set_becomes_the_collapse_child(reg: Registry) -> None:
    fam = reg.counter("m", "", ["x"], max_series=2, on_overflow="collapse")
    early = fam.labels("__overflow__")  # room: a real child under that label set
    early.inc(3)
    fam.labels("a").inc()
    assert fam.labels("b") is early  # full: the collapse child is that same child
    fam.labels("c").inc()  # room again: "__overflow__" no longer counts
    fam.labels("d").inc()  # full again: collapsed
    samples = {s.labels[0][1]: s.value for s in next(iter(fam.collect())).samples}
    assert samples == {"__overflow__": 4, "a": 1, "c": 1}


def test_rendered_labels_are_reused_and_follow_removals(reg: Registry) -> None:
    fam = reg.histogram("h", "", ["k"], buckets=[1])
    fam.labels('a"b').observe(0.5)
    fam.labels("c").observe(2)
    first = next(iter(reg.collect()))
    again = next(iter(reg.collect()))
    assert plain(first) == plain(again)  # plain() checks every rendered text
    # Rendered once, when the child was made: each child keeps its text.
    assert [c._text for c in fam._children.values()] == ['{k="a\\"b"}', '{k="c"}']
    assert first.samples[0].rendered_labels == '{k="a\\"b",le="1.0"}'
    fam.remove("c")
    fam.labels("c").observe(0.1)  # a new child under an old label set
    third = plain(next(iter(reg.collect())))
    assert [s.value for s in third.samples if s.name == "h_count"] == [1, 1]
