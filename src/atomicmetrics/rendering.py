"""One scrape in a text format: what is written in C and what in Python.

``render(collector, fmt)`` is the body of ``generate_text`` and
``generate_openmetrics``. A ``Registry`` hands over what it exposes with
``_exposition()``, in registration order: a ``RenderPart`` for each family
whose sample lines ``_core._render`` writes straight from its children
(counters, gauges, classic histograms: each child's label text rendered once
when it was made, each value read from its cells and spelled in C; in a
``MultiProcessRegistry``, the same families from the series it sums over
processes), and the ``MetricFamily`` objects of everything else (composite
families, custom collectors), which the format writes in Python; any other
collector goes through ``collect()``. The format renders every family
header. One ``_core._render`` call writes the whole scrape into one buffer;
on a large registry it releases the GIL (or, on free-threaded CPython,
detaches) while it writes, so recording threads keep their speed.

The bytes are the same either way: the C spelling of values and label
texts is the Python one (``atomicmetrics.formatting``), which
``tests/unit/test_render.py`` holds both paths to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from atomicmetrics._core import _render
from atomicmetrics.family import PartData, RenderPart
from atomicmetrics.registry import Registry
from atomicmetrics.samples import Collector, MetricFamily

__all__ = ["TextFormat", "render"]


class TextFormat(Protocol):
    """What ``render`` needs of a text format."""

    @property
    def openmetrics(self) -> bool:
        """Whether this is OpenMetrics (its ``_count``/``_sum`` rule, ``# EOF``)."""

    def header(self, name: str, kind: str, help: str) -> str:
        """The ``# HELP``/``# TYPE`` lines of a family."""

    def family(self, family: MetricFamily) -> str:
        """A whole family from its samples: header and sample lines."""


def render(collector: Collector, fmt: TextFormat) -> bytes:
    """Every family ``collector`` exposes, in ``fmt``, as UTF-8 bytes."""
    openmetrics = fmt.openmetrics
    parts: list[bytes | PartData] = []
    text: list[str] = []  # Python-rendered families not yet in parts
    for item in _exposition(collector, openmetrics):
        if isinstance(item, MetricFamily):
            text.append(fmt.family(item))
            continue
        text.append(fmt.header(item.name, item.type, item.help))
        # A custom collector's text may hold lone surrogates (the registry
        # refuses them): escaped, so one bad string cannot fail every scrape.
        parts.append("".join(text).encode("utf-8", "backslashreplace"))
        text.clear()
        parts.append(item.data)
    if openmetrics:
        text.append("# EOF\n")
    parts.append("".join(text).encode("utf-8", "backslashreplace"))
    return _render(tuple(parts), openmetrics)


def _exposition(collector: Collector, openmetrics: bool) -> Iterable[MetricFamily | RenderPart]:
    """A registry's ``_exposition`` -- unless a subclass overrode ``collect()``
    alone, which then is what it exposes -- or any other collector's
    ``collect()``."""
    if isinstance(collector, Registry):
        cls = type(collector)
        if cls.collect is Registry.collect or cls._exposition is not Registry._exposition:
            return collector._exposition(openmetrics)
    return collector.collect()
