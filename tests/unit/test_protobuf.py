"""The protobuf exposition format: what atomicmetrics.protobuf writes by hand is
decoded by the ``protobuf`` package against Prometheus's metrics.proto
(tests/metrics_proto.py) and must say exactly what the registry holds."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from atomicmetrics import AtomicNativeHistogram, NativeHistogramSnapshot, Registry
from atomicmetrics.protobuf import CONTENT_TYPE_PROTOBUF, generate_protobuf
from atomicmetrics.samples import Exemplar, LabelPairs, MetricFamily, Sample
from tests.helpers import INF, StaticCollector, histogram_samples
from tests.metrics_proto import buckets_of, decode_delimited

TRICKY = 'a"b\\c\nd \u00e9\u4e2d'


def families(collector: Any) -> dict[str, Any]:
    decoded = decode_delimited(generate_protobuf(collector))
    names = [f.name for f in decoded]
    assert len(names) == len(set(names)), names
    return {f.name: f for f in decoded}


def labels_of(metric: Any) -> LabelPairs:
    return tuple((p.name, p.value) for p in metric.label)


def test_content_type() -> None:
    assert CONTENT_TYPE_PROTOBUF == (
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
        "encoding=delimited"
    )


def test_counters_gauges_and_their_labels() -> None:
    reg = Registry()
    jobs = reg.counter("jobs", "Jobs done.", ["queue"])
    jobs.labels(TRICKY).inc(5)
    jobs.labels("plain").inc(2.5)
    reg.counter("events_total", "Events.").inc(2**40)
    temp = reg.gauge("temp_celsius", "", ["sensor"])
    for sensor, v in (("hot", INF), ("odd", math.nan), ("cold", -40.0)):
        temp.labels(sensor).set(v)
    got = families(reg)
    assert list(got) == ["jobs_total", "events_total", "temp_celsius"]
    jobs_f = got["jobs_total"]
    assert (jobs_f.help, jobs_f.type) == ("Jobs done.", 0)  # COUNTER
    assert {labels_of(m): m.counter.value for m in jobs_f.metric} == {
        (("queue", TRICKY),): 5.0,
        (("queue", "plain"),): 2.5,
    }
    assert got["events_total"].metric[0].counter.value == 2.0**40
    temps = got["temp_celsius"]
    assert temps.type == 1  # GAUGE
    assert not temps.HasField("help")  # empty help: left out
    values = {labels_of(m)[0][1]: m.gauge.value for m in temps.metric}
    assert values["hot"] == INF
    assert math.isnan(values["odd"])
    assert values["cold"] == -40.0


def test_classic_histograms() -> None:
    reg = Registry()
    h = reg.histogram("latency_seconds", "Latency.", ["m"], buckets=[0.1, 1.0])
    for v in (0.05, 0.5, 0.5, 7.0):
        h.labels("GET").observe(v)
    reg.histogram("idle_seconds", "Never observed.")
    got = families(reg)
    lat = got["latency_seconds"]
    assert lat.type == 4  # HISTOGRAM
    (metric,) = lat.metric
    assert labels_of(metric) == (("m", "GET"),)
    hist = metric.histogram
    assert (hist.sample_count, hist.sample_sum) == (4, 8.05)
    # The +Inf bucket is left out: it is sample_count.
    assert [(b.upper_bound, b.cumulative_count) for b in hist.bucket] == [(0.1, 1), (1.0, 3)]
    assert not hist.HasField("schema")
    assert not hist.positive_span
    assert got["idle_seconds"].metric[0].histogram.sample_count == 0


def test_untyped_families_and_float_counts() -> None:
    collector = StaticCollector(
        [
            MetricFamily(
                "odd",
                "unknown",
                "Odd.",
                (Sample("odd", (), 1.5), Sample("odd_extra", (("k", "v"),), 2)),
            ),
            MetricFamily(
                "weighted",
                "histogram",
                "Float counts.",
                tuple(histogram_samples("weighted", (), (1.0,), [0.5, 1.25], 3.0)),
            ),
            MetricFamily("empty", "counter", "No samples.", ()),
        ]
    )
    got = families(collector)
    assert list(got) == ["odd", "odd_extra", "weighted"]  # an empty family is left out
    assert got["odd"].type == got["odd_extra"].type == 3  # UNTYPED
    assert got["odd"].metric[0].untyped.value == 1.5
    assert labels_of(got["odd_extra"].metric[0]) == (("k", "v"),)
    hist = got["weighted"].metric[0].histogram
    assert hist.sample_count_float == 1.75
    assert hist.bucket[0].cumulative_count_float == 0.5


def test_exemplars_of_counters_and_buckets() -> None:
    ex = Exemplar((("trace_id", "abc"),), 0.5, 1700000000.25)
    bucket_ex = Exemplar((("trace_id", "def"), ("span", "1")), 7.0, None)
    samples = histogram_samples("h", (), (1.0,), [1, 1], 7.5)
    samples[0] = samples[0]._replace(exemplar=ex)
    samples[1] = samples[1]._replace(exemplar=bucket_ex)  # the +Inf bucket
    collector = StaticCollector(
        [
            MetricFamily("c", "counter", "", (Sample("c_total", (), 3, None, ex),)),
            MetricFamily("h", "histogram", "", tuple(samples)),
        ]
    )
    got = families(collector)
    cex = got["c_total"].metric[0].counter.exemplar
    assert labels_of(cex) == (("trace_id", "abc"),)
    assert cex.value == 0.5
    assert (cex.timestamp.seconds, cex.timestamp.nanos) == (1700000000, 250_000_000)
    hist = got["h"].metric[0].histogram
    assert labels_of(hist.bucket[0].exemplar) == (("trace_id", "abc"),)
    (inf_ex,) = hist.exemplars
    assert labels_of(inf_ex) == (("trace_id", "def"), ("span", "1"))
    assert not inf_ex.HasField("timestamp")


def native_family(
    snaps: dict[LabelPairs, NativeHistogramSnapshot], classic: bool = False
) -> StaticCollector:
    samples: list[Sample] = []
    for labels, s in snaps.items():
        buckets = [s.count] if not classic else [0, s.count]
        le = () if not classic else (1e9,)
        samples += histogram_samples("n", labels, le, buckets, s.sum)
    return StaticCollector([MetricFamily("n", "histogram", "Native.", tuple(samples), snaps)])


def check_native(hist: Any, s: NativeHistogramSnapshot) -> None:
    assert hist.schema == s.schema
    assert hist.zero_threshold == s.zero_threshold
    assert hist.zero_count == s.zero_count
    assert hist.sample_count == s.count
    assert hist.sample_sum == s.sum or (math.isnan(hist.sample_sum) and math.isnan(s.sum))
    assert buckets_of(hist.positive_span, hist.positive_delta) == s.positive
    assert buckets_of(hist.negative_span, hist.negative_delta) == s.negative


@settings(max_examples=200)
@given(
    st.integers(-4, 8),
    st.lists(
        st.one_of(
            st.floats(allow_nan=False),
            st.integers(-50, 50).map(lambda k: 1.09**k),  # neighbouring buckets, gaps
            st.integers(-50, 50).map(lambda k: -(1.09**k)),
        ),
        max_size=200,
    ),
)
def test_native_histograms_round_trip(schema: int, values: list[float]) -> None:
    h = AtomicNativeHistogram(schema=schema, max_buckets=40)
    for v in values:
        h.observe(v)
    s = h.snapshot()
    (metric,) = families(native_family({(("k", "v"),): s}))["n"].metric
    assert labels_of(metric) == (("k", "v"),)
    check_native(metric.histogram, s)
    assert not metric.histogram.bucket  # native only: no classic buckets


def test_small_gaps_stay_inside_a_span_and_larger_ones_start_one() -> None:
    buckets = {-3: 1, -1: 2, 2: 5, 6: 1}  # gaps of 1, 2 and 3 empty buckets
    s = NativeHistogramSnapshot(3, 0.0, 0, 9, 9.0, buckets, {})
    hist = families(native_family({(): s}))["n"].metric[0].histogram
    assert [(sp.offset, sp.length) for sp in hist.positive_span] == [(-3, 6), (3, 1)]
    assert list(hist.positive_delta) == [1, -1, 2, -2, 0, 5, -4]
    check_native(hist, s)


def test_an_empty_native_histogram_is_still_native() -> None:
    for zt, spans in ((2.0**-128, 0), (0.0, 1)):
        s = AtomicNativeHistogram(zero_threshold=zt).snapshot()
        hist = families(native_family({(): s}))["n"].metric[0].histogram
        check_native(hist, s)
        assert hist.HasField("schema")
        # Prometheus reads a histogram as native when it has a span, a zero
        # threshold or a zero count: with neither, one empty span says so.
        assert len(hist.positive_span) == spans


def test_classic_and_native_side_by_side_count_from_the_native_reading() -> None:
    h = AtomicNativeHistogram()
    for v in (0.5, 2.0, 3.0):
        h.observe(v)
    s = h.snapshot()
    collector = native_family({(): s}, classic=True)
    hist = families(collector)["n"].metric[0].histogram
    check_native(hist, s)
    assert [(b.upper_bound, b.cumulative_count) for b in hist.bucket] == [(1e9, 0)]


def test_delimited_stream_of_many_families() -> None:
    reg = Registry()
    for i in range(300):  # some families longer than 127 bytes: 2-byte lengths
        reg.counter(f"c{i}", "x" * (i % 200)).inc(i)
    got = families(reg)
    assert len(got) == 300
    assert got["c299_total"].metric[0].counter.value == 299
