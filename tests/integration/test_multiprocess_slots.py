"""Process slots and shards, and the limits every process must agree on.

Forked workers record into shards of their own and take over the slots of
dead workers (memory bounded by the peak of live ones); ``max_series`` and
name claims are settled once for the whole arena, whichever process asks.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from atomicmetrics import CardinalityError, generate_text
from atomicmetrics.multiprocess import MultiProcessRegistry
from atomicmetrics.multiprocess.processes import start_time, token, token_alive
from tests.helpers import fork, join, run_at_once

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]


def samples(reg: MultiProcessRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(generate_text(reg).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def shard_slots(directory: Path) -> set[str]:
    return {p.name.split("-")[1] for p in directory.iterdir() if p.suffix == ".shard"}


def test_workers_after_workers_reuse_dead_slots_and_lose_nothing(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    jobs = reg.counter("jobs", "Jobs.")
    jobs.inc()  # the parent's own slot

    def work() -> None:
        for _ in range(1000):
            jobs.inc()

    for _ in range(12):  # one at a time: each takes over the last one's slot
        assert join(fork(work)) == 0
    assert samples(reg)[("jobs_total", ())] == 12_001
    assert len(shard_slots(tmp_path)) == 2  # the parent's, and one reused twelve times
    assert run_at_once(3, lambda i: work()) == [0] * 3  # three live slots at the peak
    assert samples(reg)[("jobs_total", ())] == 15_001
    assert len(shard_slots(tmp_path)) == 4


def test_a_forked_child_records_into_its_own_shard(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    hits = reg.counter("hits", "Hits.", ("k",))
    child = hits.labels("a")
    child.inc(5)
    inc = child.inc  # bound before the fork: still the child's own shard after it
    r, w = os.pipe()

    def work() -> None:
        assert child.value() == 0  # a fresh slot: nothing recorded here yet
        inc()
        child.inc(2)
        os.write(w, str(reg._arena_storage.slots.slot.number).encode())

    assert join(fork(work)) == 0
    assert int(os.read(r, 16)) != reg._arena_storage.slots.slot.number
    assert child.value() == 5  # the parent's shard was not touched
    assert samples(reg)[("hits_total", (("k", "a"),))] == 8


def test_a_stopped_process_keeps_its_slot(tmp_path: Path) -> None:
    """Slow is not dead: liveness is the pid running with its start time."""
    reg = MultiProcessRegistry(tmp_path)
    reg.counter("c", "C.").inc()
    r, w = os.pipe()

    def stop_self() -> None:
        os.write(w, str(reg._arena_storage.slots.slot.number).encode().ljust(8))
        os.kill(os.getpid(), signal.SIGSTOP)

    stopped = fork(stop_self)
    try:
        taken = int(os.read(r, 8))

        def other() -> None:
            assert reg._arena_storage.slots.slot.number != taken

        assert join(fork(other)) == 0
        assert stopped in reg.live_processes()
    finally:
        os.kill(stopped, signal.SIGKILL)
        os.waitpid(stopped, 0)
    assert stopped not in reg.live_processes()
    assert os.getpid() in reg.live_processes()


def test_a_recycled_pid_or_a_zombie_is_dead() -> None:
    me = os.getpid()
    assert token_alive(token(me, start_time(me)))
    assert not token_alive(token(me, start_time(me) + 1))  # same pid, another process
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os._exit(0)
    try:
        for _ in range(1000):  # until the child has exited (a zombie, not reaped)
            if not token_alive(token(pid, start_time(pid))):
                break
            os.sched_yield()
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().split(") ")[1][0] == "Z"
        assert not token_alive(token(pid, 0))
    finally:
        os.waitpid(pid, 0)


def test_max_series_holds_across_processes(tmp_path: Path) -> None:
    """Five workers with max_series=100 exposed 500 series; now 100 in all."""
    reg = MultiProcessRegistry(tmp_path)
    fam = reg.counter("hits", "Hits.", ("n",), max_series=100)
    r, w = os.pipe()

    def explode(i: int) -> None:
        made = 0
        for n in range(100):
            try:
                fam.labels(f"{i}-{n}").inc()
                made += 1
            except CardinalityError:
                pass
        os.write(w, bytes([made]))

    assert run_at_once(5, explode) == [0] * 5
    made = sum(os.read(r, 5))
    got = {k: v for k, v in samples(reg).items() if k[0] == "hits_total"}
    assert made == len(got) == 100
    assert set(got.values()) == {1}
    with pytest.raises(CardinalityError, match="max_series=100"):
        fam.labels("parent").inc()  # the parent counts the workers' series too
    fam.remove(dict(next(iter(got))[1])["n"])  # a series some worker made
    fam.labels("parent").inc()  # a removal anywhere makes room everywhere
    assert len([k for k in samples(reg) if k[0] == "hits_total"]) == 100


def test_collapse_holds_across_processes(tmp_path: Path) -> None:
    """Collapse with max_series=10 over three workers exposed 31 series; now 11."""
    reg = MultiProcessRegistry(tmp_path)
    fam = reg.counter("hits", "Hits.", ("n",), max_series=10, on_overflow="collapse")

    def explode(i: int) -> None:
        for n in range(20):
            fam.labels(f"{i}-{n}").inc()

    assert run_at_once(3, explode) == [0] * 3
    got = {k: v for k, v in samples(reg).items() if k[0] == "hits_total"}
    assert len(got) == 11
    assert got[("hits_total", (("n", "__overflow__"),))] == 60 - 10
    assert sum(got.values()) == 60


def single_process_error(
    first: Callable[[MultiProcessRegistry], object],
    second: Callable[[MultiProcessRegistry], object],
    directory: Path,
) -> str:
    reg = MultiProcessRegistry(directory)
    first(reg)
    with pytest.raises(ValueError, match="is already used by family") as info:
        second(reg)
    return str(info.value)


@pytest.mark.parametrize("trials", [40])
def test_racing_name_claims_land_exactly_one_family(tmp_path: Path, trials: int) -> None:
    """A counter ``x`` and a gauge ``x_total`` made at once in two workers both
    landed (3,247 of 4,092 trials); now one wins, the other gets the error a
    single process gives, and every scrape and factory call keeps working."""
    messages = {
        "counter": single_process_error(
            lambda r: r.gauge("x_total", "G."), lambda r: r.counter("x", "C."), tmp_path / "one"
        ),
        "gauge": single_process_error(
            lambda r: r.counter("x", "C."), lambda r: r.gauge("x_total", "G."), tmp_path / "two"
        ),
    }
    for trial in range(trials):
        reg = MultiProcessRegistry(tmp_path / f"t{trial}")
        r, w = os.pipe()
        assert run_at_once(2, make_claim(reg, w)) == [0, 0]
        answers = [os.read(r, 200).decode().strip() for _ in range(2)]
        won = [a for a in answers if a == "won"]
        lost = [a for a in answers if a != "won"]
        assert len(won) == len(lost) == 1, answers
        kind, message = lost[0].split(":", 1)
        assert message == messages[kind]
        text = generate_text(reg).decode()  # every process can still scrape ...
        names = {f.name for f in text_string_to_metric_families(text)}
        assert len(names & {"x", "x_total"}) == 1
        reg.counter("other", "O.").inc()  # ... and make families
        os.close(r)
        os.close(w)


def make_claim(reg: MultiProcessRegistry, w: int) -> Callable[[int], None]:
    """Worker 0 makes a counter ``x``, worker 1 a gauge ``x_total``; each
    writes "won" or "<what it made>:<the error>"."""

    def claim(i: int) -> None:
        try:
            if i == 0:
                reg.counter("x", "C.").inc()
            else:
                reg.gauge("x_total", "G.").set(1)
            os.write(w, b"won".ljust(200))
        except ValueError as e:
            os.write(w, f"{'counter' if i == 0 else 'gauge'}:{e}".encode().ljust(200))

    return claim
