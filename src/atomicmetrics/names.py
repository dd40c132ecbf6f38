"""Metric and label name rules of the classic Prometheus data model.

* metric names match ``[a-zA-Z_:][a-zA-Z0-9_:]*``;
* label names match ``[a-zA-Z_][a-zA-Z0-9_]*``, do not start with ``__``
  (reserved for Prometheus internals), appear once per family, and ``le`` is
  reserved on families exposed as histograms (its bucket label);
* every family *claims* the names it exposes: its family names (without type
  suffix), the full sample names, and every other sample name its OpenMetrics
  type may carry (``_created`` of counters and histograms: a parser reads a
  family ``a_created`` next to a counter ``a`` as a clash, and refuses the
  whole scrape). A registry refuses a family whose claims meet another
  family's, so that two families can never write the same series or the same
  ``# TYPE`` line (histogram ``a`` claims ``a_count``, so a counter
  ``a_count`` or a gauge ``a_sum`` is refused).

Every function here is pure, allocation-only, and raises ``ValueError`` (or
``TypeError`` for a non-``str`` name); none is on a recording path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "counter_family_name",
    "counter_names",
    "gauge_names",
    "histogram_names",
    "validate_label_name",
    "validate_labelnames",
    "validate_metric_name",
    "validate_text",
]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def validate_metric_name(name: object) -> str:
    """Return ``name`` if it is a valid metric name, else raise ``ValueError``."""
    if not isinstance(name, str):
        raise TypeError(f"metric name must be a str, not {type(name).__name__}")
    if _METRIC_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid metric name {name!r}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")
    return name


def validate_text(text: str, what: str) -> str:
    """Return ``text`` if it encodes as UTF-8, else raise ``ValueError``.

    Exposition is UTF-8: a lone surrogate (``"\\ud800"``, which ``str`` allows)
    in a label value or help text would make every later scrape of the
    registry fail to encode (found by tests/unit/test_fuzz_api.py), so it is
    refused where it enters.
    """
    try:
        text.encode()
    except UnicodeEncodeError as e:
        raise ValueError(f"{what} {text[:40]!r} is not valid UTF-8 text: {e.reason}") from None
    return text


def validate_label_name(label: object) -> str:
    """Return ``label`` if it is a valid label name (``[a-zA-Z_][a-zA-Z0-9_]*``,
    no ``__`` prefix), else raise ``ValueError`` (``TypeError`` for a non-str)."""
    if not isinstance(label, str):
        raise TypeError(f"label name must be a str, not {type(label).__name__}")
    if _LABEL_NAME.fullmatch(label) is None:
        raise ValueError(f"invalid label name {label!r}: must match [a-zA-Z_][a-zA-Z0-9_]*")
    if label.startswith("__"):
        raise ValueError(f"invalid label name {label!r}: the __ prefix is reserved")
    return label


def validate_labelnames(labelnames: Iterable[str], *, histogram: bool) -> tuple[str, ...]:
    """Return ``labelnames`` as a tuple after checking every rule.

    ``histogram`` reserves ``le``. Raises ``ValueError`` for an invalid,
    ``__``-prefixed, reserved or duplicated name, ``TypeError`` when
    ``labelnames`` is a bare ``str`` (a classic slip: ``"a"`` is not
    ``("a",)``) or holds a non-``str``.
    """
    if isinstance(labelnames, str):
        raise TypeError("labelnames must be a sequence of str, not a str")
    names = tuple(labelnames)
    for label in names:
        validate_label_name(label)
        if histogram and label == "le":
            raise ValueError("label name 'le' is reserved on histograms (bucket bound)")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate label names in {names!r}")
    return names


def counter_family_name(name: str) -> str:
    """The family name of a counter asked for as ``name``: without ``_total``."""
    return name[: -len("_total")] if name.endswith("_total") and name != "_total" else name


def counter_names(family: str) -> frozenset[str]:
    """Names a counter family (already without ``_total``) claims: ``_created``
    too, the OpenMetrics sample a counter may carry."""
    return frozenset((family, family + "_total", family + "_created"))


def gauge_names(family: str) -> frozenset[str]:
    """Names a gauge family claims."""
    return frozenset((family,))


def histogram_names(family: str) -> frozenset[str]:
    """Names a histogram family claims: ``_created`` too, the OpenMetrics
    sample a histogram may carry."""
    suffixes = ("", "_bucket", "_count", "_sum", "_created")
    return frozenset(family + suffix for suffix in suffixes)
