"""prometheus_client.openmetrics.exposition: OpenMetrics 1.0 text output."""

from __future__ import annotations

from typing import Any

from atomicmetrics.prometheus_client._render import render

__all__ = ["CONTENT_TYPE_LATEST", "generate_latest"]

CONTENT_TYPE_LATEST = "application/openmetrics-text; version=1.0.0; charset=utf-8"
"""The ``Content-Type`` of :func:`generate_latest`'s output."""


def generate_latest(registry: Any) -> bytes:
    """``registry``'s families in OpenMetrics 1.0 text, ending in ``# EOF``.

    Families with ``# HELP``, ``# TYPE`` and ``# UNIT``, labels sorted by
    name, exemplars on counter totals and histogram buckets (``ValueError``
    for an exemplar anywhere else), the same bytes prometheus_client 0.21
    writes. An error raised by a family carries that ``Metric`` as its last
    argument. Thread-safe; recording goes on while it runs.
    """
    return render(registry, openmetrics=True)
