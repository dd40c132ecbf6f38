"""Number formatting and escaping shared by the text exposition formats.

Both Prometheus text 0.0.4 (``exposition.py``) and OpenMetrics 1.0
(``openmetrics.py``) render numbers and label values the same way; only the
HELP escaping differs, so each format has its own function for that:

========================  ===========================  =======================
what                      Prometheus text 0.0.4        OpenMetrics 1.0
========================  ===========================  =======================
label value               ``\\`` ``"`` LF escaped      same
HELP text                 ``\\`` LF escaped            ``\\`` ``"`` LF escaped
sample value              ints exact, floats shortest round trip,
                          ``NaN`` ``+Inf`` ``-Inf``
``le`` label value        Go's ``%g`` with ``.0`` added (the OpenMetrics
                          "canonical number"), ``+Inf``
========================  ===========================  =======================

Evidence: the OpenMetrics 1.0 ABNF (``escaped-string``, ``normal-char``
excludes LF, ``"`` and ``\\``) and its "Canonical Numbers" section; the
Prometheus 0.0.4 text format spec (HELP escapes only ``\\`` and LF; label
values also ``"``).

Everything here is read-side, pure and thread-safe; nothing allocates on a
recording path.
"""

from __future__ import annotations

from collections.abc import Iterable

from atomicmetrics.samples import Exemplar, LabelPairs, Sample

__all__ = [
    "append_sample_lines",
    "escape_help_openmetrics",
    "escape_help_text",
    "escape_label_value",
    "format_bound",
    "format_value",
    "render_labels",
]

_NAN = "NaN"
_POS_INF = "+Inf"
_NEG_INF = "-Inf"


def format_value(value: int | float) -> str:
    """Render a sample value: ints exactly, floats as their shortest round trip.

    ``NaN``, ``+Inf`` and ``-Inf`` are spelled the way both formats (and Go's
    ``strconv.ParseFloat``) read them. ``bool`` renders as ``1``/``0``. Raises
    ``TypeError`` for anything that is neither ``int`` nor ``float``
    (subclasses included).
    """
    cls = type(value)
    if cls is int:
        return int.__repr__(value)
    if cls is float:
        if value - value == 0.0:  # finite: inf - inf and nan - nan are nan
            return float.__repr__(value)
        if value != value:
            return _NAN
        return _POS_INF if value > 0 else _NEG_INF
    if isinstance(value, int):
        return int.__repr__(int(value))
    if isinstance(value, float):
        return format_value(float(value))
    raise TypeError(f"sample value must be int or float, not {cls.__name__}")


def format_bound(bound: float) -> str:
    """Render a histogram bound for an ``le`` label as a canonical number.

    The rendering is Go's shortest ``%g`` (exponent form below 1e-4 and from
    1e6 on) with ``.0`` appended when there is neither a point nor an
    exponent: ``0.005``, ``1.0``, ``100000.0``, ``1e+06``, ``1e-05``,
    ``+Inf``. That is what OpenMetrics requires for ``le`` values and what
    client_golang and prometheus_client emit, so series from every client
    share one ``le`` spelling. Python's ``repr`` already matches Go everywhere
    except for exponents 6 to 15, which this rewrites.
    """
    b = float(bound)
    if b - b != 0.0:
        return _NAN if b != b else (_POS_INF if b > 0 else _NEG_INF)
    s = float.__repr__(b)
    if "e" in s:
        return s
    sign = ""
    if s[0] == "-":
        sign, s = "-", s[1:]
    whole, _, frac = s.partition(".")
    exponent = len(whole) - 1
    if exponent < 6:  # also all of (-1, 1): repr and Go agree on e-05 and below
        return sign + s
    digits = (whole + frac).rstrip("0")
    mantissa = digits[0] + "." + digits[1:] if len(digits) > 1 else digits
    return f"{sign}{mantissa}e+{exponent:02d}"


def escape_label_value(value: str) -> str:
    """Escape a label value for both formats: ``\\`` ``"`` and LF."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\n" in value:
        value = value.replace("\n", "\\n")
    return value


def escape_help_text(text: str) -> str:
    """Escape HELP text for Prometheus text 0.0.4: ``\\`` and LF, not ``"``."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    return text


def escape_help_openmetrics(text: str) -> str:
    """Escape HELP text for OpenMetrics 1.0: ``\\``, ``"`` and LF."""
    return escape_label_value(text)


def render_labels(labels: LabelPairs) -> str:
    """Render label pairs as ``{a="x",b="y"}`` (in the given order); ``""`` for none.

    Names are written as given (the registry validated them); values are
    escaped with :func:`escape_label_value`. This is the exact text a producer
    may cache in ``Sample.rendered_labels``.
    """
    if not labels:
        return ""
    parts = []
    for name, value in labels:
        # Most values need no escaping: test inline, call only when needed.
        if "\\" in value or '"' in value or "\n" in value:
            value = escape_label_value(value)
        parts.append(f'{name}="{value}"')
    return "{" + ",".join(parts) + "}"


def append_sample_lines(
    out: list[str], samples: Iterable[Sample], *, exemplars: bool = False
) -> None:
    """Append one ``name{labels} value\\n`` line per sample to ``out``.

    The hot loop of both text formats: uses ``Sample.rendered_labels`` when
    the producer cached it, and renders ints and finite floats inline (the
    same results as :func:`format_value`, without a call per sample;
    everything else goes through it). With ``exemplars`` (OpenMetrics) a
    sample's exemplar follows its value: `` # {labels} value timestamp``.
    """
    append = out.append
    for name, pairs, v, labels, ex in samples:
        if labels is None:
            labels = render_labels(pairs)
        cls = type(v)
        if cls is int:
            text = int.__repr__(v)
        elif cls is float and v - v == 0.0:
            text = float.__repr__(v)
        else:
            text = format_value(v)
        if ex is not None and exemplars:
            text += _exemplar_text(ex)
        append(f"{name}{labels} {text}\n")


def _exemplar_text(ex: Exemplar) -> str:
    """`` # {labels} value [timestamp]``, OpenMetrics' exemplar after a sample."""
    stamp = "" if ex.timestamp is None else f" {format_value(ex.timestamp)}"
    labels = render_labels(ex.labels) or "{}"  # the braces are required even when empty
    return f" # {labels} {format_value(ex.value)}{stamp}"
