"""Metric families as strict JSON data: the shape of ``Registry.snapshot()``.

Shape (every key always present)::

    {
      "<family name>": {
        "type": "counter" | "gauge" | "histogram" | "unknown",
        "help": "<help text>",
        "samples": [
          {"name": "<sample name>", "labels": {"<label>": "<value>", ...}, "value": <number>},
          ...
        ]
      },
      ...
    }

Families appear in collection order (registration order); samples in the
order the family yields them (histogram buckets cumulative, ``le`` among the
labels). Values are JSON integers where exact (counts), otherwise floats;
non-finite floats become the strings ``"NaN"``, ``"+Inf"`` and ``"-Inf"``, so
``json.dumps(snapshot, allow_nan=False)`` always succeeds. Families of the
same name from several collectors are merged into one entry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from atomicmetrics.samples import MetricFamily

__all__ = ["json_value", "snapshot_families"]


def json_value(value: int | float) -> int | float | str:
    """A sample value as strict JSON: non-finite floats become strings."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def snapshot_families(families: Iterable[MetricFamily]) -> dict[str, Any]:
    """The JSON document of the module docstring for ``families``."""
    out: dict[str, Any] = {}
    for family in families:
        entry = out.get(family.name)
        if entry is None:
            entry = out[family.name] = {"type": family.type, "help": family.help, "samples": []}
        entry["samples"] += [
            {"name": s.name, "labels": dict(s.labels), "value": json_value(s.value)}
            for s in family.samples
        ]
    return out
