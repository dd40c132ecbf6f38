"""``atomicmetrics bench``: measure recording costs against the baselines.

The CLI glue around :mod:`atomicmetrics.bench.harness` (the engine) and
:mod:`atomicmetrics.bench.candidates` (what is measured): argument parsing,
the progress bar, the table, ``--json`` and ``--plot``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from atomicmetrics.bench.harness import Candidate, Report, Settings, describe_environment, run
from atomicmetrics.cli import positive_number, whole_number

__all__ = ["add_arguments", "run_command", "select"]

DEFAULT = Settings(threads=(1, 2, 4, 8), rounds=15, rep_ms=3.0)
QUICK = Settings(threads=(1, 2), rounds=5, rep_ms=1.0)
MAX_THREADS = 256


def _thread_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated thread counts like 1,2,4, got {text!r}"
        ) from None
    if not counts or any(not 1 <= n <= MAX_THREADS for n in counts):
        raise argparse.ArgumentTypeError(f"thread counts must be between 1 and {MAX_THREADS}")
    return tuple(dict.fromkeys(counts))


def _positive_int(text: str) -> int:
    return whole_number(text, 1)


def _positive_float(text: str) -> float:
    return positive_number(text, "finite number")


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"not a valid regular expression {text!r}: {e}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``atomicmetrics bench``."""
    parser.description = (
        "Time each candidate in one interleaved run, on 1..N threads sharing one object, "
        "against a floor (a bare C method call). ns/op is wall time per operation per "
        "thread; see docs/benchmarks.md."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run (threads {','.join(map(str, QUICK.threads))}, "
        f"{QUICK.rounds} rounds; well under 30 s)",
    )
    parser.add_argument(
        "--threads",
        type=_thread_counts,
        metavar="N,N,...",
        help=f"thread counts (default {','.join(map(str, DEFAULT.threads))})",
    )
    parser.add_argument(
        "--processes",
        type=_thread_counts,
        metavar="N,N,...",
        help="instead of threads: forked workers recording into one multi-process "
        "arena (one series, one series each, one shared word), at these process counts",
    )
    parser.add_argument(
        "--filter",
        type=_regex,
        metavar="REGEX",
        help="only candidates whose name or group matches (case-insensitive search); "
        "the floor always runs",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw a chart (needs matplotlib)")
    parser.add_argument(
        "--markdown", metavar="FILE", help="also write the table as Markdown, with its header"
    )
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        help=f"repetitions of each candidate (default {DEFAULT.rounds}, quick {QUICK.rounds})",
    )
    parser.add_argument(
        "--rep-ms",
        type=_positive_float,
        metavar="MS",
        help=f"single-thread length of one repetition (default {DEFAULT.rep_ms}, "
        f"quick {QUICK.rep_ms})",
    )
    parser.add_argument("--seed", type=int, help="seed of the interleaving order")
    parser.add_argument("--list", action="store_true", help="list the candidates and exit")


def select(candidates: Sequence[Candidate], pattern: re.Pattern[str] | None) -> list[Candidate]:
    """The candidates whose name or group ``pattern`` finds (all when None)."""
    if pattern is None:
        return list(candidates)
    return [c for c in candidates if pattern.search(c.name) or pattern.search(c.group)]


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal; silent elsewhere."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"\r[{bar}] {100 * done // max(total, 1):3d}% {label}"[:100]
        self._stream.write(line.ljust(101))
        self._stream.flush()

    def finish(self) -> None:
        if self._enabled:
            self._stream.write("\r" + " " * 101 + "\r")
            self._stream.flush()


def run_command(args: argparse.Namespace) -> int:
    """Run ``atomicmetrics bench`` with parsed arguments; returns the exit code."""
    from atomicmetrics.bench.candidates import CANDIDATES

    chosen = select(CANDIDATES, args.filter)
    if args.list:
        for c in chosen:
            print(f"{c.group:11} {c.kind:8} {c.name}")
        return 0
    if not chosen:
        print(f"atomicmetrics bench: no candidate matches {args.filter.pattern!r}", file=sys.stderr)
        return 2
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print(
            "atomicmetrics bench: --plot needs matplotlib "
            "(pip install matplotlib, or pip install 'atomicmetrics[bench]')",
            file=sys.stderr,
        )
        return 1
    if args.processes:
        return _run_processes(args)
    base = QUICK if args.quick else DEFAULT
    settings = Settings(
        threads=args.threads or base.threads,
        rounds=args.rounds or base.rounds,
        rep_ms=args.rep_ms or base.rep_ms,
        seed=args.seed,
    )
    bar = ProgressBar(sys.stderr)
    try:
        report = run(chosen, settings, progress=bar)
    finally:
        bar.finish()
    print(describe_environment(report.environment))
    print(
        f"method: {settings.rounds} interleaved repetitions of ~{settings.rep_ms:g} ms each; "
        "ns/op = median wall time per operation per thread"
    )
    print()
    print(report.table())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_json(report), f, indent=2)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(report.markdown())
    if args.plot:
        from atomicmetrics.bench.plot import plot

        plot(report, args.plot)
    return 0


def _run_processes(args: argparse.Namespace) -> int:
    """``--processes``: the forked-worker table (atomicmetrics.bench.processes)."""
    from atomicmetrics.bench.harness import environment
    from atomicmetrics.bench.processes import run_processes, table

    ops = 300_000 if args.quick else 2_000_000
    rounds = args.rounds or (3 if args.quick else 5)
    bar = ProgressBar(sys.stderr)
    try:
        results = run_processes(args.processes, ops=ops, rounds=rounds, progress=bar)
    finally:
        bar.finish()
    env = environment()
    print(describe_environment(env))
    print(
        f"method: {rounds} interleaved repetitions of {ops:,} inc() per process, forked "
        "workers released together; rate = all operations / (last end - first start); "
        "totals checked exactly"
    )
    print()
    print(table(results))
    if args.json:
        one = {r.layout: r.ops_per_s for r in results if r.processes == 1}
        rows = [
            {
                "name": r.layout,
                "processes": r.processes,
                "ns_per_op": r.ns_per_op,
                "ops_per_s": r.ops_per_s,
                "ratio_to_one_process": r.ops_per_s / one[r.layout] if r.layout in one else None,
            }
            for r in results
        ]
        document = {
            "environment": env,
            "settings": {"processes": list(args.processes), "rounds": rounds, "ops": ops},
            "results": rows,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
    return 0


def to_json(report: Report) -> dict[str, Any]:
    """The ``--json`` document: ``environment``, ``settings``, ``results``, ``skipped``."""
    s = report.settings
    return {
        "environment": report.environment,
        "settings": {"threads": list(s.threads), "rounds": s.rounds, "rep_ms": s.rep_ms},
        "results": report.rows(),
        "skipped": [{"name": k.name, "group": k.group, "reason": k.reason} for k in report.skipped],
    }
