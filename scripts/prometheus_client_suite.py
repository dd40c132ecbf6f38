"""Run prometheus_client 0.21.1's own test suite against atomicmetrics.prometheus_client.

What it does, in a temporary directory:

1. ``pip download --no-binary :all: --no-deps prometheus_client==0.21.1``:
   the sdist, which carries ``tests/`` (only that folder is extracted: the
   real package is never put on the path);
2. writes a pytest plugin that calls ``atomicmetrics.prometheus_client.install()``
   before any test module is imported, so every ``import prometheus_client``
   in the suite gets the facade (the plugin also checks that it did);
3. runs pytest on ``tests/`` with a JUnit XML report and prints passed /
   failed / skipped per file and the totals.

Exit status: 0 when at least ``--target`` (default 95%) of the tests outside
``tests/test_multiprocess.py`` pass (the issue's baseline: 280 of them in
0.21.1; a different count is reported and fails), 1 otherwise, 2 when the
suite could not be fetched or run. Tests that cannot pass by design are
listed in docs/migrating.md.

Usage: python scripts/prometheus_client_suite.py [--target 0.95] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

VERSION = "0.21.1"
OUTSIDE_MULTIPROCESS = 280  # tests outside tests/test_multiprocess.py in 0.21.1
MULTIPROCESS_FILE = "tests/test_multiprocess.py"

PLUGIN = '''
"""Alias prometheus_client to atomicmetrics.prometheus_client for this run."""
import sys

import atomicmetrics.prometheus_client as facade

facade.install()


def pytest_configure(config):
    import prometheus_client

    assert prometheus_client is facade, "prometheus_client is not the facade"
    print("prometheus_client ->", prometheus_client.__name__, file=sys.stderr)
'''

PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider
"""


def fetch(workdir: Path) -> Path:
    """Download the sdist and extract its tests/ folder; return that folder."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"prometheus_client=={VERSION}",
            "-d",
            str(workdir),
        ],
        check=True,
    )
    (sdist,) = workdir.glob("prometheus_client-*.tar.gz")
    prefix = f"prometheus_client-{VERSION}/tests/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        for member in members:
            member.name = member.name[len(f"prometheus_client-{VERSION}/") :]
        tar.extractall(workdir, members=members, filter="data")
    return workdir / "tests"


def run(workdir: Path) -> Path:
    """Run pytest on the suite with the alias plugin; return the JUnit XML path."""
    (workdir / "facade_alias.py").write_text(PLUGIN)
    (workdir / "pytest.ini").write_text(PYTEST_INI)
    report = workdir / "report.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--continue-on-collection-errors",
            "-p",
            "facade_alias",
            "--rootdir",
            str(workdir),
            "-c",
            str(workdir / "pytest.ini"),
            f"--junitxml={report}",
            "tests",
        ],
        cwd=workdir,
        env={**_environ(), "PYTHONPATH": str(workdir)},
        check=False,
    )
    return report


def _environ() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("prometheus_multiproc_dir", None)
    return env


def tally(report: Path) -> dict[str, dict[str, int]]:
    """Per test file: passed, failed (errors included) and skipped counts.

    A file that could not be imported counts once under "not collected".
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case in ET.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "")
        if not classname:  # a file that failed to import: name is its module
            counts[case.get("name", "").replace(".", "/") + ".py"]["not collected"] += 1
            continue
        # "tests.openmetrics.test_parser.TestParse" -> tests/openmetrics/test_parser.py
        parts = [p for p in classname.split(".") if not p[:1].isupper()]
        path = "/".join(parts) + ".py"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        counts[path][outcome] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pc-suite-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            fetch(workdir)
        except (subprocess.CalledProcessError, ValueError) as exc:
            print(f"could not fetch prometheus_client {VERSION}'s sdist: {exc}", file=sys.stderr)
            return 2
        report = run(workdir)
        if not report.exists():
            print("pytest wrote no report", file=sys.stderr)
            return 2
        counts = tally(report)
    width = max(len(p) for p in counts)
    print(f"\nprometheus_client {VERSION} suite against atomicmetrics.prometheus_client")
    print(f"{'file':<{width}}  passed  failed  skipped")
    totals = defaultdict(int)
    outside = defaultdict(int)
    for path in sorted(counts):
        c = counts[path]
        note = "  (import failed: none of its tests ran)" if c["not collected"] else ""
        print(f"{path:<{width}}  {c['passed']:>6}  {c['failed']:>6}  {c['skipped']:>7}{note}")
        for k in ("passed", "failed", "skipped"):
            totals[k] += c[k]
            if path != MULTIPROCESS_FILE:
                outside[k] += c[k]
    n_total = sum(totals.values())
    n_outside = sum(outside.values())
    print(
        f"{'total':<{width}}  {totals['passed']:>6}  {totals['failed']:>6}  "
        f"{totals['skipped']:>7}  ({n_total} tests)"
    )
    need = math.ceil(args.target * OUTSIDE_MULTIPROCESS)
    print(
        f"outside {MULTIPROCESS_FILE}: {outside['passed']}/{n_outside} passed "
        f"(target: >= {need} of {OUTSIDE_MULTIPROCESS})"
    )
    if n_outside != OUTSIDE_MULTIPROCESS:
        print(f"expected {OUTSIDE_MULTIPROCESS} tests outside {MULTIPROCESS_FILE}", file=sys.stderr)
        return 1
    return 0 if outside["passed"] >= need else 1


if __name__ == "__main__":
    sys.exit(main())
