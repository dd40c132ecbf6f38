"""prometheus_client.openmetrics.parser: read and check OpenMetrics 1.0 text.

Unlike the 0.0.4 parser this one is strict: it follows the OpenMetrics ABNF
(single spaces between tokens, ``# EOF`` last, no blank lines, metadata
before samples, no trailing commas) and the format's semantic rules, raising
``ValueError`` with the offending line for anything else:

* names and label names valid, no duplicate label, exemplars (at most 128
  characters of labels) only on counter ``_total`` and histogram /
  gauge histogram ``_bucket`` samples;
* numbers as Go's ``ParseFloat`` reads them (no ``_``, no hex or binary),
  timestamps finite; a timestamp ``a.b`` keeps nanoseconds (``Timestamp``),
  an integer one is a ``Timestamp`` too, an exponent form a float;
* per type: counter-like samples neither NaN nor negative, bucket and count
  values integral, ``le`` present and canonical (``+Inf``), quantiles in
  [0, 1], state set values 0/1 with the family's label, info values 1,
  histograms with ``+Inf`` last, buckets and their counts ascending,
  ``_count`` with ``_sum`` and equal to the ``+Inf`` bucket, no ``_sum``
  with negative buckets; a unit that the family name ends with;
* grouping: a label set's samples together, timestamps never going back
  within one, families' names never clashing with each other's samples.

A sample repeated with a timestamp equal after truncation to nanoseconds is
kept once. Pure; thread-safe.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from typing import Any

from atomicmetrics.prometheus_client.metrics_core import (
    METRIC_LABEL_NAME_RE,
    METRIC_NAME_RE,
    Metric,
)
from atomicmetrics.prometheus_client.parser import unescape
from atomicmetrics.prometheus_client.samples import Exemplar, Sample, Timestamp
from atomicmetrics.prometheus_client.utils import floatToGoString

__all__ = ["text_fd_to_metric_families", "text_string_to_metric_families"]

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "histogram": ("_count", "_sum", "_bucket", "_created"),
    "gaugehistogram": ("_gcount", "_gsum", "_bucket"),
    "info": ("_info",),
}
_COUNTER_LIKE = ("_total", "_sum", "_count", "_bucket", "_gcount", "_gsum")
_ESCAPES = {"\\": "\\", "n": "\n", '"': '"'}


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Parse OpenMetrics text from a string; see ``text_fd_to_metric_families``."""
    yield from text_fd_to_metric_families(io.StringIO(text))


def _unescape(text: str) -> str:
    """Undo ``\\\\``, ``\\n`` and ``\\"``; other backslashes stay as written."""
    return unescape(text, _ESCAPES)


def _number(token: str, line: str) -> int | float:
    """A value: an int when it is one, else a float; no ``_``, hex or spaces."""
    if not token or "_" in token or token != token.strip():
        raise ValueError(f"Invalid value {token!r} in line: {line}")
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"Invalid value {token!r} in line: {line}") from None


def _timestamp(token: str, line: str) -> Timestamp | float:
    """``123`` and ``123.456`` as exact ``Timestamp``s, exponent forms as floats."""
    if not token or "_" in token or token != token.strip():
        raise ValueError(f"Invalid timestamp {token!r} in line: {line}")
    try:
        return Timestamp(int(token), 0)
    except ValueError:
        pass
    whole, dot, frac = token.partition(".")
    if dot and frac.isdigit() and whole.lstrip("+-").isdigit():
        return Timestamp(int(whole), int(frac[:9].ljust(9, "0")))
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"Invalid timestamp {token!r} in line: {line}") from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"Invalid timestamp {token!r} in line: {line}")
    return value


def _labels(text: str, i: int, line: str) -> tuple[dict[str, str], int]:
    """Labels from just after ``{`` to just after ``}`` (strict syntax)."""
    labels: dict[str, str] = {}
    if text.startswith("}", i):
        return labels, i + 1
    while True:
        eq = text.find("=", i)
        if eq < 0:
            raise ValueError(f"Invalid labels in line: {line}")
        name = text[i:eq]
        if not METRIC_LABEL_NAME_RE.match(name):
            raise ValueError(f"Invalid label name {name!r} in line: {line}")
        if name in labels:
            raise ValueError(f"Duplicate label name {name!r} in line: {line}")
        if not text.startswith('"', eq + 1):
            raise ValueError(f"Label value without quotes in line: {line}")
        start = i = eq + 2
        while True:
            if i >= len(text):
                raise ValueError(f"Unterminated label value in line: {line}")
            ch = text[i]
            if ch == "\\":
                i += 2
            elif ch == '"':
                break
            else:
                i += 1
        labels[name] = _unescape(text[start:i])
        i += 1
        if text.startswith(",", i) and not text.startswith(",}", i):
            i += 1
        elif text.startswith("}", i):
            return labels, i + 1
        else:
            raise ValueError(f"Invalid labels in line: {line}")


def _parse_line(line: str) -> Sample:
    """``name[{labels}] value [timestamp] [# {labels} value [timestamp]]``."""
    end = 0
    while end < len(line) and line[end] not in "{ ":
        end += 1
    name = line[:end]
    if not METRIC_NAME_RE.match(name):
        raise ValueError(f"Invalid metric name in line: {line}")
    labels: dict[str, str] = {}
    i = end
    if line.startswith("{", i):
        labels, i = _labels(line, i + 1, line)
    if not line.startswith(" ", i):
        raise ValueError(f"Missing value in line: {line}")
    rest = line[i + 1 :]
    value_text, sep, rest = rest.partition(" ")
    value = _number(value_text, line)
    timestamp: Timestamp | float | None = None
    exemplar = None
    if sep and not rest.startswith("#"):
        stamp_text, sep, rest = rest.partition(" ")
        timestamp = _timestamp(stamp_text, line)
    if sep:
        if not rest.startswith("# {"):
            raise ValueError(f"Invalid exemplar in line: {line}")
        exemplar = _exemplar(rest[3:], line)
    return Sample(name, labels, value, timestamp, exemplar)


def _exemplar(text: str, line: str) -> Exemplar:
    """The exemplar after ``# {``: labels, a value, an optional timestamp."""
    labels, i = _labels(text, 0, line)
    if sum(len(k) + len(v) for k, v in labels.items()) > 128:
        raise ValueError(f"Exemplar labels are too long: {line}")
    if not text.startswith(" ", i):
        raise ValueError(f"Invalid exemplar in line: {line}")
    value_text, sep, stamp_text = text[i + 1 :].partition(" ")
    value = _number(value_text, line)
    timestamp = _timestamp(stamp_text, line) if sep else None
    return Exemplar(labels, value, timestamp)


def _is_uncanonical(text: str) -> bool:
    """Infinities must be spelled ``+Inf``; other numbers may be written freely."""
    return float(text) == math.inf and text != floatToGoString(math.inf)


def _integral(value: float) -> bool:
    return isinstance(value, int) or float(value).is_integer()


class _Family:
    """The family being read: metadata, samples and the grouping state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.typ: str | None = None
        self.unit: str | None = None
        self.documentation: str | None = None
        self.samples: list[Sample] = []
        self.allowed: tuple[str, ...] = (name,)
        self.group: tuple[tuple[str, str], ...] | None = None
        self.seen_groups: set[tuple[tuple[str, str], ...]] = set()
        self.group_timestamp: Any = None
        self.group_series: set[Any] = set()

    def group_of(self, sample: Sample) -> tuple[tuple[str, str], ...]:
        labels = dict(sample.labels)
        if self.typ == "info":
            return ()
        if self.typ == "summary" and sample.name == self.name:
            labels.pop("quantile", None)
        elif self.typ == "stateset":
            labels.pop(self.name, None)
        elif self.typ in ("histogram", "gaugehistogram") and sample.name == self.name + "_bucket":
            labels.pop("le", None)
        return tuple(sorted(labels.items()))

    def add(self, sample: Sample, line: str) -> None:
        _check_sample(self, sample, line)
        g = self.group_of(sample)
        if self.group is not None and g != self.group and g in self.seen_groups:
            raise ValueError(f"Invalid metric grouping: {line}")
        if self.group is not None and g == self.group:
            if (sample.timestamp is None) != (self.group_timestamp is None):
                raise ValueError(f"Mix of timestamp presence within a group: {line}")
            if (
                self.group_timestamp is not None
                and self.typ != "info"
                and _later(self.group_timestamp, sample.timestamp)
            ):
                raise ValueError(f"Timestamps went backwards within a group: {line}")
        else:
            self.group_series = set()
        series = (sample.name, tuple(sorted(sample.labels.items())))
        if sample.timestamp != self.group_timestamp or series not in self.group_series:
            self.samples.append(sample)
        self.group_series.add(series)
        self.group = g
        self.group_timestamp = sample.timestamp
        self.seen_groups.add(g)


def _later(a: Any, b: Any) -> bool:
    """Whether timestamp ``a`` is after ``b`` (``Timestamp`` or float)."""
    if isinstance(a, Timestamp) and isinstance(b, Timestamp):
        return a > b
    return float(a) > float(b)


def _check_sample(family: _Family, s: Sample, line: str) -> None:
    name, typ = family.name, family.typ
    suffix = s.name[len(name) :]
    if typ == "stateset" and name not in s.labels:
        raise ValueError(f"Stateset missing label: {line}")
    if suffix == "_bucket" and typ in ("histogram", "gaugehistogram"):
        le = s.labels.get("le", "NaN")
        if le == "NaN" or _is_uncanonical(le):
            raise ValueError(f"Invalid le label: {line}")
    if suffix in ("_bucket", "_count", "_gcount") and not _integral(s.value):
        raise ValueError(f"Bucket and count values must be integers: {line}")
    if typ == "summary" and s.name == name:
        quantile = s.labels.get("quantile", "-1")
        if not 0 <= float(quantile) <= 1 or _is_uncanonical(quantile):
            raise ValueError(f"Invalid quantile label: {line}")
        if s.value < 0:
            raise ValueError(f"Quantile values cannot be negative: {line}")
    if typ == "stateset" and s.value not in (0, 1):
        raise ValueError(f"Stateset samples can only have values zero and one: {line}")
    if typ == "info" and s.value != 1:
        raise ValueError(f"Info samples can only have value one: {line}")
    if suffix in _COUNTER_LIKE:
        if math.isnan(s.value):
            raise ValueError(f"Counter-like samples cannot be NaN: {line}")
        if suffix != "_gsum" and s.value < 0:
            raise ValueError(f"Counter-like samples cannot be negative: {line}")
    if s.exemplar is not None and not (
        (typ in ("histogram", "gaugehistogram") and suffix == "_bucket")
        or (typ == "counter" and suffix == "_total")
    ):
        raise ValueError(f"Exemplars only on histogram buckets and counter totals: {line}")


def _check_histogram(samples: list[Sample], name: str, typ: str) -> None:
    """Per label set: ``+Inf`` last, ascending buckets, count/sum rules."""
    groups: dict[Any, list[Sample]] = {}
    for s in samples:
        labels = {
            k: v for k, v in s.labels.items() if not (k == "le" and s.name == name + "_bucket")
        }
        groups.setdefault((tuple(sorted(labels.items())), s.timestamp), []).append(s)
    for group in groups.values():
        bound = None
        value: float = 0
        count = None
        has_sum = has_gsum = negative_buckets = negative_gsum = False
        for s in group:
            suffix = s.name[len(name) :]
            if suffix == "_bucket":
                b = float(s.labels["le"])
                negative_buckets |= b < 0
                if bound is not None and b <= bound:
                    raise ValueError(f"Buckets out of order: {name}")
                if s.value < value:
                    raise ValueError(f"Bucket values out of order: {name}")
                bound, value = b, s.value
            elif suffix in ("_count", "_gcount"):
                count = s.value
            elif suffix == "_sum":
                has_sum = True
            elif suffix == "_gsum":
                has_gsum = True
                negative_gsum |= s.value < 0
        if bound != math.inf:
            raise ValueError(f"+Inf bucket missing: {name}")
        if count is not None and value != count:
            raise ValueError(f"Count does not match +Inf value: {name}")
        if (has_sum or has_gsum) != (count is not None):
            raise ValueError(f"_count and _sum (or _gcount and _gsum) go together: {name}")
        if negative_buckets and has_sum:
            raise ValueError(f"Cannot have _sum with negative buckets: {name}")
        if not negative_buckets and negative_gsum:
            raise ValueError(f"Cannot have negative _gsum with non-negative buckets: {name}")


def _build(family: _Family, seen: set[str]) -> Metric:
    name = family.name
    typ = family.typ or "unknown"
    for suffix in {*_SUFFIXES.get(typ, ()), ""}:
        if name + suffix in seen:
            raise ValueError(f"Clashing name: {name}{suffix}")
        seen.add(name + suffix)
    unit = family.unit or ""
    if unit and not name.endswith("_" + unit):
        raise ValueError(f"Unit does not match metric name: {name}")
    if unit and typ in ("info", "stateset"):
        raise ValueError(f"Units not allowed for this metric type: {name}")
    if typ in ("histogram", "gaugehistogram"):
        _check_histogram(family.samples, name, typ)
    metric = Metric(name, family.documentation or "", typ, unit)
    metric.samples = family.samples
    return metric


def text_fd_to_metric_families(fd: Iterable[str]) -> Iterator[Metric]:
    """Parse OpenMetrics text line by line from ``fd``; yield ``Metric`` objects.

    Raises ``ValueError`` naming the line at the first violation (see the
    module docstring), or when the text does not end with ``# EOF``.
    """
    family: _Family | None = None
    seen: set[str] = set()
    eof = False
    for raw in fd:
        line = raw[:-1] if raw.endswith("\n") else raw
        if eof:
            raise ValueError(f"Received line after # EOF: {line}")
        if not line:
            raise ValueError("Received blank line")
        if line == "# EOF":
            eof = True
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 4 or parts[0] != "#":
                raise ValueError(f"Invalid line: {line}")
            _, keyword, name, text = parts
            if family is not None and name == family.name and family.samples:
                raise ValueError(f"Received metadata after samples: {line}")
            if family is None or name != family.name:
                if family is not None:
                    yield _build(family, seen)
                family = _Family(name)
            _metadata(family, keyword, text, line)
            continue
        sample = _parse_line(line)
        if family is None or sample.name not in family.allowed:
            if family is not None:
                yield _build(family, seen)
            family = _Family(sample.name)
            family.typ = "unknown"
        family.add(sample, line)
    if family is not None:
        yield _build(family, seen)
    if not eof:
        raise ValueError("Missing # EOF at end")


def _metadata(family: _Family, keyword: str, text: str, line: str) -> None:
    if keyword == "HELP":
        if family.documentation is not None:
            raise ValueError(f"More than one HELP for metric: {line}")
        family.documentation = _unescape(text)
    elif keyword == "TYPE":
        if family.typ is not None:
            raise ValueError(f"More than one TYPE for metric: {line}")
        if text == "untyped":
            raise ValueError(f"Invalid TYPE for metric: {line}")
        family.typ = text
        family.allowed = tuple(family.name + s for s in _SUFFIXES.get(text, ("",)))
    elif keyword == "UNIT":
        if family.unit is not None:
            raise ValueError(f"More than one UNIT for metric: {line}")
        family.unit = text
    else:
        raise ValueError(f"Invalid line: {line}")
