"""The cardinality guard holds under a label-explosion attack from 8 threads.

Every thread asks for fresh label values as fast as it can while a reader
checks, as they run, that the family never holds more than ``max_series``
children (plus the one overflow child in collapse mode).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from atomicmetrics import CardinalityError, Registry, generate_text
from atomicmetrics.family import OVERFLOW_LABEL_VALUE
from tests.helpers import KINDS, THREADS, Kind, run_threads, scaled

MAX_SERIES = 50


def _attack(family: Any, kind: Kind, per_thread: int, allowed: int) -> tuple[int, int]:
    """8 threads ask for ``per_thread`` fresh label sets each while a reader
    checks the bound; returns (calls answered with a child, CardinalityErrors)."""
    stop = threading.Event()
    peak = [0]

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(family._children))

    def body(t: int) -> tuple[int, int]:
        ok = refused = 0
        for i in range(per_thread):
            try:
                child = family.labels(f"t{t}-{i}", "x")
            except CardinalityError:
                refused += 1
                continue
            kind.record(child)
            ok += 1
        return ok, refused

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results: list[Any] = run_threads(THREADS, body)
    finally:
        stop.set()
        watcher.join()
    assert peak[0] <= allowed
    assert len(family._children) <= allowed
    return sum(r[0] for r in results), sum(r[1] for r in results)


@pytest.mark.stress
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_raise_mode_never_exceeds_max_series(kind: Kind, switch_fast: object) -> None:
    family = kind.make(Registry(), "card_" + kind.name, ("a", "b"), max_series=MAX_SERIES)
    per_thread = scaled(1000)
    ok, refused = _attack(family, kind, per_thread, MAX_SERIES)
    assert ok == MAX_SERIES
    assert ok + refused == THREADS * per_thread
    assert sum(kind.units(child) for child in family._children.values()) == MAX_SERIES


@pytest.mark.stress
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_collapse_mode_routes_the_rest_to_one_overflow_child(
    kind: Kind, switch_fast: object
) -> None:
    registry = Registry()
    family = kind.make(
        registry, "card_" + kind.name, ("a", "b"), max_series=MAX_SERIES, on_overflow="collapse"
    )
    per_thread = scaled(1000)
    ok, refused = _attack(family, kind, per_thread, MAX_SERIES + 1)
    assert refused == 0
    assert ok == THREADS * per_thread
    assert len(family._children) == MAX_SERIES + 1
    overflow = family.labels(OVERFLOW_LABEL_VALUE, OVERFLOW_LABEL_VALUE)
    assert kind.units(overflow) == THREADS * per_thread - MAX_SERIES
    total = sum(kind.units(child) for child in family._children.values())
    assert total == THREADS * per_thread  # nothing lost: every record landed somewhere
    assert OVERFLOW_LABEL_VALUE.encode() in generate_text(registry)
