"""formatting.py: numbers and escaping shared by both text formats."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.utils import floatToGoString

from atomicmetrics.formatting import (
    append_sample_lines,
    escape_help_openmetrics,
    escape_help_text,
    escape_label_value,
    format_bound,
    format_value,
    render_labels,
)
from atomicmetrics.samples import Sample

INF = float("inf")
NAN = float("nan")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-7, "-7"),
        (2**63 - 1, "9223372036854775807"),
        (-(2**63), "-9223372036854775808"),
        (2**64, "18446744073709551616"),
        (True, "1"),
        (False, "0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1e16, "1e+16"),
        (1e-05, "1e-05"),
        (123456789.0, "123456789.0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (NAN, "NaN"),
        (INF, "+Inf"),
        (-INF, "-Inf"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_format_value_subclasses_and_wrong_types() -> None:
    class MyInt(int):
        def __repr__(self) -> str:
            return "mine"

    class MyFloat(float):
        pass

    assert format_value(MyInt(3)) == "3"
    assert format_value(MyFloat(2.5)) == "2.5"
    assert format_value(MyFloat(INF)) == "+Inf"
    with pytest.raises(TypeError, match="str"):
        format_value("1")  # type: ignore[arg-type]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_value_round_trips_every_finite_float(x: float) -> None:
    text = format_value(x)
    assert float(text) == x
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, x)
    assert "." in text or "e" in text  # floats never look like ints


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_format_value_ints_are_exact(n: int) -> None:
    assert int(format_value(n)) == n


# The OpenMetrics "Canonical Numbers" examples, verbatim from the spec.
CANONICAL = [
    (0.0, "0.0"),
    (0.001, "0.001"),
    (0.002, "0.002"),
    (0.01, "0.01"),
    (0.1, "0.1"),
    (0.9, "0.9"),
    (0.95, "0.95"),
    (0.99, "0.99"),
    (0.999, "0.999"),
    (1.0, "1.0"),
    (1.7, "1.7"),
    (10.0, "10.0"),
    (1e-10, "1e-10"),
    (1e-09, "1e-09"),
    (1e-05, "1e-05"),
    (0.0001, "0.0001"),
    (100000.0, "100000.0"),
    (1e6, "1e+06"),
    (1e10, "1e+10"),
    (INF, "+Inf"),
]


@pytest.mark.parametrize(("bound", "text"), CANONICAL)
def test_format_bound_canonical_numbers(bound: float, text: str) -> None:
    assert format_bound(bound) == text


@pytest.mark.parametrize(
    ("bound", "text"),
    [
        (1234567.0, "1.234567e+06"),
        (1.5e15, "1.5e+15"),
        (999999.0, "999999.0"),
        (1e16, "1e+16"),
        (1e23, "1e+23"),
        (1.1e23, "1.1e+23"),
        (-1e6, "-1e+06"),
        (-2.5, "-2.5"),
        (-0.0, "-0.0"),
        (-INF, "-Inf"),
        (NAN, "NaN"),
        (3, "3.0"),
    ],
)
def test_format_bound_go_style_exponents(bound: float, text: str) -> None:
    assert format_bound(bound) == text


@given(st.floats(min_value=0.0, max_value=1e10, exclude_min=True, exclude_max=True))
def test_format_bound_matches_prometheus_client_on_positive_bounds(x: float) -> None:
    # prometheus_client renders le the Go way for positive bounds; agreeing
    # with it means series from both clients share one le spelling. From
    # 1e10 on it writes "1e+010" where Go and the spec write "1e+10".
    assert format_bound(x) == floatToGoString(x)


@given(st.floats(allow_nan=False))
def test_format_bound_round_trips(x: float) -> None:
    assert float(format_bound(x)) == x


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("", ""),
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ('\\"\n', '\\\\\\"\\n'),
        ("\\n", "\\\\n"),  # a literal backslash-n is not a newline
        ("tab\tcr\r", "tab\tcr\r"),
        ("ünï©ødé", "ünï©ødé"),
    ],
)
def test_escape_label_value(raw: str, escaped: str) -> None:
    assert escape_label_value(raw) == escaped


def test_help_escaping_differs_between_formats_only_in_quotes() -> None:
    raw = 'a "quoted" \\ path\nsecond line'
    assert escape_help_text(raw) == 'a "quoted" \\\\ path\\nsecond line'
    assert escape_help_openmetrics(raw) == 'a \\"quoted\\" \\\\ path\\nsecond line'


def test_render_labels() -> None:
    assert render_labels(()) == ""
    assert render_labels((("a", "x"),)) == '{a="x"}'
    assert render_labels((("b", 'q"'), ("a", "1"), ("le", "+Inf"))) == '{b="q\\"",a="1",le="+Inf"}'


def test_append_sample_lines_uses_cached_labels_and_formats_values() -> None:
    out: list[str] = []
    append_sample_lines(
        out,
        [
            Sample("a", (("k", "v"),), 1),
            Sample("b", (("k", "v"),), 2.5, rendered_labels='{k="cached"}'),
            Sample("c", (), NAN),
            Sample("d", (), -INF),
            Sample("e", (), True),
        ],
    )
    assert out == ['a{k="v"} 1\n', 'b{k="cached"} 2.5\n', "c NaN\n", "d -Inf\n", "e 1\n"]
