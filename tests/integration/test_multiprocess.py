"""MultiProcessRegistry with real processes: fork, SIGKILL, gunicorn."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as text_fd_to_metric_families,
)
from prometheus_client.parser import text_string_to_metric_families

from atomicmetrics import (
    AtomicCounter,
    RuleExecutionMetric,
    generate_openmetrics,
    generate_text,
    start_http_server,
)
from atomicmetrics.multiprocess import ENV_VAR, MultiProcessRegistry
from atomicmetrics.multiprocess.errors import ArenaError
from atomicmetrics.storage import MULTIPROCESS_MODES, CellKey
from tests.helpers import fork, join

pytestmark = [
    pytest.mark.integration,
    # Forking a process that runs threads is what these tests are about.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

HERE = Path(__file__).parent
SCRAPE_BOUND_S = 5.0


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, parsed by prometheus_client."""
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(registry: MultiProcessRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    start = time.monotonic()
    text = generate_text(registry)
    assert time.monotonic() - start < SCRAPE_BOUND_S
    return samples(text)


def test_four_processes_times_100k_increments_sum_exactly(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    jobs = reg.counter("jobs", "Jobs done.")
    by_kind = reg.counter("items_total", "Items.", ("kind",))

    def work() -> None:
        ok = by_kind.labels("ok")
        for _ in range(100_000):
            jobs.inc()
        for _ in range(1000):
            ok.inc()
        by_kind.labels("half").inc(0.5)

    pids = [fork(work) for _ in range(4)]
    assert [join(p) for p in pids] == [0] * 4
    got = scrape(reg)
    assert got[("jobs_total", ())] == 400_000
    assert got[("items_total", (("kind", "ok"),))] == 4000
    assert got[("items_total", (("kind", "half"),))] == 2.0
    with start_http_server(0, registry=reg) as server:
        text = get(f"http://127.0.0.1:{server.port}/metrics")
    assert samples(text)[("jobs_total", ())] == 400_000
    families = {f.name: f for f in text_fd_to_metric_families(generate_openmetrics(reg).decode())}
    assert families["jobs"].samples[0].value == 400_000


def test_rule_metric_and_histogram_sum_across_processes(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    rule = reg.rule_execution("rule", "Rules.", ("rule",), buckets=(1_000, 1_000_000))
    hist = reg.histogram("latency", "Latency.", buckets=(0.1, 1.0))

    def work() -> None:
        child = rule.labels("r1")
        for i in range(1000):
            child.record(500 if i % 2 else 5_000, error=i % 10 == 0)
            hist.observe(0.5)

    pids = [fork(work) for _ in range(3)]
    assert [join(p) for p in pids] == [0] * 3
    got = scrape(reg)
    r1 = (("rule", "r1"),)
    assert got[("rule_executions_total", r1)] == 3000
    assert got[("rule_errors_total", r1)] == 300
    assert got[("rule_duration_seconds_count", r1)] == 3000
    assert got[("rule_duration_seconds_bucket", (("le", "1e-06"), *r1))] == 1500
    assert got[("rule_duration_min_seconds", r1)] == pytest.approx(500e-9)
    assert got[("rule_duration_max_seconds", r1)] == pytest.approx(5_000e-9)
    assert got[("latency_count", ())] == 3000
    assert got[("latency_bucket", (("le", "1.0"),))] == 3000
    assert got[("latency_bucket", (("le", "0.1"),))] == 0
    assert got[("latency_sum", ())] == pytest.approx(1500.0)


def test_family_created_after_fork_in_a_child_is_visible_to_the_parent(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)

    def work() -> None:
        reg.counter("late", "Made in a child.", ("where",)).labels("child").inc(7)
        reg.throughput("events", "Events.", window_s=10.0).record(5, latency_ns=10)

    assert join(fork(work)) == 0
    got = scrape(reg)
    assert got[("late_total", (("where", "child"),))] == 7
    assert got[("events_events_total", ())] == 5
    assert got[("events_samples_total", ())] == 1
    # The parent asking for the same family gets the one the child made; its
    # child reads the parent's own shard (nothing recorded here), a scrape
    # reads every process's.
    late = reg.counter("late", "Made in a child.", ("where",)).labels("child")
    assert late.value() == 0
    late.inc()
    assert scrape(reg)[("late_total", (("where", "child"),))] == 8
    with pytest.raises(ValueError, match="late"):
        reg.gauge("late", "Another type.")


def test_processes_creating_the_same_series_at_once_make_one(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    go_r, go_w = os.pipe()

    def work() -> None:
        os.read(go_r, 1)
        fam = reg.counter("race", "Raced.", ("n",))
        for n in range(200):
            fam.labels(str(n)).inc()

    pids = [fork(work) for _ in range(4)]
    os.write(go_w, b"gogo")
    assert [join(p) for p in pids] == [0] * 4
    got = scrape(reg)
    race = {k: v for k, v in got.items() if k[0] == "race_total"}
    assert len(race) == 200
    assert set(race.values()) == {4}


def spawned_worker(reg: MultiProcessRegistry, n: int) -> None:
    """Runs in a spawned interpreter: the registry arrived pickled."""
    fam = reg.counter("spawned", "Spawned.", ("by",))
    for _ in range(n):
        fam.labels("spawn").inc()


def test_spawned_processes_get_the_registry_by_pickle(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=spawned_worker, args=(reg, 1000)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert scrape(reg)[("spawned_total", (("by", "spawn"),))] == 2000


class Worker:
    """A forked child that runs commands sent over a pipe until told to exit."""

    def __init__(self, reg: MultiProcessRegistry, commands: dict[str, Callable[[], None]]):
        self._cmd_r, self._cmd_w = os.pipe()
        self._ack_r, self._ack_w = os.pipe()

        def serve() -> None:
            while True:
                name = os.read(self._cmd_r, 64).decode()
                if name in ("exit", ""):
                    return
                commands[name]()
                os.write(self._ack_w, b"k")

        self.pid = fork(serve)

    def do(self, name: str) -> None:
        os.write(self._cmd_w, name.encode())
        assert os.read(self._ack_r, 1) == b"k"

    def stop(self) -> None:
        os.write(self._cmd_w, b"exit")
        assert join(self.pid) == 0
        self.pid = 0

    def kill(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            join(self.pid)
            self.pid = 0


def test_gauge_modes_keep_or_drop_dead_processes_as_prometheus_client(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    gauges = {m: reg.gauge(f"g_{m}", f"Mode {m}.", multiprocess_mode=m) for m in MULTIPROCESS_MODES}
    labelled = reg.gauge("lab", "Labelled.", ("k",), multiprocess_mode="livesum")
    for g in gauges.values():
        g.set(1)  # the parent is a process like any other

    def setter(value: float) -> Callable[[], None]:
        def set_all() -> None:
            for g in gauges.values():
                g.set(value)
            labelled.labels("a").inc(value)

        return set_all

    workers = [Worker(reg, {"set": setter(v)}) for v in (10, 20, 30)]
    try:
        check_gauge_modes(reg, workers)
    finally:  # a failed assertion must not leave workers waiting on their pipes
        for w in workers:
            w.kill()


def pid_series(got: dict[Any, float], name: str) -> dict[str, float]:
    return {dict(k[1])["pid"]: v for k, v in got.items() if k[0] == name}


def check_gauge_modes(reg: MultiProcessRegistry, workers: list[Worker]) -> None:
    for w in workers:
        w.do("set")  # in order: 10, 20, 30 is the most recent
    me = str(os.getpid())
    pids = [str(w.pid) for w in workers]
    got = scrape(reg)
    everyone = {me: 1, pids[0]: 10, pids[1]: 20, pids[2]: 30}
    assert pid_series(got, "g_all") == pid_series(got, "g_liveall") == everyone
    for mode, value in [("sum", 61), ("max", 30), ("min", 1), ("mostrecent", 30)]:
        assert got[(f"g_{mode}", ())] == got[(f"g_live{mode}", ())] == value, mode
    assert got[("lab", (("k", "a"),))] == 60

    workers[2].stop()  # the 30 is gone
    workers[0].stop()  # and the 10
    got = scrape(reg)
    # all, min, max, sum, mostrecent keep a dead process's last value ...
    assert pid_series(got, "g_all") == everyone
    assert (got[("g_sum", ())], got[("g_max", ())], got[("g_min", ())]) == (61, 30, 1)
    assert got[("g_mostrecent", ())] == 30
    # ... the live modes count live processes only
    assert pid_series(got, "g_liveall") == {me: 1, pids[1]: 20}
    assert (got[("g_livesum", ())], got[("g_livemax", ())], got[("g_livemin", ())]) == (21, 20, 1)
    assert got[("g_livemostrecent", ())] == 20
    assert got[("lab", (("k", "a"),))] == 20

    for g in ("mostrecent", "livemostrecent"):
        reg.gauge(f"g_{g}", f"Mode {g}.", multiprocess_mode=g).set(5)  # the parent, last
    got = scrape(reg)
    assert got[("g_mostrecent", ())] == got[("g_livemostrecent", ())] == 5

    # mark_process_dead: a live process stops counting in the live modes only.
    reg.mark_process_dead(workers[1].pid)
    got = scrape(reg)
    assert pid_series(got, "g_liveall") == {me: 1}
    assert got[("g_livesum", ())] == 1
    assert got[("g_sum", ())] == 61
    assert pid_series(got, "g_all") == everyone
    assert ("lab", (("k", "a"),)) not in got
    workers[1].stop()
    got = scrape(reg)
    assert pid_series(got, "g_liveall") == {me: 1}
    assert got[("g_livemax", ())] == 1
    assert got[("g_max", ())] == 30


def test_a_worker_killed_mid_recording_loses_no_acknowledged_update(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    rule = reg.rule_execution("victim", "Killed.", buckets=(1_000,))
    hist = reg.histogram("victim_h", "Killed.", buckets=(1.0,))
    count = reg.counter("victim_c", "Killed.")
    ack_r, ack_w = os.pipe()

    def work() -> None:
        n = 0
        while True:
            rule.record(n % 2000)
            hist.observe(0.5)
            count.inc()
            n += 1
            if n % 100 == 0:
                os.write(ack_w, n.to_bytes(8, "little"))

    pid = fork(work)
    acked = 0
    try:
        while acked < 50_000:
            acked = int.from_bytes(os.read(ack_r, 8), "little")
    finally:  # also when reading failed: never leave the loop running
        os.kill(pid, signal.SIGKILL)
        assert os.waitpid(pid, 0)[1] != 0
    while True:  # the last acknowledgements still in the pipe
        os.set_blocking(ack_r, False)
        try:
            acked = int.from_bytes(os.read(ack_r, 8), "little")
        except BlockingIOError:
            break
    got = scrape(reg)
    assert got[("victim_executions_total", ())] >= acked
    assert got[("victim_h_count", ())] >= acked
    assert got[("victim_c_total", ())] >= acked
    # Recording goes on in the arena the dead worker left.
    rule.record(1)
    assert scrape(reg)[("victim_executions_total", ())] >= acked + 1


@pytest.mark.parametrize(
    ("what", "word"),
    [
        ("writer killed between its first and last word", 1),
        ("reader killed holding the lock", 1 << 62),
    ],
)
def test_a_process_killed_inside_the_hot_cold_protocol_does_not_hang_scrapes(
    tmp_path: Path, what: str, word: int
) -> None:
    """Deterministic versions of a SIGKILL at the worst instruction.

    Word 0 of a rule-metric cell is its control word (csrc/hotcold.h): a
    writer adds 1 there first and completes with its bucket add; a reader
    sets bit 62 while it snapshots. The child leaves either half-done and
    is SIGKILLed; every later scrape must stay bounded and exact.
    """
    reg = MultiProcessRegistry(tmp_path)
    rule = reg.rule_execution("victim", "Killed.", buckets=(1_000,))
    rule.record(10)

    def die_mid_operation() -> None:
        rule.record(20)
        # This process's shard of the series: the words its rule.record wrote.
        nbytes = RuleExecutionMetric._cell_bytes(1)
        view, offset = reg._arena_storage._shard(CellKey("victim", (), "rule"), nbytes)
        AtomicCounter._from_buffer(view, offset).add(word)
        os.kill(os.getpid(), signal.SIGKILL)

    pid = fork(die_mid_operation)
    assert os.waitpid(pid, 0)[1] != 0
    for _ in range(3):
        got = scrape(reg)
        assert got[("victim_executions_total", ())] == 2, what
        assert got[("victim_duration_seconds_count", ())] == 2, what
    rule.record(30)
    assert scrape(reg)[("victim_executions_total", ())] == 3


def test_corrupt_or_foreign_arena_raises_a_clear_error(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path / "ok")
    reg.counter("c", "C.").inc()
    (tmp_path / "ok" / "atomicmetrics-00.arena").write_bytes(b"\x7fELF" + bytes(8000))
    with pytest.raises(ArenaError, match=r"atomicmetrics-00\.arena.*delete the directory"):
        MultiProcessRegistry(tmp_path / "ok")
    assert isinstance(ArenaError("x"), ValueError)


def test_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ValueError, match=ENV_VAR):
        MultiProcessRegistry.from_env()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    reg = MultiProcessRegistry.from_env()
    reg.counter("env", "Env.").inc(3)
    assert scrape(MultiProcessRegistry(tmp_path))[("env_total", ())] == 3


# ---- gunicorn -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """A running gunicorn master: its URL and process."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.proc = proc

    def worker_pids(self) -> set[int]:
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return {int(p) for p in f.read().split()}


@pytest.fixture(params=["preload", "import-in-workers"])
def gunicorn(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Gunicorn]:
    """gunicorn, 4 sync workers, the registry made in the master or in each
    worker, started over a stale arena an earlier run left in the directory."""
    pytest.importorskip("gunicorn")
    earlier = MultiProcessRegistry(tmp_path / "arena")
    earlier.rule_execution("requests", "Requests served.", ("path",)).labels("/work").record(1)
    earlier.counter("earlier_run", "Only the earlier run made this.").inc()
    earlier._arena.dir.close()  # that run is over: it no longer holds the directory
    del earlier
    port = free_port()
    pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ,
        **{
            ENV_VAR: str(tmp_path / "arena"),
            "PYTHONPATH": pythonpath,
            "AM_TEST_PRELOAD": "1" if request.param == "preload" else "0",
        },
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(HERE / "gunicorn_conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "gunicorn_app:app",
            ],
            env=env,
            cwd=HERE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(url + "/ping")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield Gunicorn(url, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def test_gunicorn_sync_workers_expose_every_request(gunicorn: Gunicorn) -> None:
    """The recipe of docs/multiprocess.md, with and without preload_app: the
    earlier run's arena is gone, every worker's requests are counted, and a
    reload (SIGHUP re-reads the config, new workers replace the old ones)
    deletes nothing and loses nothing."""
    n = 400
    metric = ("requests_executions_total", (("path", "/work"),))

    def load() -> None:
        with ThreadPoolExecutor(8) as pool:  # concurrent: every worker gets some
            pids = set(pool.map(lambda _: get(gunicorn.url + "/work"), range(n)))
        assert len(pids) >= 2, "requests should have been spread over several workers"

    load()
    for _ in range(8):  # whichever worker answers, it sees every worker's data
        got = samples(get(gunicorn.url + "/metrics"))
        assert got[metric] == n
        assert ("earlier_run_total", ()) not in got
    old_workers = gunicorn.worker_pids()
    gunicorn.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while gunicorn.worker_pids() & old_workers or len(gunicorn.worker_pids()) < 4:
        assert time.monotonic() < deadline, "gunicorn did not replace its workers"
        time.sleep(0.1)
    load()
    assert samples(get(gunicorn.url + "/metrics"))[metric] == 2 * n
