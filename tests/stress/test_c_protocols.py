"""The C protocols of AtomicMinMax, ThroughputMetric (striped or not) and
AtomicNativeHistogram on real OS threads.

On a GIL build every Python-level race test runs one C call at a time, so
the lock-free protocols in ``csrc/minmax.c``, ``csrc/throughput.c`` and
``csrc/native_histogram.c`` are never interleaved inside a call.
``tests/c/stress_cells.c`` and ``tests/c/stress_native.c`` drive them from
pthreads directly, under ThreadSanitizer when gcc supports it, and check
their invariants (see those files).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBDIR = str(sysconfig.get_config_var("LIBDIR"))
LDVERSION = str(sysconfig.get_config_var("LDVERSION"))
LIBPYTHON = Path(LIBDIR) / f"libpython{LDVERSION}.so"
# Each harness and the type files it #includes; every other C file of csrc/
# links in beside it (the helpers they call), so the module is never imported.
HARNESSES = {
    "stress_cells": {"minmax.c", "throughput.c"},
    "stress_native": {"native_histogram.c"},
}


def _build(harness: str, out: Path, sanitize: bool) -> subprocess.CompletedProcess[str]:
    cmd = [
        "gcc",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-missing-field-initializers",
        "-O1",
        "-g",
        *(["-fsanitize=thread"] if sanitize else []),
        f"-I{ROOT / 'csrc'}",
        f"-I{sysconfig.get_paths()['include']}",
        str(ROOT / "tests" / "c" / f"{harness}.c"),
        *sorted(str(p) for p in (ROOT / "csrc").glob("*.c") if p.name not in HARNESSES[harness]),
        f"-L{LIBDIR}",
        f"-lpython{LDVERSION}",
        f"-Wl,-rpath,{LIBDIR}",
        "-lpthread",
        "-lm",
        "-o",
        str(out),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.mark.stress
@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the C harness")
@pytest.mark.skipif(not LIBPYTHON.exists(), reason=f"needs {LIBPYTHON} to link against")
@pytest.mark.parametrize("harness", sorted(HARNESSES))
def test_cell_protocols_on_pthreads(tmp_path: Path, harness: str) -> None:
    """stress_cells: AtomicMinMax and ThroughputMetric; stress_native: the
    native histogram's hot/cold protocol, page freeing and schema lowering."""
    exe = tmp_path / harness
    built = _build(harness, exe, sanitize=True)
    if built.returncode != 0:  # no TSan runtime: still real threads, no race detector
        built = _build(harness, exe, sanitize=False)
    assert built.returncode == 0, built.stderr
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1")
    env.pop("LD_PRELOAD", None)  # the ASan leg's preload must not reach a TSan binary
    run = subprocess.run(
        [str(exe)], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.stdout.strip() == "ok"
