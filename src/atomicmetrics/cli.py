"""The ``atomicmetrics`` command: ``bench`` and ``demo``.

``main(argv) -> int`` is what the console script and the tests call; bad
arguments exit 2 with argparse's message.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main", "positive_number", "whole_number"]


def whole_number(text: str, at_least: int) -> int:
    """An argparse type: ``text`` as an int of at least ``at_least``."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < at_least:
        raise argparse.ArgumentTypeError(f"must be at least {at_least}, got {n}")
    return n


def positive_number(text: str, what: str) -> float:
    """An argparse type: ``text`` as a finite float > 0; ``what`` names it in errors."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {what}, got {text!r}") from None
    if not 0 < x < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive {what}, got {text!r}")
    return x


def build_parser() -> argparse.ArgumentParser:
    """The ``atomicmetrics`` argument parser with its sub-commands."""
    from atomicmetrics import bench, demo

    parser = argparse.ArgumentParser(
        prog="atomicmetrics",
        description="Lock-free metrics for hot Python code paths.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench.add_arguments(
        sub.add_parser("bench", help="measure recording costs against the baselines")
    )
    demo.add_arguments(
        sub.add_parser("demo", help="run a simulated rule engine and serve its /metrics")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "bench":
        from atomicmetrics import bench

        return bench.run_command(args)
    if args.command == "demo":
        from atomicmetrics import demo

        return demo.run_command(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse exits
    return 2  # pragma: no cover
