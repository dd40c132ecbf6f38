"""One scrape in a text format: what is written in C and what in Python.

``render(collector, fmt)`` is the body of ``generate_text`` and
``generate_openmetrics``. A ``Registry`` (one whose ``collect()`` is
``Registry.collect``) is walked collector by collector, in registration
order: the sample lines of a ``RenderedFamily`` (counters, gauges,
histograms) are written by ``_core._render`` straight from its children --
each child's label text rendered once when it was made, each value read
from its cells and spelled in C -- and everything else (composite families,
custom collectors, any other collector passed in) goes through
``collect()`` and the format's Python writer. The format renders every
family header. One ``_core._render`` call writes the whole scrape into one
buffer; on a large registry it releases the GIL (or, on free-threaded
CPython, detaches) while it writes, so recording threads keep their speed.

The bytes are the same either way: the C spelling of values and label
texts is the Python one (``atomicmetrics.formatting``), which
``tests/unit/test_render.py`` holds both paths to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from atomicmetrics._core import _render
from atomicmetrics.family import RenderedFamily
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
    parts: list[bytes | tuple[int, dict[Any, Any], bytes, tuple[bytes, ...], int]] = []
    for c in _collectors(collector):
        if isinstance(c, RenderedFamily) and (part := c._render_part(openmetrics)) is not None:
            parts.append(fmt.header(c.name, c._type, c.help).encode())
            parts.append(part)
        else:
            text = "".join([fmt.family(family) for family in c.collect()])
            # A custom collector's text may hold lone surrogates (the registry
            # refuses them): escaped, so one bad string cannot fail every scrape.
            parts.append(text.encode("utf-8", "backslashreplace"))
    if openmetrics:
        parts.append(b"# EOF\n")
    return _render(tuple(parts), openmetrics)


def _collectors(collector: Collector) -> Iterable[Collector]:
    """The collectors to render one by one: a plain registry's own, in order
    (a tuple never mutated: no lock needed), else the collector itself."""
    if isinstance(collector, Registry) and type(collector).collect is Registry.collect:
        return collector._collectors
    return (collector,)
