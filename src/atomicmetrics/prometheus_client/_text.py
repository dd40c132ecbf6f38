"""Text pieces shared by the two exposition formats of the facade.

prometheus_client writes labels sorted by name with ``\\``, LF and ``"``
escaped, values through ``floatToGoString``, HELP escaped per format. The
facade's own metrics keep each series' rendered label text (see
``metrics.py``), so a scrape renders labels once per series in its life;
these helpers render them the first time and for custom collectors.
Read side only; pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from atomicmetrics.prometheus_client.samples import Exemplar

__all__ = ["escape", "escape_help_text", "exemplar_text", "label_text"]


def escape(value: str) -> str:
    """Escape a label value (and OpenMetrics HELP): ``\\``, LF and ``"``.

    Calls ``value.replace``: a non-str value raises ``AttributeError``, as
    prometheus_client's exposition does.
    """
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def escape_help_text(text: str) -> str:
    """Escape HELP text for Prometheus text 0.0.4: ``\\`` and LF."""
    return text.replace("\\", r"\\").replace("\n", r"\n")


def label_text(pairs: Iterable[tuple[str, str]]) -> str:
    """``{a="x",b="y"}`` for the pairs sorted by name; ``""`` for none."""
    items = sorted(pairs)
    if not items:
        return ""
    return "{" + ",".join([f'{k}="{escape(v)}"' for k, v in items]) + "}"


def labels_of(labels: Mapping[str, str]) -> str:
    """``label_text`` of a sample's labels dict."""
    return label_text(labels.items()) if labels else ""


def exemplar_text(exemplar: Exemplar, value_text: str) -> str:
    """`` # {labels} value [timestamp]`` for an OpenMetrics sample line."""
    labels = (
        "{" + ",".join([f'{k}="{escape(v)}"' for k, v in sorted(exemplar.labels.items())]) + "}"
    )
    if exemplar.timestamp is None:
        return f" # {labels} {value_text}"
    return f" # {labels} {value_text} {exemplar.timestamp}"
