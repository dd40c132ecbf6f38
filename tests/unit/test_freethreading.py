"""Free-threaded CPython (3.13t): the GIL stays off, and the places where a
GIL used to serialise things for us are hammered from threads.

The build-specific tests skip with a reason on GIL builds; the hammer tests
run everywhere (on a GIL build they still check exact totals with a tiny
switch interval) and are the point of running this suite on 3.13t.
"""

from __future__ import annotations

import gc
import mmap
import os
import subprocess
import sys
import sysconfig

import pytest

from atomicmetrics import (
    AsyncMetricRecorder,
    AsyncMetricsConfig,
    AtomicCounter,
    Registry,
    StripedCounter,
    _core,
    generate_text,
)
from tests.helpers import THREADS, run_threads

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED, reason="needs a free-threaded CPython build (python3.13t)"
)


def test_core_reports_the_build_it_was_compiled_for() -> None:
    assert bool(_core.FREE_THREADED_BUILD) == FREE_THREADED


@needs_free_threading
def test_importing_atomicmetrics_keeps_the_gil_off() -> None:
    # A fresh interpreter: an extension without Py_mod_gil would turn the GIL
    # back on at import (with a RuntimeWarning, made an error here).
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = (
        "import sys, atomicmetrics\n"
        "import atomicmetrics._core\n"
        "assert not sys._is_gil_enabled(), 'GIL re-enabled by import'\n"
        "print('gil off')\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "gil off"


@needs_free_threading
def test_gil_is_off_in_this_test_run() -> None:
    # Nothing the suite imported (atomicmetrics, hypothesis, pytest) has
    # turned it back on; otherwise the hammer tests below prove nothing.
    assert not sys._is_gil_enabled()


def test_striped_table_is_published_once_under_a_racing_first_contention() -> None:
    # Lazy initialisation: every thread may find table == NULL and allocate;
    # exactly one table must win and no update may land in a loser's copy.
    rounds, n = 20, 2_000
    for _ in range(rounds):
        c = StripedCounter()

        def work(_: int, c: StripedCounter = c) -> int:
            inc = c.inc
            for _ in range(n):
                inc()
            return c._spread()

        sizes = run_threads(THREADS, work)
        assert len(set(sizes)) == 1
        assert c.load() == THREADS * n
        assert sum(c._cells()) == THREADS * n


def test_shared_counter_objects_created_and_dropped_from_threads() -> None:
    # Object lifetime without a GIL: creating, using and freeing counters on
    # many threads at once (allocator, refcounts, stripe tables freed in
    # dealloc) while a shared counter counts the work exactly.
    total = AtomicCounter()
    n = 2_000

    def work(_: int) -> None:
        for i in range(n):
            s = StripedCounter(i)
            s.inc()
            if i % 64 == 0:
                s._spread()
            total.add(s.load() - i)
            del s

    run_threads(THREADS, work)
    assert total.load() == THREADS * n


def test_arena_cells_made_and_released_from_threads() -> None:
    # Each thread takes its own view of one shared mapping, makes cells on
    # the same word, releases its view at once (the cells pin the export)
    # and counts: exact, and the mapping outlives every released view.
    m = mmap.mmap(-1, mmap.PAGESIZE)
    n = 5_000

    def work(_: int) -> None:
        view = memoryview(m)
        cells = [AtomicCounter._from_buffer(view, 64) for _ in range(4)]
        view.release()
        for i in range(n):
            cells[i % 4].inc()

    run_threads(THREADS, work)
    assert AtomicCounter._from_buffer(memoryview(m), 64).load() == THREADS * n
    gc.collect()
    m.close()


def test_registry_get_or_create_from_threads_makes_one_family() -> None:
    # Registry dicts: 8 threads ask for the same families at once; each name
    # must map to one family, and every thread's increments land in it.
    reg = Registry()
    n = 2_000

    def work(i: int) -> list[object]:
        fams = [reg.counter(f"ft_hammer_{k}", "hammer", ("worker",)) for k in range(5)]
        child = fams[i % 5].labels(str(i % 2))
        for _ in range(n):
            child.inc()
        return fams

    results = run_threads(THREADS, work)
    for k in range(5):
        assert len({id(r[k]) for r in results}) == 1  # type: ignore[index]
    text = generate_text(reg).decode()
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ft_hammer_") and "_total{" in line
    )
    assert total == THREADS * n


def test_label_children_created_removed_and_scraped_from_threads() -> None:
    # Label child creation (lock) + lock-free lookup + remove + collect (a
    # dict copy) all at once: nothing raises, kept children count exactly.
    reg = Registry()
    fam = reg.counter("ft_churn", "churn", ("k",))
    n = 1_000

    def work(i: int) -> None:
        if i == 0:
            for _ in range(n // 10):
                generate_text(reg)
            return
        for j in range(n):
            fam.labels("stable").inc()
            tmp = fam.labels(f"tmp-{i}-{j % 7}")
            tmp.inc()
            if j % 7 == 6:
                fam.remove(f"tmp-{i}-{j % 7}")

    run_threads(THREADS, work)
    assert fam.labels("stable").value() == (THREADS - 1) * n


def test_async_recorder_applies_every_call_from_threads() -> None:
    # Recorder state: producers on 8 threads, 2 workers; after flush() every
    # accepted call has been applied exactly once.
    target = AtomicCounter()
    n = 2_000
    cfg = AsyncMetricsConfig(buffer_size=1_024, worker_count=2, drop_on_overflow=False)
    with AsyncMetricRecorder(cfg) as rec:

        def work(_: int) -> None:
            for _ in range(n):
                assert rec.record(target.add, 1)

        run_threads(THREADS, work)
        assert rec.flush(timeout_s=60)
        stats = rec.stats()
    assert target.load() == THREADS * n
    assert stats.processed == stats.enqueued == THREADS * n
    assert stats.dropped == stats.failed == 0
