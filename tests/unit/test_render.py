"""The C exposition path (_core._render, _core._samples) against the Python one.

A registry's counters, gauges and histograms are written in C; any other
collector goes through collect() and the Python writer. ``through_python``
wraps a registry so that every family takes the Python path: both paths must
give the same bytes, whatever the values and label texts.
"""

from __future__ import annotations

import gc
import math
import random
import struct
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from atomicmetrics import (
    AtomicCounter,
    AtomicFloat,
    AtomicHistogram,
    Counter,
    Gauge,
    Histogram,
    Registry,
    generate_openmetrics,
    generate_text,
)
from atomicmetrics._core import _render, _samples
from atomicmetrics.formatting import format_value
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import THREADS, run_threads

INT64_MAX = 2**63 - 1


class through_python:
    """A collector that yields a registry's families: rendered in Python."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[MetricFamily]:
        return self.registry.collect()


def assert_paths_agree(r: Registry) -> None:
    assert generate_text(r) == generate_text(through_python(r))
    assert generate_openmetrics(r) == generate_openmetrics(through_python(r))


def gauge_lines(values: list[float]) -> list[str]:
    """The value each gauge child of a fresh registry is exposed with, in C."""
    r = Registry()
    g = r.gauge("g", "", ["i"])
    for i, v in enumerate(values):
        g.labels(str(i)).set(v)
    text = generate_text(r).decode()
    assert text == generate_text(through_python(r)).decode()
    return [line.split(" ")[1] for line in text.splitlines() if not line.startswith("#")]


# ---- values ---------------------------------------------------------------------


def special_doubles() -> list[float]:
    out = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.30000000000000004, 1 / 3, 2 / 3, math.pi]
    out += [5e-324, -5e-324, 2.2250738585072014e-308, 2.2250738585072009e-308]
    out += [1.7976931348623157e308, -1.7976931348623157e308, 2.0**53, 2.0**53 + 2, 2.0**63]
    for e in range(-1074, 1024):  # every power of two: the narrow rounding intervals
        out.append(math.ldexp(1.0, e))
    for e in range(-30, 31):  # powers of ten, their neighbours, and the switch to e+/e-
        p = float(f"1e{e}")
        out += [p, math.nextafter(p, 0.0), math.nextafter(p, math.inf), 9.5 * p, 1.2345 * p]
    for e in range(14, 19):
        out += [float(10**e - 1), float(10**e + 1), float(10**e) - 0.5]
    for k in range(1, 200):  # short decimals: the exact fast path
        out += [k / 10, k / 100, k / 1000, k * 0.05, k * 1.1, 12345.678 * k]
    return out


def test_double_values_are_spelled_as_repr() -> None:
    values = special_doubles()
    assert gauge_lines(values) == [repr(v) for v in values]


def test_random_bit_patterns_are_spelled_as_repr() -> None:
    rnd = random.Random(1234)
    values = []
    while len(values) < 20_000:
        (v,) = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))
        if math.isfinite(v):
            values.append(v)
    assert gauge_lines(values) == [repr(v) for v in values]


@settings(max_examples=200)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_any_double_is_spelled_as_repr(values: list[float]) -> None:
    assert gauge_lines(values) == [repr(v) for v in values]


def test_non_finite_values() -> None:
    nans = [math.nan, -math.nan, struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\x7f")[0]]
    assert gauge_lines([math.inf, -math.inf, *nans]) == ["+Inf", "-Inf"] + ["NaN"] * 3


def test_counter_values_int_then_float_as_value_returns() -> None:
    r = Registry()
    c = r.counter("c", "", ["k"])
    cases: list[tuple[int, float]] = [
        (0, 0.0),
        (7, 0.0),
        (INT64_MAX, 0.0),
        (7, 0.5),
        (2**53 + 1, 0.5),  # rounds below the int part: one ULP up
        (INT64_MAX, 0.25),
        (3, math.inf),
        (0, 1e300),
    ]
    for i, (whole, frac) in enumerate(cases):
        child = c.labels(str(i))
        child.inc(whole)
        if frac:
            child.inc(frac)
    lines = [line for line in generate_text(r).decode().splitlines() if line[0] != "#"]
    expected = [format_value(c.labels(str(i)).value()) for i in range(len(cases))]
    assert [line.split(" ")[1] for line in lines] == expected
    assert_paths_agree(r)


# ---- the two paths over whole registries -------------------------------------------

label_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
amounts = st.one_of(
    st.integers(0, 2**40), st.floats(0, 1e6), st.sampled_from([0.5, math.inf, 2.0**61, 1e-320])
)
observations = st.one_of(
    st.floats(-1e6, 1e6), st.sampled_from([math.inf, -math.inf, 0.0, -0.0, 1e-300])
)


@settings(max_examples=60, deadline=None)
@given(
    counters=st.lists(st.tuples(label_text, label_text, st.lists(amounts, max_size=3)), max_size=8),
    gauges=st.lists(st.tuples(label_text, st.floats(allow_nan=True)), max_size=8),
    bounds=st.lists(st.floats(-100, 100), min_size=1, max_size=6, unique=True).map(sorted),
    histograms=st.lists(st.tuples(label_text, st.lists(observations, max_size=5)), max_size=5),
)
def test_c_and_python_paths_agree(
    counters: list[tuple[str, str, list[float]]],
    gauges: list[tuple[str, float]],
    bounds: list[float],
    histograms: list[tuple[str, list[float]]],
) -> None:
    r = Registry()
    r.counter("plain", "A counter without labels.").inc(3)
    c = r.counter("c", 'Help with "quotes", \\ and\nnewline.', ["a", "b"])
    for a, b, incs in counters:
        child = c.labels(a, b)
        for x in incs:
            child.inc(x)
    rule = r.rule_execution("rule", "Interleaved with the C families.", ["r"])
    rule.labels("x").record(1500)
    g = r.gauge("g", "", ["v"])
    for v, x in gauges:
        g.labels(v).set(x)
    h = r.histogram("h", "Histogram.", ["k"], buckets=bounds)
    for k, xs in histograms:
        child = h.labels(k)
        for x in xs:
            child.observe(x)
    r.histogram("h_unlabelled", "", buckets=[1.0]).observe(-5)
    assert_paths_agree(r)


def test_openmetrics_drops_forbidden_sums_in_c_as_in_python() -> None:
    r = Registry()
    neg = r.histogram("neg", "", ["k"], buckets=[-1.0, 0.0, 1.0])
    neg.labels("a").observe(0.5)
    h = r.histogram("h", "", ["k"], buckets=[1.0])
    h.labels("negative").observe(-3)
    h.labels("nan").observe(math.inf)
    h.labels("nan").observe(-math.inf)
    h.labels("fine").observe(2)
    om = generate_openmetrics(r).decode()
    assert "neg_count" not in om
    assert "neg_sum" not in om
    assert 'h_sum{k="negative"}' not in om
    assert 'h_sum{k="nan"}' not in om
    assert 'h_count{k="fine"} 1' in om
    assert 'h_sum{k="fine"} 2.0' in om
    assert 'h_sum{k="negative"} -3.0' in generate_text(r).decode()
    assert_paths_agree(r)
    list(parse_openmetrics(om))


def test_native_histogram_families_agree_and_keep_their_native_readings() -> None:
    r = Registry()
    both = r.histogram("both", "", ["k"], buckets=[1.0], native=True)
    only = r.histogram("only", "", ["k"], buckets=(), native=True)
    for x in (0.5, 2.0, 3.0):
        both.labels("a").observe(x)
        only.labels("a").observe(x)
    assert_paths_agree(r)
    families = {f.name: f for f in r.collect()}
    for name in ("both", "only"):
        (native,) = families[name].native.values()
        assert native.count == 3
    assert [s.value for s in families["both"].samples] == [1, 3, 3, 5.5]
    assert [s.value for s in families["only"].samples] == [3, 3, 5.5]
    assert 'only_bucket{k="a",le="+Inf"} 3' in generate_text(r).decode()


# ---- large renders: the thread state is detached while lines are written -----------


def big_registry(children: int) -> Registry:
    r = Registry()
    c = r.counter("big", "Many children.", ["tenant"])
    for i in range(children):
        c.labels(f"tenant-{i}").inc(i)
    h = r.histogram("big_seconds", "", ["tenant"])
    for i in range(children // 10):
        h.labels(f"tenant-{i}").observe(i / 1000)
    return r


def test_large_render_matches_the_python_path() -> None:
    r = big_registry(30_000)  # past the size from which the GIL is released
    assert_paths_agree(r)


def test_large_render_lets_other_threads_run() -> None:
    r = big_registry(60_000)
    generate_text(r)  # warm
    stop = threading.Event()
    ticks = [0]

    def spin() -> None:
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)  # gives the GIL back at once: only a held GIL stops it

    old = sys.getswitchinterval()
    sys.setswitchinterval(60.0)  # the render thread is never asked to let go
    thread = threading.Thread(target=spin)
    thread.start()
    try:
        progress = []
        for _ in range(5):
            before = ticks[0]
            generate_text(r)
            progress.append(ticks[0] - before)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    assert max(progress) > 10, progress


def test_render_while_children_come_and_go() -> None:
    r = big_registry(25_000)
    c = r.counter("churn", "", ["k"])
    h = r.histogram("churn_seconds", "", ["k"], buckets=[0.5])
    stop = threading.Event()
    problems: list[BaseException] = []

    def scrape() -> None:
        while not stop.is_set():
            try:
                text = generate_text(r).decode()
                families = {f.name: f for f in parse_text(text)}
                assert families["big"].samples
                list(parse_openmetrics(generate_openmetrics(r).decode()))
                list(r.collect())
            except BaseException as e:  # reported below
                problems.append(e)
                return

    def churn(i: int) -> int:
        n = 0
        for k in range(2_000):
            key = f"w{i}-{k % 50}"
            c.labels(key).inc()
            h.labels(key).observe(0.25)
            n += 1
            if k % 7 == 0:
                c.remove(key)
                h.remove(key)
            if k % 500 == 0:
                c.clear()
        return n

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        run_threads(THREADS, churn)
    finally:
        stop.set()
        scraper.join(120)
    assert not problems, problems[0]
    assert_paths_agree(r)


# ---- no leaks, no per-scrape growth --------------------------------------------------


def test_render_and_samples_keep_no_references() -> None:
    r = Registry()
    child = r.counter("c", "", ["k"]).labels("x")
    hist = r.histogram("h", "", ["k"]).labels("x")
    gauge = r.gauge("g", "", ["k"]).labels("x")
    refs = [sys.getrefcount(o) for o in (child, hist, gauge)]
    for _ in range(100):
        generate_text(r)
        generate_openmetrics(r)
        list(r.collect())
    assert [sys.getrefcount(o) for o in (child, hist, gauge)] == refs


def test_scrapes_allocate_nothing_that_stays() -> None:
    r = big_registry(2_000)
    for _ in range(3):
        generate_text(r)
        generate_openmetrics(r)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            generate_text(r)
            generate_openmetrics(r)
        assert tracemalloc.get_traced_memory()[0] - start < 4096
    finally:
        tracemalloc.stop()


# ---- the private entry points refuse what they cannot render -------------------------


def test_render_refuses_bad_parts() -> None:
    with pytest.raises(TypeError):
        _render([b"x"], False)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _render(("text",), False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown family kind"):
        _render(((9, {}, b"x", (), 0),), False)
    with pytest.raises(TypeError, match="must be"):
        _render(((0, {"k": Gauge()}, b"x", (), 0),), False)
    with pytest.raises(ValueError, match="other buckets"):
        _render(((2, {"k": Histogram([1.0, 2.0])}, b"h", (b"1.0", b"+Inf"), 0),), False)
    assert (
        _render((b"# a\n", (0, {(): Counter()}, b"x_total", (), 0)), False) == b"# a\nx_total 0\n"
    )


def test_samples_refuses_bad_children() -> None:
    with pytest.raises(TypeError, match="must be"):
        _samples(0, {"k": Histogram()}, ("c_total",), ("k",), (), Sample)
    with pytest.raises(TypeError, match="tuple subclass"):
        _samples(0, {}, ("c_total",), (), (), list)
    with pytest.raises(ValueError, match="do not fit"):
        _samples(2, {}, ("h",), (), (), Sample)
    with pytest.raises(ValueError, match="label names"):
        _samples(0, {("a", "b"): Counter()}, ("c_total",), ("k",), (), Sample)
    with pytest.raises(TypeError, match="must be a dict"):
        _samples(0, [], ("c_total",), ("k",), (), Sample)
    (s,) = _samples(0, {"v": Counter()}, ("c_total",), ("k",), (), Sample)
    assert tuple(s) == ("c_total", (("k", "v"),), 0, "", None)  # made alone: no text


# ---- the children ----------------------------------------------------------------------


def test_children_keep_their_text_and_counters_and_gauges_are_untracked_by_the_gc() -> None:
    r = Registry()
    counter = r.counter("c", "", ["k"]).labels("x")
    gauge = r.gauge("g", "", ["k"]).labels("x")
    hist = r.histogram("h", "", ["k"]).labels("x")
    assert not gc.is_tracked(counter)
    assert not gc.is_tracked(gauge)
    assert [c._text for c in (counter, gauge, hist)] == ['{k="x"}'] * 3


def test_counter_cells_are_checked() -> None:
    with pytest.raises(TypeError, match="int_cell must be"):
        Counter(AtomicFloat())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float_cell must be"):
        Counter(AtomicCounter(), AtomicCounter())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cell must be"):
        Gauge(AtomicCounter())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cell must be"):
        Histogram(cell=AtomicFloat())  # type: ignore[arg-type]
    cell = AtomicCounter(5)
    c = Counter(cell)
    c.inc()
    assert cell.load() == 6
    assert c.value() == 6
    h = Histogram(cell=AtomicHistogram([1.0]))
    assert h.snapshot().bounds == (1.0,)


def test_counter_makes_its_float_cell_once_under_threads() -> None:
    c = Counter()
    per_thread = 2_000

    def work(i: int) -> None:
        for _ in range(per_thread):
            c.inc(0.5)
            c.inc()

    run_threads(THREADS, work)
    assert c.value() == THREADS * per_thread * 1.5


def test_gauge_bind_moves_recording_and_keeps_old_cells_alive() -> None:
    old, stamp = AtomicFloat(1.0), AtomicCounter()
    g = Gauge(old)
    g._bind(AtomicFloat(), stamp)
    del old
    g.set(4.0)
    assert g.value() == 4.0
    assert stamp.load() > 0  # a stamped gauge notes the time of each change
    g.inc(2)
    g.dec(0.5)
    assert g.value() == 5.5
    with pytest.raises(TypeError):
        g._bind(AtomicCounter())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g.dec("x")  # type: ignore[arg-type]
    assert g.value() == 5.5


def test_gauge_bind_under_recording_threads() -> None:
    first = AtomicFloat()
    g = Gauge(first)
    cells = [AtomicFloat() for _ in range(20)]
    stop = threading.Event()

    def rebind() -> None:
        for cell in cells:
            g._bind(cell)
            time.sleep(0.001)
        stop.set()

    def record(i: int) -> int:
        n = 0
        while not stop.is_set():
            g.inc()
            n += 1
        return n

    thread = threading.Thread(target=rebind)
    thread.start()
    counts = run_threads(2, record)
    thread.join()
    # Each increment landed whole in the one cell it found: none lost, none twice.
    assert first.load() + sum(cell.load() for cell in cells) == sum(counts)  # type: ignore[arg-type]
    assert g.value() == cells[-1].load()


def test_histogram_child_timer_and_repr() -> None:
    h = Histogram([1.0])
    with h.time():
        pass
    assert h.snapshot().count == 1
    assert repr(h).startswith("Histogram(count=1, sum=")
    assert repr(Counter()) == "Counter(0)"
    assert repr(Gauge()) == "Gauge(0.0)"
