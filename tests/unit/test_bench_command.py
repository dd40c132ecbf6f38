"""``atomicmetrics bench`` called in-process (bench/command.py): options, output, JSON, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from atomicmetrics.bench.candidates import CANDIDATES
from atomicmetrics.bench.command import ProgressBar
from atomicmetrics.bench.harness import FLOOR, Unavailable
from atomicmetrics.cli import main
from tests.helpers import assert_usage_error

FAST = ["--rounds", "2", "--rep-ms", "0.2"]


def _available(names: list[str]) -> list[str]:
    out = []
    for c in CANDIDATES:
        if c.name not in names:
            continue
        try:
            ns = c.setup()
        except Unavailable:
            continue
        if c.teardown is not None:
            c.teardown(ns)
        out.append(c.name)
    return out


def test_bench_quick_json_has_every_available_candidate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    rc = main(["bench", "--quick", *FAST, "--json", str(out), "--filter", "^(counter|reads)$"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert set(doc) >= {"environment", "results"}
    env = doc["environment"]
    assert {"python", "free_threaded_build", "gil_enabled", "cpu_count", "load_average"} <= set(env)
    wanted = [c.name for c in CANDIDATES if c.group in ("counter", "reads")]
    expected = {FLOOR.name, *_available(wanted)}
    assert {r["name"] for r in doc["results"]} == expected
    for r in doc["results"]:
        assert r["threads"] in (1, 2)
        assert r["ns_per_op"] > 0
        assert r["ratio_to_floor"] > 0
    assert {(r["name"], r["threads"]) for r in doc["results"]} == {
        (n, t) for n in expected for t in (1, 2)
    }
    skipped = {s["name"] for s in doc["skipped"]}
    assert skipped == set(wanted) - expected
    text = capsys.readouterr().out
    assert "interpreter:" in text
    assert "load average:" in text
    assert "AtomicCounter.inc()" in text
    assert "faster than MutexCounter" in text or "slower than MutexCounter" in text


def test_bench_threads_and_markdown_options(tmp_path: Path) -> None:
    out, md = tmp_path / "b.json", tmp_path / "b.md"
    argv = ["bench", *FAST, "--threads", "3", "--filter", "AtomicCounter.load"]
    assert main([*argv, "--json", str(out), "--markdown", str(md)]) == 0
    doc = json.loads(out.read_text())
    assert {r["threads"] for r in doc["results"]} == {3}
    assert {r["name"] for r in doc["results"]} == {FLOOR.name, "AtomicCounter.load()"}
    lines = md.read_text().splitlines()
    assert lines[0].startswith("- interpreter: ")
    assert "| group | candidate | thr | ns/op | x floor | vs baselines |" in lines
    rows = [line for line in lines if line.startswith("| reads | AtomicCounter.load() | 3 |")]
    assert len(rows) == 1


def test_bench_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list", "--filter", "histogram"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines
    assert all("histogram" in line.lower() for line in lines)


def test_bench_filter_matching_nothing_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--filter", "no-such-candidate"]) == 2
    assert "no candidate matches" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["bench", "--threads", "0"], "between 1 and"),
        (["bench", "--threads", "1,x"], "comma-separated thread counts"),
        (["bench", "--filter", "("], "not a valid regular expression"),
        (["bench", "--rounds", "0"], "at least 1"),
        (["bench", "--rep-ms", "nan"], "positive finite"),
        (["bench", "--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_usage_error(argv, message, capsys)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only() -> None:
    tty = _Tty()
    bar = ProgressBar(tty)
    bar(1, 4, "first")
    bar(4, 4, "last")
    bar.finish()
    drawn = tty.getvalue()
    assert "[" + "#" * 7 in drawn
    assert "25% first" in drawn
    assert "100% last" in drawn
    assert drawn.endswith("\r")
    plain = io.StringIO()
    quiet = ProgressBar(plain)
    quiet(1, 2, "x")
    quiet.finish()
    assert plain.getvalue() == ""


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "b.png"
    assert (
        main(["bench", *FAST, "--threads", "1,2", "--filter", "^counter$", "--plot", str(png)]) == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
