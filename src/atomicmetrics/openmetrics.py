"""The OpenMetrics 1.0 text exposition format.

``generate_openmetrics`` renders every family a collector yields: ``# TYPE``
then ``# HELP`` (the order the spec recommends) naming the family without its
suffix (``# TYPE x counter`` above ``x_total``), the samples, and ``# EOF``.

One rule of the format changes what is exposed: a histogram sum is a counter
there, so the spec forbids ``_sum`` when it is negative or NaN or when any
bucket bound is negative, and ``_count`` must appear if and only if ``_sum``
does. Such a histogram child is exposed with its buckets only (the ``+Inf``
bucket still carries the count); the 0.0.4 format keeps both lines.

Read-side only: collecting may allocate; recording threads are never blocked.
"""

from __future__ import annotations

from atomicmetrics.formatting import append_sample_lines, escape_help_openmetrics
from atomicmetrics.registry import REGISTRY
from atomicmetrics.rendering import render
from atomicmetrics.samples import Collector, LabelPairs, MetricFamily, Sample

__all__ = ["CONTENT_TYPE_OPENMETRICS", "generate_openmetrics"]

CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
"""The ``Content-Type`` of :func:`generate_openmetrics`'s output."""


def generate_openmetrics(registry: Collector = REGISTRY) -> bytes:
    """Render ``registry`` in OpenMetrics 1.0 text format.

    ``registry`` is anything with ``collect()`` yielding ``MetricFamily``
    objects. The output ends in ``# EOF\\n``. A histogram child whose sum is
    negative or NaN, or that has a negative bucket bound, is exposed without
    ``_sum`` and ``_count`` (see the module docstring). Thread-safety, cost,
    errors and what is not checked are as for
    :func:`atomicmetrics.generate_text`.
    """
    return render(registry, _OPENMETRICS)


class _OpenMetrics:
    """OpenMetrics 1.0 for ``atomicmetrics.rendering.render``."""

    openmetrics = True

    def header(self, name: str, kind: str, help: str) -> str:
        head = f"# TYPE {name} {kind}\n"
        return f"{head}# HELP {name} {escape_help_openmetrics(help)}\n" if help else head

    def family(self, family: MetricFamily) -> str:
        out = [self.header(family.name, family.type, family.help)]
        samples = family.samples
        if family.type == "histogram":
            samples = _without_forbidden_sums(family)
        append_sample_lines(out, samples, exemplars=True)
        return "".join(out)


_OPENMETRICS = _OpenMetrics()


def _without_forbidden_sums(family: MetricFamily) -> tuple[Sample, ...]:
    """``family.samples`` less ``_sum``/``_count`` of children that may not have them."""
    sum_name = family.name + "_sum"
    count_name = family.name + "_count"
    bucket_name = family.name + "_bucket"
    barred: set[LabelPairs] = set()
    for s in family.samples:
        if s.name == sum_name:
            v = s.value
            if v < 0 or v != v:
                barred.add(s.labels)
        elif s.name == bucket_name:
            labels = s.labels
            # Samples put ``le`` last; look further only if a collector did not.
            if labels and labels[-1][0] == "le":
                bound, rest = labels[-1][1], labels[:-1]
            else:
                bound = dict(labels).get("le", "")
                rest = tuple(p for p in labels if p[0] != "le")
            if bound.startswith("-") and float(bound) < 0:
                barred.add(rest)
    if not barred:
        return family.samples
    return tuple(
        s
        for s in family.samples
        if not (s.labels in barred and (s.name == sum_name or s.name == count_name))
    )
