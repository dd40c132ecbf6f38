"""``python -m atomicmetrics`` as a real process: the installed front door."""

from __future__ import annotations

import json
import subprocess
import sys
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
