"""Prometheus's ``metrics.proto`` (prometheus/client_model, package
``io.prometheus.client``, proto2) as a descriptor built in code, and a decoder
of the length-delimited stream our protobuf exposition writes.

Test-only: the ``protobuf`` package decodes what ``atomicmetrics.protobuf``
encodes by hand, so the two can only agree if the encoding is right. Field
numbers and types are copied from client_model's metrics.proto.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.internal.decoder import _DecodeVarint  # type: ignore[attr-defined]

F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
STRING, DOUBLE, UINT64, INT64 = F.TYPE_STRING, F.TYPE_DOUBLE, F.TYPE_UINT64, F.TYPE_INT64
UINT32, SINT32, SINT64, MESSAGE, ENUM = (
    F.TYPE_UINT32,
    F.TYPE_SINT32,
    F.TYPE_SINT64,
    F.TYPE_MESSAGE,
    F.TYPE_ENUM,
)
P = ".io.prometheus.client."
TS = ".google.protobuf.Timestamp"

# message -> [(field name, number, label, type, type name)]
MESSAGES: dict[str, list[tuple[str, int, int, int, str]]] = {
    "LabelPair": [("name", 1, OPT, STRING, ""), ("value", 2, OPT, STRING, "")],
    "Gauge": [("value", 1, OPT, DOUBLE, "")],
    "Counter": [
        ("value", 1, OPT, DOUBLE, ""),
        ("exemplar", 2, OPT, MESSAGE, P + "Exemplar"),
        ("created_timestamp", 3, OPT, MESSAGE, TS),
    ],
    "Quantile": [("quantile", 1, OPT, DOUBLE, ""), ("value", 2, OPT, DOUBLE, "")],
    "Summary": [
        ("sample_count", 1, OPT, UINT64, ""),
        ("sample_sum", 2, OPT, DOUBLE, ""),
        ("quantile", 3, REP, MESSAGE, P + "Quantile"),
        ("created_timestamp", 4, OPT, MESSAGE, TS),
    ],
    "Untyped": [("value", 1, OPT, DOUBLE, "")],
    "Histogram": [
        ("sample_count", 1, OPT, UINT64, ""),
        ("sample_count_float", 4, OPT, DOUBLE, ""),
        ("sample_sum", 2, OPT, DOUBLE, ""),
        ("bucket", 3, REP, MESSAGE, P + "Bucket"),
        ("created_timestamp", 15, OPT, MESSAGE, TS),
        ("schema", 5, OPT, SINT32, ""),
        ("zero_threshold", 6, OPT, DOUBLE, ""),
        ("zero_count", 7, OPT, UINT64, ""),
        ("zero_count_float", 8, OPT, DOUBLE, ""),
        ("negative_span", 9, REP, MESSAGE, P + "BucketSpan"),
        ("negative_delta", 10, REP, SINT64, ""),
        ("negative_count", 11, REP, DOUBLE, ""),
        ("positive_span", 12, REP, MESSAGE, P + "BucketSpan"),
        ("positive_delta", 13, REP, SINT64, ""),
        ("positive_count", 14, REP, DOUBLE, ""),
        ("exemplars", 16, REP, MESSAGE, P + "Exemplar"),
    ],
    "Bucket": [
        ("cumulative_count", 1, OPT, UINT64, ""),
        ("cumulative_count_float", 4, OPT, DOUBLE, ""),
        ("upper_bound", 2, OPT, DOUBLE, ""),
        ("exemplar", 3, OPT, MESSAGE, P + "Exemplar"),
    ],
    "BucketSpan": [("offset", 1, OPT, SINT32, ""), ("length", 2, OPT, UINT32, "")],
    "Exemplar": [
        ("label", 1, REP, MESSAGE, P + "LabelPair"),
        ("value", 2, OPT, DOUBLE, ""),
        ("timestamp", 3, OPT, MESSAGE, TS),
    ],
    "Metric": [
        ("label", 1, REP, MESSAGE, P + "LabelPair"),
        ("gauge", 2, OPT, MESSAGE, P + "Gauge"),
        ("counter", 3, OPT, MESSAGE, P + "Counter"),
        ("summary", 4, OPT, MESSAGE, P + "Summary"),
        ("untyped", 5, OPT, MESSAGE, P + "Untyped"),
        ("histogram", 7, OPT, MESSAGE, P + "Histogram"),
        ("timestamp_ms", 6, OPT, INT64, ""),
    ],
    "MetricFamily": [
        ("name", 1, OPT, STRING, ""),
        ("help", 2, OPT, STRING, ""),
        ("type", 3, OPT, ENUM, P + "MetricType"),
        ("metric", 4, REP, MESSAGE, P + "Metric"),
        ("unit", 5, OPT, STRING, ""),
    ],
}
METRIC_TYPES = ("COUNTER", "GAUGE", "SUMMARY", "UNTYPED", "HISTOGRAM", "GAUGE_HISTOGRAM")


def _metric_family_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    fd = descriptor_pb2.FileDescriptorProto(
        name="io/prometheus/client/metrics.proto",
        package="io.prometheus.client",
        syntax="proto2",
        dependency=["google/protobuf/timestamp.proto"],
    )
    enum = fd.enum_type.add(name="MetricType")
    for number, name in enumerate(METRIC_TYPES):
        enum.value.add(name=name, number=number)
    for message, fields in MESSAGES.items():
        m = fd.message_type.add(name=message)
        for name, number, label, kind, type_name in fields:
            f = m.field.add(name=name, number=number, label=label, type=kind)
            if type_name:
                f.type_name = type_name
    pool.Add(fd)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("io.prometheus.client.MetricFamily")
    )


MetricFamilyMessage = _metric_family_class()


def decode_delimited(body: bytes) -> list[Any]:
    """The ``MetricFamily`` messages of a varint-length-delimited stream;
    asserts that every byte belongs to a message."""
    out = []
    pos = 0
    while pos < len(body):
        size, pos = _DecodeVarint(body, pos)
        message = MetricFamilyMessage()
        message.ParseFromString(body[pos : pos + size])
        out.append(message)
        pos += size
    assert pos == len(body)
    return out


def buckets_of(spans: Any, deltas: Any) -> dict[int, int]:
    """One span of a native histogram (positive or negative) as {index:
    count} of its non-empty buckets, decoded from spans and deltas: the
    first span starts at its offset, each later one ``offset`` buckets after
    the previous one ends; each delta is the count minus the previous
    bucket's."""
    out: dict[int, int] = {}
    index = count = 0
    d = iter(deltas)
    for n, span in enumerate(spans):
        index = span.offset if n == 0 else index + span.offset
        for _ in range(span.length):
            count += next(d)
            if count:
                out[index] = count
            index += 1
    assert next(d, None) is None, "more deltas than buckets in the spans"
    return out
