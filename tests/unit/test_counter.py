"""The registry's Counter (counter.py): two cells, exact totals, its family's samples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomicmetrics import Counter, Registry
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import INT64_MAX, THREADS, exposed, run_threads


def test_counter_inc_int_and_float_paths(reg: Registry) -> None:
    c = reg.counter("c", "").labels()
    assert isinstance(c, Counter)
    assert c.value() == 0
    c.inc()
    c.inc(2)
    c.inc(3.0)  # integral float: exact int path
    c.inc(True)
    assert c.value() == 7
    assert isinstance(c.value(), int)
    c.inc(0.5)
    assert c.value() == 7.5
    c.inc(0)
    c.inc(0.0)
    c.inc(-0.0)
    assert c.value() == 7.5
    c.inc(math.inf)
    assert c.value() == math.inf


def test_counter_integral_part_is_exact_beyond_float_precision(reg: Registry) -> None:
    c = reg.counter("c", "").labels()
    c.inc(2**53)
    c.inc()
    assert c.value() == 2**53 + 1  # a double could not hold this
    c.inc(1e300)  # integral but beyond int64: float part
    assert c.value() == 2**53 + 1 + 1e300


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (-1, ValueError),
        (-0.5, ValueError),
        (-math.inf, ValueError),
        (math.nan, ValueError),
        ("1", TypeError),
        (None, TypeError),
        (1j, TypeError),
        (2**63, OverflowError),
    ],
)
def test_counter_bad_amounts_raise_and_change_nothing(
    reg: Registry, bad: object, error: type[Exception]
) -> None:
    c = reg.counter("c", "").labels()
    c.inc(1.5)
    with pytest.raises(error):
        c.inc(bad)  # type: ignore[arg-type]
    assert c.value() == 1.5


def test_counter_int64_overflow_raises_and_changes_nothing(reg: Registry) -> None:
    c = reg.counter("c", "").labels()
    c.inc(INT64_MAX)
    for amount in (1, 1.0):
        with pytest.raises(OverflowError):
            c.inc(amount)
    with pytest.raises(OverflowError):
        c.inc()
    assert c.value() == INT64_MAX


@given(st.lists(st.one_of(st.integers(0, 2**40), st.floats(0, 1e6, allow_nan=False)), max_size=40))
def test_counter_equals_a_two_part_model(amounts: list[int | float]) -> None:
    c = Registry().counter("c", "").labels()
    whole, frac = 0, 0.0
    for a in amounts:
        c.inc(a)
        if isinstance(a, float) and not a.is_integer():
            frac += a
        else:
            whole += int(a)
    assert c.value() == (whole if frac == 0.0 else whole + frac)


@pytest.mark.usefixtures("switch_fast")
def test_counter_exact_totals_on_threads(reg: Registry) -> None:
    fam = reg.counter("c", "", ["k"])
    n = 4_000

    def work(i: int) -> None:
        child = fam.labels("x")
        for _ in range(n):
            child.inc()
            child.inc(0.5)  # exact in binary: sums stay exact

    run_threads(THREADS, work)
    assert fam.labels("x").value() == THREADS * n * 1.5


def test_counter_exposure(reg: Registry) -> None:
    c = reg.counter("req_total", "requests", ["code"])
    c.labels("200").inc(3)
    c.labels("500").inc(0.25)
    assert exposed(reg)["req"] == MetricFamily(
        "req",
        "counter",
        "requests",
        (
            Sample("req_total", (("code", "200"),), 3),
            Sample("req_total", (("code", "500"),), 0.25),
        ),
    )


def test_counter_stands_alone_without_a_registry() -> None:
    c = Counter()
    c.inc()
    c.inc(0.5)
    assert c.value() == 1.5
