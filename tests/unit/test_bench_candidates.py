"""The catalogue of `atomicmetrics bench` (bench/candidates.py): each candidate builds."""

from __future__ import annotations

import pytest

from atomicmetrics.bench.candidates import CANDIDATES, GROUPS
from atomicmetrics.bench.harness import Candidate, Unavailable, compile_loop, thread_namespace


def test_catalogue_names_are_unique_and_grouped() -> None:
    names = [c.name for c in CANDIDATES]
    assert len(names) == len(set(names))
    assert set(GROUPS) == {c.group for c in CANDIDATES}
    for group in GROUPS:
        kinds = {c.kind for c in CANDIDATES if c.group == group}
        assert "ours" in kinds, group


@pytest.mark.parametrize("candidate", CANDIDATES, ids=lambda c: c.name)
def test_each_candidate_builds_and_runs_or_names_what_is_missing(candidate: Candidate) -> None:
    """Our own candidates always build; a baseline may only lack its optional library."""
    try:
        ns = candidate.setup()
    except Unavailable as e:
        reason = str(e)
        assert candidate.kind == "baseline", f"{candidate.name}: {reason}"
        assert "is not installed" in reason
        return
    try:
        own = thread_namespace(candidate, ns)
        compile_loop(candidate, own)(1, *own.values())
        if candidate.between is not None:
            candidate.between(ns)
        if candidate.total is not None:
            assert candidate.total(ns) == candidate.unroll, candidate.name
    finally:
        if candidate.teardown is not None:
            candidate.teardown(ns)


@pytest.mark.parametrize(
    "group", ["shared", "counter", "histogram", "rule", "labels", "throughput"]
)
def test_recording_candidates_of_ours_check_their_totals(group: str) -> None:
    for c in CANDIDATES:
        if c.group == group and c.kind == "ours":
            assert c.total is not None, c.name
