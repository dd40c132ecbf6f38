"""Exemplars: the trace an observation came from, kept next to the metric.

``Counter.inc(amount, exemplar=...)`` and ``Histogram.observe(x,
exemplar=...)`` (registry children) take a dict of label names to values,
checked here (OpenMetrics' rule: at most 128 UTF-8 characters of names and
values in all); the latest one of a counter, and of each classic bucket of
a histogram, is shown by OpenMetrics and the protobuf format, never by
Prometheus text 0.0.4.

Recording with an exemplar costs two Python calls (``ExemplarSlots.make``:
validation, ``time.time()``, one tuple; ``keep``: one list store); recording
without one never reaches this module: the C children take the
``exemplar`` keyword and only then call their ``ExemplarSlots``
(``csrc/exemplar.c``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from atomicmetrics.names import validate_label_name, validate_text
from atomicmetrics.samples import Exemplar

__all__ = ["EXEMPLAR_MAX_CHARS", "ExemplarSlots", "make_exemplar"]

EXEMPLAR_MAX_CHARS = 128
"""Characters (code points) of an exemplar's label names and values together."""


def make_exemplar(labels: object, value: object) -> Exemplar:
    """An ``Exemplar`` of ``labels`` (a mapping of str to str) for ``value``, stamped now.

    ``TypeError`` unless ``labels`` is a mapping of ``str`` to ``str`` and
    ``value`` an int or float;
    ``ValueError`` for an invalid label name (``[a-zA-Z_][a-zA-Z0-9_]*``),
    text that is not valid UTF-8, or more than 128 characters in all.
    """
    if not isinstance(labels, Mapping):
        raise TypeError(f"exemplar must be a dict of label names to values, not {type(labels)}")
    pairs = tuple(labels.items())
    chars = 0
    for name, text in pairs:
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError(f"exemplar labels must be str to str, not {name!r}: {text!r}")
        validate_label_name(name)
        validate_text(text, "exemplar label value")
        chars += len(name) + len(text)
    if chars > EXEMPLAR_MAX_CHARS:
        raise ValueError(
            f"exemplar labels hold {chars} characters; at most {EXEMPLAR_MAX_CHARS} in all"
        )
    if not isinstance(value, (int, float)):
        raise TypeError(f"exemplar value must be an int or a float, not {type(value).__name__}")
    return Exemplar(pairs, float(value), time.time())


class ExemplarSlots:
    """The latest exemplar of each bucket of one child (one slot for a counter).

    The child's C method calls ``make(value, labels)`` before it records (a
    refused exemplar changes nothing) and ``keep(bucket, exemplar)`` after;
    ``latest[i]`` is ``None`` until slot ``i`` gets one. ``seen`` is shared
    by the family's children: it turns true at the family's first exemplar,
    and from then on the family renders OpenMetrics in Python, where the
    exemplars are written. Thread-safe: a slot is replaced by one list
    store (the last writer wins, as "latest" means).
    """

    __slots__ = ("latest", "seen")

    def __init__(self, buckets: int, seen: list[bool]) -> None:
        self.latest: list[Exemplar | None] = [None] * buckets
        self.seen = seen

    def make(self, value: object, labels: object) -> Exemplar:
        made = make_exemplar(labels, value)
        self.seen[0] = True
        return made

    def keep(self, bucket: int, exemplar: Exemplar) -> None:
        self.latest[bucket] = exemplar
