"""The benchmark engine (bench/harness.py): loop shape, exact operation counts, ratios, skips."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from atomicmetrics import AtomicCounter
from atomicmetrics.bench.harness import (
    FLOOR,
    Candidate,
    Namespace,
    Settings,
    Unavailable,
    compile_loop,
    run,
)

TINY = Settings(threads=(1, 3), rounds=3, rep_ms=0.2, seed=1)


def test_compiled_loop_runs_the_statement_n_times_unroll() -> None:
    c = Candidate("count", "g", "op()", lambda: {})
    counter = AtomicCounter()
    loop = compile_loop(c, ["op"])
    loop(7, counter.inc)
    assert counter.load() == 7 * c.unroll


def test_every_thread_runs_every_operation_of_every_repetition() -> None:
    built: list[AtomicCounter] = []

    def setup() -> dict[str, Any]:
        built.append(AtomicCounter())
        return {"op": built[-1].inc}

    report = run([Candidate("counted", "g", "op()", setup)], TINY)
    measured = {m.threads: m for m in report.measurements if m.candidate.name == "counted"}
    assert sorted(measured) == [1, 3]
    # built[0] served calibration and the 1-thread rounds; built[1] the 3-thread rounds.
    assert len(built) == 2
    ops = measured[1].ops_per_thread
    assert built[1].load() == TINY.rounds * 3 * ops
    assert built[0].load() > TINY.rounds * ops  # calibration ran it too
    assert all(len(m.samples) == TINY.rounds for m in measured.values())


def test_floor_always_runs_and_ratios_are_relative_to_it() -> None:
    report = run(
        [
            Candidate("ours", "g", "op()", lambda: {"op": AtomicCounter().inc}),
            Candidate(
                "slow",
                "g",
                "op(); op(); op()",
                lambda: {"op": AtomicCounter().inc},
                "baseline",
                "three calls",
            ),
        ],
        TINY,
    )
    floor = report.floor(1)
    assert floor is not None
    assert floor.candidate is FLOOR
    assert report.ratio_to_floor(floor) == 1.0
    ours = next(m for m in report.measurements if m.candidate.name == "ours" and m.threads == 1)
    ratios = dict(report.baseline_ratios(ours))
    assert set(ratios) == {"three calls"}
    assert ratios["three calls"] > 1.0  # three calls cost more than one
    table = report.table()
    assert "faster than three calls" in table
    assert table.splitlines()[2].startswith("floor")
    row = next(r for r in report.rows() if r["name"] == "ours" and r["threads"] == 3)
    assert set(row) >= {"name", "threads", "ns_per_op", "ratio_to_floor"}
    assert row["ns_per_op"] > 0


def test_unavailable_and_failing_candidates_are_skipped_with_a_reason() -> None:
    def missing() -> dict[str, Any]:
        raise Unavailable("not installed here")

    def boom() -> None:
        raise RuntimeError("kaput")

    report = run(
        [
            Candidate("missing", "g", "op()", missing),
            Candidate("failing", "g", "op()", lambda: {"op": boom}),
        ],
        TINY,
    )
    reasons = {s.name: s.reason for s in report.skipped}
    assert reasons["missing"] == "not installed here"
    assert "RuntimeError: kaput" in reasons["failing"]
    assert {m.candidate.name for m in report.measurements} == {FLOOR.name}
    assert "skipped missing (g): not installed here" in report.table()


def _single_threaded(closed: list[object]) -> Candidate:
    """A candidate limited to one thread whose teardown appends to ``closed``."""
    return Candidate(
        "single",
        "g",
        "op()",
        lambda: {"op": AtomicCounter().inc},
        max_threads=1,
        teardown=closed.append,
    )


def test_max_threads_and_teardown() -> None:
    closed: list[object] = []
    c = _single_threaded(closed)
    report = run([c], TINY)
    assert [m.threads for m in report.measurements if m.candidate is c] == [1]
    assert len(closed) == 1


def test_a_candidate_capped_below_every_thread_count_is_skipped() -> None:
    closed: list[object] = []
    c = _single_threaded(closed)
    report = run([c], Settings(threads=(2,), rounds=2, rep_ms=0.2))
    assert [m for m in report.measurements if m.candidate is c] == []
    assert [s.reason for s in report.skipped] == ["runs on at most 1 thread(s) only"]
    assert len(closed) == 1


def test_duplicate_names_are_refused() -> None:
    c = Candidate("same", "g", "op()", lambda: {"op": AtomicCounter().inc})
    with pytest.raises(ValueError, match="unique"):
        run([c, c], TINY)


def test_each_thread_binds_its_own_namespace_in_its_own_thread() -> None:
    # The floor's fix: a namespace shared by every thread makes a free-threaded
    # build pay refcount contention on the floor's own objects.
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def bind(shared: Namespace) -> Namespace:
        n = int("12345")
        with lock:
            seen.append((threading.current_thread().name, id(n)))
        return {"c": shared["c"], "n": n}

    c = Candidate(
        "bound", "g", "c.inc(); n.bit_length()", lambda: {"c": AtomicCounter()}, bind=bind
    )
    settings = Settings(threads=(3,), rounds=2, rep_ms=0.2, seed=1)
    report = run([c], settings)
    assert {m.threads for m in report.measurements if m.candidate is c} == {3}
    workers = [name for name, _ in seen if name.startswith("bench-")]
    assert sorted(set(workers)) == ["bench-0", "bench-1", "bench-2"]
    assert len(workers) == 3 * settings.rounds  # every thread, every repetition
    assert FLOOR.bind is not None
    assert FLOOR.bind({}) is not FLOOR.bind({})


def test_exact_totals_are_checked_and_a_wrong_one_fails_the_candidate() -> None:
    def exact(ns: Namespace) -> int:
        return int(ns["c"].load())

    def one_short(ns: Namespace) -> int:
        return int(ns["c"].load()) - 1

    report = run(
        [
            Candidate("exact", "g", "c.inc()", lambda: {"c": AtomicCounter()}, total=exact),
            Candidate("lossy", "g", "c.inc()", lambda: {"c": AtomicCounter()}, total=one_short),
        ],
        TINY,
    )
    measured = {m.candidate.name for m in report.measurements}
    assert "exact" in measured
    assert "lossy" not in measured
    reason = next(s.reason for s in report.skipped if s.name == "lossy")
    assert reason.startswith("wrong total: 1 thread(s): counted ")
    assert "3 thread(s)" in reason
