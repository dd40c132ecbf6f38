"""The two text formats, rendered from a registry (shared by both exposition modules).

``render(registry, openmetrics)`` walks what the registry exposes. For a
``CollectorRegistry`` whose ``collect`` is the facade's own, the facade's
Counter, Gauge, Summary and Histogram render themselves straight from their
cells with each series' label text kept from creation (``metrics.py``): no
``Metric`` or ``Sample`` objects, no label sorting per scrape. Everything
else (custom collectors, Info, Enum, subclasses, restricted registries) goes
through ``collect()`` and the generic renderers below, which produce the same
bytes prometheus_client 0.21 does. Read side only: recording never waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from atomicmetrics.prometheus_client._text import (
    escape,
    escape_help_text,
    exemplar_text,
    labels_of,
)
from atomicmetrics.prometheus_client.metrics import Counter, Gauge, Histogram, Summary
from atomicmetrics.prometheus_client.metrics_core import Metric
from atomicmetrics.prometheus_client.registry import CollectorRegistry
from atomicmetrics.prometheus_client.samples import Sample
from atomicmetrics.prometheus_client.utils import floatToGoString

__all__ = ["render"]

_FAST = frozenset((Counter, Gauge, Histogram, Summary))

# Text 0.0.4 names and types of OpenMetrics families: (name suffix, type).
_TEXT_TYPES = {
    "counter": ("_total", "counter"),
    "info": ("_info", "gauge"),
    "stateset": ("", "gauge"),
    "gaugehistogram": ("", "histogram"),
    "unknown": ("", "untyped"),
}
# Samples that text 0.0.4 moves into gauge families of their own, after the rest.
_TEXT_SPLIT = ("_created", "_gcount", "_gsum")


def render(registry: Any, openmetrics: bool) -> bytes:
    """``registry`` in OpenMetrics 1.0 (with ``# EOF``) or Prometheus text 0.0.4."""
    out: list[str] = []
    generic = _openmetrics_family if openmetrics else _text_family
    for item in _families(registry):
        if isinstance(item, Metric):
            try:
                generic(out, item)
            except Exception as exc:
                exc.args = (*(exc.args or ("",)), item)
                raise
        else:
            item._render(out, openmetrics)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")


def _families(registry: Any) -> Iterator[Any]:
    """Each exposed family: a ``Metric``, or a facade metric that renders itself."""
    if not (
        isinstance(registry, CollectorRegistry)
        and type(registry).collect is CollectorRegistry.collect
    ):
        yield from registry.collect()
        return
    target, collectors = registry._snapshot()
    if target is not None:
        yield target
    for collector in collectors:
        if type(collector) in _FAST:
            yield collector
        else:
            yield from collector.collect()


def _text_line(s: Sample) -> str:
    stamp = "" if s.timestamp is None else f" {int(float(s.timestamp) * 1000):d}"
    return f"{s.name}{labels_of(s.labels)} {floatToGoString(s.value)}{stamp}\n"


def _text_family(out: list[str], metric: Metric) -> None:
    suffix, typ = _TEXT_TYPES.get(metric.type, ("", metric.type))
    name = metric.name + suffix
    help_text = escape_help_text(metric.documentation)
    out.append(f"# HELP {name} {help_text}\n# TYPE {name} {typ}\n")
    split: dict[str, list[str]] = {}
    for s in metric.samples:
        tail = s.name[len(metric.name) :] if s.name.startswith(metric.name) else None
        if tail in _TEXT_SPLIT:
            split.setdefault(tail, []).append(_text_line(s))
        else:
            out.append(_text_line(s))
    for tail, lines in sorted(split.items()):
        out.append(f"# HELP {metric.name}{tail} {help_text}\n# TYPE {metric.name}{tail} gauge\n")
        out.extend(lines)


def _exemplar_allowed(metric: Metric, s: Sample) -> bool:
    if metric.type == "counter":
        return s.name.endswith("_total")
    return metric.type in ("histogram", "gaugehistogram") and s.name.endswith("_bucket")


def _openmetrics_family(out: list[str], metric: Metric) -> None:
    name = metric.name
    out.append(f"# HELP {name} {escape(metric.documentation)}\n# TYPE {name} {metric.type}\n")
    if metric.unit:
        out.append(f"# UNIT {name} {metric.unit}\n")
    for s in metric.samples:
        tail = ""
        if s.exemplar:
            if not _exemplar_allowed(metric, s):
                raise ValueError(
                    f"Metric {name} has exemplars, but is not a histogram bucket or counter"
                )
            tail = exemplar_text(s.exemplar, floatToGoString(s.exemplar.value))
        stamp = "" if s.timestamp is None else f" {s.timestamp}"
        out.append(f"{s.name}{labels_of(s.labels)} {floatToGoString(s.value)}{stamp}{tail}\n")
