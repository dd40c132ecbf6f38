"""prometheus_client.parser: read Prometheus text format 0.0.4 into ``Metric`` objects.

As lax as prometheus_client's own parser (it is not a validator: what it
accepts is not necessarily valid text): whitespace and tabs around tokens,
blank lines and unknown comments are skipped, a trailing comma in a label
set is accepted, a sample that does not belong to the family declared above
it becomes an untyped family of its own. Counters are turned into the
OpenMetrics shape used internally (family ``x``, samples ``x_total``).
Timestamps (milliseconds in the text) come back as float seconds.
Raises ``ValueError`` for what cannot be read at all. Pure; thread-safe.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from atomicmetrics.prometheus_client.metrics_core import METRIC_LABEL_NAME_RE, Metric
from atomicmetrics.prometheus_client.samples import Sample

__all__ = ["text_fd_to_metric_families", "text_string_to_metric_families"]

_WHITESPACE = " \t"
_LABEL_ESCAPES = {"\\": "\\", "n": "\n", '"': '"'}
_HELP_ESCAPES = {"\\": "\\", "n": "\n"}
# The samples a TYPE line admits under its name, by type.
_ALLOWED = {
    "counter": ("",),
    "gauge": ("",),
    "summary": ("_count", "_sum", ""),
    "histogram": ("_count", "_sum", "_bucket"),
}


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Parse Prometheus text from a string; see ``text_fd_to_metric_families``."""
    yield from text_fd_to_metric_families(io.StringIO(text))


def unescape(text: str, escapes: dict[str, str]) -> str:
    """Undo the backslash escapes in ``escapes`` (``{"n": "\\n", ...}``).

    An escape not in ``escapes`` (``\\t``, ``\\z``) stays as written, as in
    prometheus_client's parsers. Shared by the OpenMetrics parser.
    """
    if "\\" not in text:
        return text
    out = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in escapes:
            out.append(escapes[text[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _parse_labels(text: str, i: int) -> tuple[dict[str, str], int]:
    """Labels from just after ``{`` to just after ``}``: the dict and the end index."""
    labels: dict[str, str] = {}
    i = _skip(text, i)
    if text.startswith(",", i):  # "{,}" is accepted, as upstream does
        i = _skip(text, i + 1)
    while True:
        if i >= len(text):
            raise ValueError(f"Invalid labels: {text}")
        if text[i] == "}":
            return labels, i + 1
        eq = text.find("=", i)
        if eq < 0:
            raise ValueError(f"Invalid labels: {text}")
        name = text[i:eq].strip(_WHITESPACE)
        i = _skip(text, eq + 1)
        if not METRIC_LABEL_NAME_RE.match(name) or not text.startswith('"', i):
            raise ValueError(f"Invalid labels: {text}")
        i += 1
        start = i
        while True:  # the closing quote is the first one not escaped
            i = text.find('"', i)
            if i < 0:
                raise ValueError(f"Invalid labels: {text}")
            slashes = 0
            while i - 1 - slashes >= start and text[i - 1 - slashes] == "\\":
                slashes += 1
            if slashes % 2 == 0:
                break
            i += 1
        labels[name] = unescape(text[start:i], _LABEL_ESCAPES)
        i = _skip(text, i + 1)
        if text.startswith(",", i):
            i = _skip(text, i + 1)
        elif not text.startswith("}", i):
            raise ValueError(f"Invalid labels: {text}")


def _parse_sample(line: str) -> Sample:
    """``name[{labels}] value [timestamp_ms]`` (extra values: the last is the timestamp)."""
    i = 0
    while i < len(line) and line[i] not in "{ \t":
        i += 1
    name = line[:i]
    i = _skip(line, i)
    labels: dict[str, str] = {}
    if line.startswith("{", i):
        labels, i = _parse_labels(line, i + 1)
    fields = line[i:].split()
    if not name or not fields:
        raise ValueError(f"Invalid sample line: {line!r}")
    value = float(fields[0])
    timestamp = float(fields[-1]) / 1000 if len(fields) > 1 else None
    return Sample(name, labels, value, timestamp)


def _build(name: str, documentation: str, typ: str, samples: list[Sample]) -> Metric:
    if typ == "counter":
        if name.endswith("_total"):
            name = name[: -len("_total")]
        else:
            samples = [s._replace(name=s.name + "_total") for s in samples]
    metric = Metric(name, documentation, typ)
    metric.samples = samples
    return metric


def text_fd_to_metric_families(fd: Iterable[str]) -> Iterator[Metric]:
    """Parse Prometheus text format line by line from ``fd``; yield ``Metric`` objects."""
    name = ""
    documentation = ""
    typ = "untyped"
    samples: list[Sample] = []
    allowed: tuple[str, ...] = ()
    for raw in fd:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                continue  # another comment
            if parts[2] != name:
                if name:
                    yield _build(name, documentation, typ, samples)
                name, documentation, typ, samples = parts[2], "", "untyped", []
                allowed = (name,)
            if parts[1] == "HELP":
                documentation = unescape(parts[3], _HELP_ESCAPES) if len(parts) == 4 else ""
            else:
                if len(parts) < 4:
                    raise ValueError(f"TYPE line without a type: {line!r}")
                typ = parts[3]
                allowed = tuple(name + s for s in _ALLOWED.get(typ, ("",)))
            continue
        sample = _parse_sample(line)
        if sample.name in allowed:
            samples.append(sample)
            continue
        if name:
            yield _build(name, documentation, typ, samples)
        name, documentation, typ, samples, allowed = "", "", "untyped", [], ()
        yield _build(sample.name, "", "untyped", [sample])
    if name:
        yield _build(name, documentation, typ, samples)
