"""``atomicmetrics bench`` -- placeholder until the benchmark engine lands."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a short run (under 30 s)")


def run(args: argparse.Namespace) -> int:
    from atomicmetrics import AtomicCounter

    c = AtomicCounter()
    c.inc()
    print(f"AtomicCounter works: {c!r}")
    return 0
