"""The Prometheus text exposition format, version 0.0.4.

``generate_text`` renders every family a collector (normally a ``Registry``)
yields. Counters are exposed the way Prometheus and prometheus_client expose
them in this format: the ``# HELP``/``# TYPE`` lines name the ``_total``
sample (``# TYPE x_total counter``); ``unknown`` families are typed
``untyped``. Families come out in the collector's order, samples in each
family's order; nothing is sorted (the registry hands them over in a stable
order already).

Read-side only: collecting may allocate; recording threads are never blocked.
"""

from __future__ import annotations

from atomicmetrics.formatting import append_sample_lines, escape_help_text
from atomicmetrics.registry import REGISTRY
from atomicmetrics.rendering import render
from atomicmetrics.samples import Collector, MetricFamily

__all__ = ["CONTENT_TYPE_TEXT", "generate_text"]

CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of :func:`generate_text`'s output."""

# OpenMetrics type words (what MetricFamily.type holds) -> 0.0.4 type words.
_TYPE_WORDS = {"counter": "counter", "gauge": "gauge", "histogram": "histogram"}


def generate_text(registry: Collector = REGISTRY) -> bytes:
    """Render ``registry`` in Prometheus text format 0.0.4.

    ``registry`` is anything with ``collect()`` yielding ``MetricFamily``
    objects. Thread-safe as far as ``collect()`` is (the registry's is):
    recording goes on while this runs and each value is one atomic read. Cost
    is linear in the number of samples; a registry's counters, gauges and
    histograms are written in C from their children (``atomicmetrics.rendering``),
    and labels a producer cached in ``Sample.rendered_labels`` are not
    rendered again. Raises ``TypeError`` for a sample value that is not
    ``int``/``float``. It does not check names, label names or
    sample/family consistency: families are trusted to be valid (the
    registry validated them when they were created).
    """
    return render(registry, _TEXT)


class _Text:
    """Prometheus text 0.0.4 for ``atomicmetrics.rendering.render``."""

    openmetrics = False

    def header(self, name: str, kind: str, help: str) -> str:
        if kind == "counter":
            name += "_total"
        head = f"# HELP {name} {escape_help_text(help)}\n" if help else ""
        return f"{head}# TYPE {name} {_TYPE_WORDS.get(kind, 'untyped')}\n"

    def family(self, family: MetricFamily) -> str:
        out = [self.header(family.name, family.type, family.help)]
        append_sample_lines(out, family.samples)
        return "".join(out)


_TEXT = _Text()
