"""Prometheus's protobuf exposition format, written without a protobuf library.

``generate_protobuf`` renders every family a collector yields as a stream of
``io.prometheus.client.MetricFamily`` messages (Prometheus's
``prometheus/client_model`` ``metrics.proto``, proto2), each preceded by its
length as a varint: the ``encoding=delimited`` body Prometheus asks for with
``application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily``.
It is the one format that carries native histograms.

What each family type becomes (field numbers are metrics.proto's):

* counter -> ``COUNTER``, named ``<n>_total`` like its samples in the text
  formats (so Prometheus stores the same series whichever format it
  scraped), one ``Metric.counter.value`` per label set, with the latest
  exemplar when the sample has one;
* gauge -> ``GAUGE``; unknown -> ``UNTYPED``, one family per sample name;
* histogram -> ``HISTOGRAM``, one ``Metric`` per label set (the labels
  without ``le``): the finite classic buckets (cumulative, with their
  exemplars), ``sample_count`` and ``sample_sum``; and for a child that
  keeps a native histogram (``MetricFamily.native``) its schema, zero
  threshold and count, and both spans as spans + deltas, with
  ``sample_count``/``sample_sum`` taken from the native reading so that the
  native buckets always add up (the classic reading is taken first, so its
  cumulative counts never exceed that count). The ``+Inf`` bucket is left
  out, as client_golang does: it is ``sample_count``.

Encoding choices: repeated numbers are packed, gaps of one or two empty
native buckets are sent as zero deltas inside a span (as client_golang
does), and an empty native histogram with a zero threshold of 0 gets one
empty span so that Prometheus reads it as native.

Read-side only: collecting may allocate; recording threads are never blocked.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

from atomicmetrics.atomic_native_histogram import NativeHistogramSnapshot
from atomicmetrics.registry import REGISTRY
from atomicmetrics.samples import Collector, Exemplar, LabelPairs, MetricFamily, Sample

__all__ = ["CONTENT_TYPE_PROTOBUF", "generate_protobuf"]

CONTENT_TYPE_PROTOBUF = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
"""The ``Content-Type`` of :func:`generate_protobuf`'s output."""

# metrics.proto's MetricType enum.
_COUNTER, _GAUGE, _UNTYPED, _HISTOGRAM = 0, 1, 3, 4

_double = struct.Struct("<d").pack
_SMALL = [bytes([i]) for i in range(128)]  # varints below 128 are one byte


def _varint(n: int) -> bytes:
    """Base-128 varint of an unsigned value (negative int64 as its 2**64 complement)."""
    if 0 <= n < 128:
        return _SMALL[n]
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> int:
    """sint32/sint64 encoding: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ..."""
    return n << 1 if n >= 0 else (-n << 1) - 1


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _bytes_field(field: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes or embedded message)."""
    return _tag(field, 2) + _varint(len(payload)) + payload


def _string_field(field: int, text: str) -> bytes:
    # Lone surrogates (a custom collector's) are escaped, not fatal, as in the
    # text formats.
    return _bytes_field(field, text.encode("utf-8", "backslashreplace"))


def _double_field(field: int, value: float) -> bytes:
    return _tag(field, 1) + _double(value)


def _count_field(field: int, float_field: int, value: float) -> bytes:
    """A count: uint64 ``field`` for an int, the ``*_float`` twin for a float."""
    if isinstance(value, int) and value >= 0:
        return _tag(field, 0) + _varint(value)
    return _double_field(float_field, float(value))


def _labels(labels: LabelPairs) -> bytes:
    """Repeated ``LabelPair`` (field 1 of Metric and of Exemplar)."""
    return b"".join(
        _bytes_field(1, _string_field(1, name) + _string_field(2, value)) for name, value in labels
    )


# Encoded label pairs of the series scraped lately, keyed by the rendered
# text a family caches in Sample.rendered_labels (a str whose hash Python
# keeps), else by the pairs themselves: a scrape of 1,000 counters spent
# three quarters of its time encoding labels without it. Emptied when it
# reaches _CACHE_MAX entries, so series that come and go cannot grow it.
_label_cache: dict[object, bytes] = {}
_CACHE_MAX = 100_000


def _cached_labels(labels: LabelPairs, key: object) -> bytes:
    encoded = _label_cache.get(key)
    if encoded is None:
        encoded = _labels(labels)
        if len(_label_cache) >= _CACHE_MAX:
            _label_cache.clear()
        _label_cache[key] = encoded
    return encoded


def _exemplar(field: int, ex: Exemplar | None) -> bytes:
    """``Exemplar`` message field: labels, value, timestamp."""
    if ex is None:
        return b""
    body = _labels(ex.labels) + _double_field(2, ex.value)
    if ex.timestamp is not None:
        seconds = int(ex.timestamp // 1)
        nanos = round((ex.timestamp - seconds) * 1e9)
        if nanos >= 1_000_000_000:
            seconds, nanos = seconds + 1, nanos - 1_000_000_000
        stamp = _tag(1, 0) + _varint(seconds)
        if nanos:
            stamp += _tag(2, 0) + _varint(nanos)
        body += _bytes_field(3, stamp)
    return _bytes_field(field, body)


def _family(name: str, help_text: str, kind: int, metrics: Iterable[bytes]) -> bytes:
    """One length-prefixed ``MetricFamily``; ``metrics`` are ``Metric`` fields
    already framed (tag 4 and length included)."""
    parts = [_string_field(1, name)]
    if help_text:
        parts.append(_string_field(2, help_text))
    parts.append(_tag(3, 0) + _varint(kind))
    parts += metrics
    body = b"".join(parts)
    return _varint(len(body)) + body


def _metric_field(metric: bytes) -> bytes:
    """``metric`` framed as field 4 of MetricFamily."""
    return b"\x22" + _varint(len(metric)) + metric


# Field `field` of Metric holding a message whose only field is `double
# value = 1`: tag, length 9, then the value's tag (its 8 bytes follow).
_VALUE_PREFIX = {f: _tag(f, 2) + b"\x09" + _tag(1, 1) for f in (2, 3, 5)}
# Per value field: everything of a framed Metric but the value's 8 bytes,
# by series (same keys and bound as _label_cache).
_value_heads: dict[int, dict[object, bytes]] = {f: {} for f in _VALUE_PREFIX}


def _value_metrics(samples: Iterable[Sample], field: int) -> Iterable[bytes]:
    """One framed ``Metric`` per sample, its value in the ``field`` message
    (counter 3, gauge 2 or untyped 5: each has ``double value = 1``; a
    counter's exemplar is field 2)."""
    prefix, heads = _VALUE_PREFIX[field], _value_heads[field]
    double = _double
    for _name, labels, value, text, ex in samples:
        key = labels if text is None else text
        if ex is None:
            head = heads.get(key)
            if head is None:
                encoded = _cached_labels(labels, key)
                head = b"\x22" + _varint(len(encoded) + 11) + encoded + prefix
                if len(heads) >= _CACHE_MAX:
                    heads.clear()
                heads[key] = head
            yield head + double(float(value))
        else:
            inner = _double_field(1, float(value)) + _exemplar(2, ex)
            yield _metric_field(_cached_labels(labels, key) + _bytes_field(field, inner))


def _spans_and_deltas(buckets: Mapping[int, int]) -> tuple[list[bytes], bytes]:
    """The ``BucketSpan`` messages and the packed deltas of one span (positive
    or negative) of a native histogram; ``buckets`` sorted by index."""
    spans: list[list[int]] = []  # [offset, length]
    deltas: list[int] = []
    prev_index = prev_count = 0
    for index, count in buckets.items():
        gap = index - prev_index - 1
        if spans and gap <= 2:  # one or two empty buckets: zero deltas, same span
            for _ in range(gap):
                deltas.append(-prev_count)
                prev_count = 0
            spans[-1][1] += gap + 1
        else:
            spans.append([index if not spans else gap, 1])
        deltas.append(count - prev_count)
        prev_index, prev_count = index, count
    messages = [
        _tag(1, 0) + _varint(_zigzag(offset)) + _tag(2, 0) + _varint(length)
        for offset, length in spans
    ]
    return messages, b"".join(_varint(_zigzag(d)) for d in deltas)


def _native_fields(native: NativeHistogramSnapshot) -> bytes:
    """The native-histogram fields of ``Histogram`` (5-13) for a snapshot."""
    out = bytearray(_tag(5, 0) + _varint(_zigzag(native.schema)))
    out += _double_field(6, native.zero_threshold)
    out += _tag(7, 0) + _varint(native.zero_count)
    for span_field, delta_field, buckets in (
        (9, 10, native.negative),
        (12, 13, native.positive),
    ):
        spans, deltas = _spans_and_deltas(buckets)
        for span in spans:
            out += _bytes_field(span_field, span)
        if deltas:
            out += _bytes_field(delta_field, deltas)
    if not native.positive and not native.negative and native.zero_threshold == 0:
        out += _bytes_field(12, b"")  # an empty span: "this is a native histogram"
    return bytes(out)


def _histogram_metrics(family: MetricFamily) -> Iterable[bytes]:
    """One ``Metric`` per child of a histogram family (labels without ``le``)."""
    bucket_name, count_name, sum_name = (family.name + s for s in ("_bucket", "_count", "_sum"))
    children: dict[LabelPairs, dict[str, Any]] = {}
    for s in family.samples:
        if s.name == bucket_name:
            labels = s.labels
            if labels and labels[-1][0] == "le":
                le, rest = labels[-1][1], labels[:-1]
            else:  # a collector that did not put le last
                le = dict(labels).get("le", "+Inf")
                rest = tuple(p for p in labels if p[0] != "le")
            child = children.setdefault(rest, {"buckets": []})
            if le == "+Inf":
                child["inf"] = s.value
                child["inf_exemplar"] = s.exemplar
            else:
                child["buckets"].append((float(le), s.value, s.exemplar))
        elif s.name == count_name:
            child = children.setdefault(s.labels, {"buckets": []})
            child["count"] = s.value
            child["key"] = s.rendered_labels  # the child's labels, rendered and cached
        elif s.name == sum_name:
            children.setdefault(s.labels, {"buckets": []})["sum"] = s.value
    natives = family.native
    for labels in natives:
        children.setdefault(labels, {"buckets": []})
    for labels, child in children.items():
        native = natives.get(labels)
        body = bytearray()
        if native is not None:
            body += _tag(1, 0) + _varint(native.count) + _double_field(2, native.sum)
        else:
            count = child.get("count", child.get("inf", 0))
            body += _count_field(1, 4, count) + _double_field(2, float(child.get("sum", 0.0)))
        for bound, cumulative, ex in child["buckets"]:
            bucket = _count_field(1, 4, cumulative) + _double_field(2, bound) + _exemplar(3, ex)
            body += _bytes_field(3, bucket)
        if native is not None:
            body += _native_fields(native)
        if child.get("inf_exemplar") is not None:  # the +Inf bucket's exemplar
            body += _exemplar(16, child["inf_exemplar"])
        key = child.get("key")
        encoded = _cached_labels(labels, labels if key is None else key)
        yield _metric_field(encoded + _bytes_field(7, bytes(body)))


def generate_protobuf(registry: Collector = REGISTRY) -> bytes:
    """Render ``registry`` as length-delimited ``io.prometheus.client.MetricFamily`` messages.

    ``registry`` is anything with ``collect()`` yielding ``MetricFamily``
    objects (see the module docstring for what each type becomes). Thread-
    safety, cost and what is not checked are as for
    :func:`atomicmetrics.generate_text`; a family with no samples and no
    native histograms is left out (an empty ``MetricFamily`` is invalid).
    """
    out: list[bytes] = []
    for family in registry.collect():
        kind = family.type
        if kind == "histogram":
            metrics = list(_histogram_metrics(family))
            if metrics:
                out.append(_family(family.name, family.help, _HISTOGRAM, metrics))
        elif kind == "counter":
            total = family.name + "_total"
            samples = [s for s in family.samples if s.name == total]
            if samples:
                out.append(_family(total, family.help, _COUNTER, _value_metrics(samples, 3)))
        elif kind == "gauge":
            if family.samples:
                gauges = _value_metrics(family.samples, 2)
                out.append(_family(family.name, family.help, _GAUGE, gauges))
        else:
            by_name: dict[str, list[Sample]] = {}
            for s in family.samples:
                by_name.setdefault(s.name, []).append(s)
            for name, samples in by_name.items():
                out.append(_family(name, family.help, _UNTYPED, _value_metrics(samples, 5)))
    return b"".join(out)
