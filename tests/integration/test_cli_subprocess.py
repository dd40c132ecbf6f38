"""``python -m atomicmetrics`` as a real process: the installed front door."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomicmetrics", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bench_quick_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = _run(
        "bench",
        "--quick",
        "--rounds",
        "2",
        "--rep-ms",
        "0.2",
        "--filter",
        "^reads$",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    doc = json.loads(out.read_text())
    names = {r["name"] for r in doc["results"]}
    assert "AtomicCounter.load()" in names
    assert "MutexCounter.load()" in names
    assert {r["threads"] for r in doc["results"]} == {1, 2}
    assert "AtomicCounter.load()" in proc.stdout


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    proc = _run("bench", "--threads", "two")
    assert proc.returncode == 2
    assert "usage: atomicmetrics bench" in proc.stderr
    assert "comma-separated thread counts" in proc.stderr


def _scrape(url: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            totals[s.name] = totals.get(s.name, 0.0) + s.value
    return totals


@contextlib.contextmanager
def _demo(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m atomicmetrics demo *args`` with piped text output, killed if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "atomicmetrics", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_serves_growing_metrics_and_exits_0() -> None:
    with _demo("--duration", "3", "--port", "0") as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", first)
        assert match, first
        url = match.group(1)
        time.sleep(0.5)
        before = _scrape(url)
        time.sleep(1.0)
        after = _scrape(url)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    for name in (
        "demo_rule_executions_total",
        "demo_rule_duration_seconds_count",
        "demo_events_samples_total",
    ):
        assert after[name] > before.get(name, 0.0), name
    assert "demo_rule_errors_total" in after
    assert "demo_events_events_per_second" in after
    assert "final summary" in out


def test_demo_stops_cleanly_on_sigterm() -> None:
    with _demo("--port", "0", "--rules", "4") as proc:
        assert proc.stdout is not None
        assert "serving http://" in proc.stdout.readline()
        time.sleep(1.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "final summary" in out


def test_bad_demo_arguments_exit_2() -> None:
    proc = _run("demo", "--level", "loud")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
