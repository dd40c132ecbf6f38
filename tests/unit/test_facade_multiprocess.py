"""The facade's multi-process mode: PROMETHEUS_MULTIPROC_DIR on the shared arena.

Each case runs in a fresh interpreter (the mode is chosen by the environment
when the first series is made) that forks workers and scrapes through
``MultiProcessCollector``, as a gunicorn app does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import atomicmetrics.prometheus_client as pc
from atomicmetrics.prometheus_client import multiprocess


def run(code: str, directory: Path) -> str:
    prologue = f"""
        import os
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(directory)!r}
        import atomicmetrics.prometheus_client as pc
        from atomicmetrics.prometheus_client import multiprocess

        def scrape():
            reg = pc.CollectorRegistry()
            multiprocess.MultiProcessCollector(reg)
            return {{
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for m in reg.collect() for s in m.samples
            }}, {{m.name: m.type for m in reg.collect()}}

        def in_children(n, work):
            pids = []
            for _ in range(n):
                pid = os.fork()
                if pid == 0:
                    try:
                        work()
                    finally:
                        os._exit(0)
                pids.append(pid)
            for pid in pids:
                assert os.waitpid(pid, 0)[1] == 0
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(prologue) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_counters_histograms_summaries_add_up_across_forks(tmp_path: Path) -> None:
    out = run(
        """
        jobs = pc.Counter("jobs", "Jobs.", ["queue"])
        lat = pc.Histogram("latency_seconds", "Latency.", buckets=[0.1, 1])
        size = pc.Summary("size_bytes", "Sizes.")
        jobs.labels("a").inc()

        def work():
            for i in range(1000):
                jobs.labels("a").inc()
                lat.observe(0.5)
                size.observe(2)
            pc.Counter("late", "Made after the fork.").inc(3)

        in_children(4, work)
        samples, types = scrape()
        assert samples[("jobs_total", (("queue", "a"),))] == 4001.0, samples
        assert samples[("latency_seconds_bucket", (("le", "1.0"),))] == 4000.0
        assert samples[("latency_seconds_count", ())] == 4000.0
        assert samples[("size_bytes_count", ())] == 4000.0
        assert samples[("size_bytes_sum", ())] == 8000.0
        assert not any(name.startswith("size_bytes_bucket") for name, _ in samples)
        assert samples[("late_total", ())] == 12.0
        assert types == {
            "jobs": "counter", "latency_seconds": "histogram",
            "size_bytes": "summary", "late": "counter",
        }, types
        print("ok")
        """,
        tmp_path,
    )
    assert out == "ok"


def test_gauge_modes(tmp_path: Path) -> None:
    out = run(
        """
        busy = pc.Gauge("busy", "Busy workers.", multiprocess_mode="livesum")
        peak = pc.Gauge("peak", "Peak.", multiprocess_mode="max")
        each = pc.Gauge("each", "Per process.")
        busy.inc()
        peak.set(1)
        each.set(7)

        def work():
            busy.inc(10)
            peak.set(99)
            each.set(5)

        in_children(2, work)
        samples, _ = scrape()
        assert samples[("busy", ())] == 1.0  # the dead children no longer count
        assert samples[("peak", ())] == 99.0  # "max" keeps a dead process's value
        assert sorted(v for (n, _), v in samples.items() if n == "each") == [5.0, 5.0, 7.0]
        assert str(os.getpid()) in [dict(l)["pid"] for (n, l) in samples if n == "each"]
        live = pc.Gauge("live", "Live only.", multiprocess_mode="liveall")
        live.set(3)
        samples, _ = scrape()
        assert [dict(l)["pid"] for (n, l) in samples if n == "live"] == [str(os.getpid())]
        print("ok")
        """,
        tmp_path,
    )
    assert out == "ok"


def test_collector_needs_a_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ValueError, match="PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(None)
    with pytest.raises(ValueError, match="PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(None, path=str(tmp_path / "missing"))
    assert multiprocess.mark_process_dead(12345) is None


def test_in_process_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    c = pc.Counter("solo", "Solo.", registry=None)
    assert multiprocess.shared_series("counter", c) is None
