"""generate_text and generate_openmetrics: golden bytes, real parsers, promtool."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from atomicmetrics import generate_openmetrics, generate_text
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import StaticCollector, histogram_samples, promtool_check

INF = float("inf")
NAN = float("nan")

TRICKY = 'a"b\\c\nd'  # a quote, a backslash and a newline in one label value
BOUNDS = (0.005, 0.1, 1.0, 1e6)


def sample_families() -> StaticCollector:
    """One family of each kind, with every escaping and value edge case."""
    return StaticCollector(
        [
            MetricFamily(
                "http_requests",
                "counter",
                'Requests \\ served\nby "path".',
                (
                    Sample("http_requests_total", (("path", TRICKY), ("code", "200")), 3),
                    Sample("http_requests_total", (("path", "/x"), ("code", "500")), 1.5),
                ),
            ),
            MetricFamily(
                "temperature_celsius",
                "gauge",
                "Current temperature.",
                (
                    Sample("temperature_celsius", (("sensor", "nan"),), NAN),
                    Sample("temperature_celsius", (("sensor", "hot"),), INF),
                    Sample("temperature_celsius", (("sensor", "cold"),), -INF),
                    Sample("temperature_celsius", (("sensor", "big"),), 2**63 - 1),
                ),
            ),
            MetricFamily("queue_depth", "gauge", "Nothing recorded yet.", ()),
            MetricFamily(
                "latency_seconds",
                "histogram",
                "Request latency.",
                tuple(
                    histogram_samples(
                        "latency_seconds", (("m", "GET"),), BOUNDS, [1, 2, 0, 0, 1], 3.25
                    )
                ),
            ),
            MetricFamily("build", "unknown", "Build number.", (Sample("build", (), 7),)),
        ]
    )


GOLDEN_TEXT = b"""\
# HELP http_requests_total Requests \\\\ served\\nby "path".
# TYPE http_requests_total counter
http_requests_total{path="a\\"b\\\\c\\nd",code="200"} 3
http_requests_total{path="/x",code="500"} 1.5
# HELP temperature_celsius Current temperature.
# TYPE temperature_celsius gauge
temperature_celsius{sensor="nan"} NaN
temperature_celsius{sensor="hot"} +Inf
temperature_celsius{sensor="cold"} -Inf
temperature_celsius{sensor="big"} 9223372036854775807
# HELP queue_depth Nothing recorded yet.
# TYPE queue_depth gauge
# HELP latency_seconds Request latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{m="GET",le="0.005"} 1
latency_seconds_bucket{m="GET",le="0.1"} 3
latency_seconds_bucket{m="GET",le="1.0"} 3
latency_seconds_bucket{m="GET",le="1e+06"} 3
latency_seconds_bucket{m="GET",le="+Inf"} 4
latency_seconds_count{m="GET"} 4
latency_seconds_sum{m="GET"} 3.25
# HELP build Build number.
# TYPE build untyped
build 7
"""

GOLDEN_OPENMETRICS = b"""\
# TYPE http_requests counter
# HELP http_requests Requests \\\\ served\\nby \\"path\\".
http_requests_total{path="a\\"b\\\\c\\nd",code="200"} 3
http_requests_total{path="/x",code="500"} 1.5
# TYPE temperature_celsius gauge
# HELP temperature_celsius Current temperature.
temperature_celsius{sensor="nan"} NaN
temperature_celsius{sensor="hot"} +Inf
temperature_celsius{sensor="cold"} -Inf
temperature_celsius{sensor="big"} 9223372036854775807
# TYPE queue_depth gauge
# HELP queue_depth Nothing recorded yet.
# TYPE latency_seconds histogram
# HELP latency_seconds Request latency.
latency_seconds_bucket{m="GET",le="0.005"} 1
latency_seconds_bucket{m="GET",le="0.1"} 3
latency_seconds_bucket{m="GET",le="1.0"} 3
latency_seconds_bucket{m="GET",le="1e+06"} 3
latency_seconds_bucket{m="GET",le="+Inf"} 4
latency_seconds_count{m="GET"} 4
latency_seconds_sum{m="GET"} 3.25
# TYPE build unknown
# HELP build Build number.
build 7
# EOF
"""


def test_text_golden() -> None:
    assert generate_text(sample_families()) == GOLDEN_TEXT


def test_openmetrics_golden() -> None:
    assert generate_openmetrics(sample_families()) == GOLDEN_OPENMETRICS


def test_empty_collector() -> None:
    assert generate_text(StaticCollector([])) == b""
    assert generate_openmetrics(StaticCollector([])) == b"# EOF\n"


def test_empty_help_writes_no_help_line() -> None:
    fam = MetricFamily("g", "gauge", "", (Sample("g", (), 1),))
    assert generate_text(StaticCollector([fam])) == b"# TYPE g gauge\ng 1\n"
    assert generate_openmetrics(StaticCollector([fam])) == b"# TYPE g gauge\ng 1\n# EOF\n"


def test_cached_rendered_labels_are_used_verbatim() -> None:
    fam = MetricFamily(
        "g", "gauge", "h", (Sample("g", (("a", "x"),), 1, rendered_labels='{a="x"}'),)
    )
    assert generate_text(StaticCollector([fam])).endswith(b'g{a="x"} 1\n')


Key = tuple[str, tuple[tuple[str, str], ...]]


def _values(families: list[object]) -> dict[Key, float]:
    out = {}
    for fam in families:
        for s in fam.samples:  # type: ignore[attr-defined]
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _expected_values(
    collector: StaticCollector,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels))): s.value
        for fam in collector.collect()
        for s in fam.samples
    }


def _same(a: float, b: float) -> bool:
    # The 0.0.4 parser reads every value as a float.
    return (math.isnan(a) and math.isnan(b)) or float(a) == float(b)


def test_text_round_trips_through_prometheus_client_parser() -> None:
    collector = sample_families()
    families = list(parse_text(generate_text(collector).decode()))
    assert [(f.name, f.type, f.documentation) for f in families] == [
        ("http_requests", "counter", 'Requests \\ served\nby "path".'),
        ("temperature_celsius", "gauge", "Current temperature."),
        ("queue_depth", "gauge", "Nothing recorded yet."),
        ("latency_seconds", "histogram", "Request latency."),
        ("build", "unknown", "Build number."),
    ]
    got, want = _values(families), _expected_values(collector)  # type: ignore[arg-type]
    assert got.keys() == want.keys()
    assert all(_same(got[k], want[k]) for k in want)
    assert ("http_requests_total", (("code", "200"), ("path", TRICKY))) in got


def test_openmetrics_round_trips_through_prometheus_client_parser() -> None:
    collector = sample_families()
    families = list(parse_openmetrics(generate_openmetrics(collector).decode()))
    assert [(f.name, f.type, f.documentation) for f in families] == [
        ("http_requests", "counter", 'Requests \\ served\nby "path".'),
        ("temperature_celsius", "gauge", "Current temperature."),
        ("queue_depth", "gauge", "Nothing recorded yet."),
        ("latency_seconds", "histogram", "Request latency."),
        ("build", "unknown", "Build number."),
    ]
    got, want = _values(families), _expected_values(collector)  # type: ignore[arg-type]
    assert got.keys() == want.keys()
    assert all(_same(got[k], want[k]) for k in want)


def test_text_passes_promtool() -> None:
    result = promtool_check(generate_text(sample_families()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_really_checks() -> None:
    # The check above means something only if promtool rejects bad input.
    result = promtool_check(b'bad_metric{le="1" 1\n')
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("per_bucket", "total", "bounds"),
    [
        ([1, 0, 0, 0, 0], -2.0, BOUNDS),  # negative sum
        ([1, 0, 0, 0, 0], -INF, BOUNDS),  # -Inf observed
        ([1, 0, 0, 0, 1], NAN, BOUNDS),  # +Inf and -Inf observed
        ([1, 0, 0], 3.0, (-1.0, 5.0)),  # a negative bound
    ],
)
def test_openmetrics_drops_sum_and_count_where_the_format_forbids_them(
    per_bucket: list[int], total: float, bounds: tuple[float, ...]
) -> None:
    fine = histogram_samples("h", (("k", "fine"),), bounds, [0] * len(per_bucket), 0.5)
    bad = histogram_samples("h", (("k", "bad"),), bounds, per_bucket, total)
    collector = StaticCollector([MetricFamily("h", "histogram", "help", (*fine, *bad))])
    om = generate_openmetrics(collector).decode()
    assert 'h_sum{k="bad"}' not in om
    assert 'h_count{k="bad"}' not in om
    assert f'h_bucket{{k="bad",le="+Inf"}} {sum(per_bucket)}' in om
    negative_bound = bounds[0] < 0
    assert ('h_sum{k="fine"}' in om) is not negative_bound
    assert ('h_count{k="fine"}' in om) is not negative_bound
    list(parse_openmetrics(om))  # valid OpenMetrics
    # The 0.0.4 format has no such rule and keeps everything.
    text = generate_text(collector).decode()
    assert 'h_sum{k="bad"}' in text
    assert 'h_count{k="bad"}' in text


def test_openmetrics_finds_le_wherever_a_collector_put_it() -> None:
    samples = [
        Sample("h_bucket", (("le", "-1.0"), ("k", "x")), 1),
        Sample("h_bucket", (("le", "+Inf"), ("k", "x")), 1),
        Sample("h_count", (("k", "x"),), 1),
        Sample("h_sum", (("k", "x"),), 2.0),
    ]
    om = generate_openmetrics(
        StaticCollector([MetricFamily("h", "histogram", "h", tuple(samples))])
    )
    assert b"h_sum" not in om
    assert b"h_count" not in om


def test_non_number_value_raises_type_error() -> None:
    fam = MetricFamily("g", "gauge", "h", (Sample("g", (), "1"),))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        generate_text(StaticCollector([fam]))
    with pytest.raises(TypeError):
        generate_openmetrics(StaticCollector([fam]))


LABEL_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(value=LABEL_TEXT, help_text=LABEL_TEXT)
def test_any_label_value_and_help_survive_both_parsers(value: str, help_text: str) -> None:
    fam = MetricFamily("g", "gauge", help_text, (Sample("g", (("k", value),), 1),))
    collector = StaticCollector([fam])
    (text_fam,) = parse_text(generate_text(collector).decode())
    (om_fam,) = parse_openmetrics(generate_openmetrics(collector).decode())
    for parsed in (text_fam, om_fam):
        assert parsed.samples[0].labels == {"k": value}
    assert om_fam.documentation == help_text
    # prometheus_client's 0.0.4 parser strips whitespace around the raw HELP
    # text, so only text without it can survive unchanged there.
    if help_text == help_text.strip():
        assert text_fam.documentation == help_text
