"""A full disk: the call that needed space raises ArenaFullError, nothing else changes.

Two ways to run out of space: a file-size limit (``RLIMIT_FSIZE``, ``ulimit
-f``) in a subprocess, which works anywhere, and a real 4 MiB tmpfs where
the test may mount one (root on Linux), filled with ballast, then freed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# Runs in a child process: fills an arena until ArenaFullError, then checks
# that nothing else changed, that recording and scraping go on, and (after
# `free()`) that creation works again. Prints "ok" at the end.
SCENARIO = textwrap.dedent(
    """
    import errno, os, resource, signal, sys
    from atomicmetrics import generate_openmetrics, generate_text
    from atomicmetrics.multiprocess import ArenaFullError, MultiProcessRegistry

    directory, how = sys.argv[1], sys.argv[2]
    if how == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1536 * 1024, hard))

        def free():
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    else:
        ballast = os.path.join(os.path.dirname(directory), "ballast")

        def free():
            os.unlink(ballast)

    reg = MultiProcessRegistry(directory)
    fam = reg.counter("items", "Items.", ("n",))
    hist = reg.histogram("lat", "Latency.", ("n",), buckets=(0.1, 1.0))
    gauge = reg.gauge("g", "G.", ("n",), multiprocess_mode="livesum")
    made = []
    error = None
    for n in range(1_000_000):
        try:
            fam.labels(str(n)).inc()
            hist.labels(str(n)).observe(0.5)
            gauge.labels(str(n)).set(n)
            made.append(n)
        except ArenaFullError as e:
            error = e
            break
    assert error is not None, "the arena never filled up"
    assert isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EFBIG), error
    assert "nothing was changed" in str(error), error
    before = generate_text(reg)
    # The same call fails the same way, changing nothing.
    for _ in range(3):
        try:
            fam.labels("new-one").inc()
        except ArenaFullError:
            pass
        else:
            raise AssertionError("a new series appeared in a full arena")
    assert generate_text(reg) == before
    assert b'n="new-one"' not in before
    # Every existing series keeps recording; every scrape keeps working.
    for n in made[:: max(1, len(made) // 50)]:
        fam.labels(str(n)).inc(2)
        hist.labels(str(n)).observe(0.05)
        gauge.labels(str(n)).set(-1)
    text = generate_text(reg).decode()
    generate_openmetrics(reg)
    assert f'items_total{{n="{made[0]}"}} 3' in text, text[:300]
    assert len(made) > 10, len(made)
    # Space freed: creation works again.
    free()
    fam.labels("new-one").inc()
    for n in range(len(made), len(made) + 200):
        fam.labels(str(n)).inc()
    assert 'items_total{n="new-one"} 1' in generate_text(reg).decode()
    print("ok", len(made))
    """
)


def run_scenario(directory: Path, how: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(directory), how],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok"), result.stdout
    return result.stdout


def test_a_file_size_limit_fails_one_call_and_changes_nothing(tmp_path: Path) -> None:
    run_scenario(tmp_path / "arena", "fsize")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, 2.5 MiB filled with ballast (skips where one cannot be mounted)."""
    mount = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        with open(mount / "ballast", "wb") as f:
            f.write(b"\1" * (2560 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_tmpfs_fails_one_call_and_space_freed_lets_creation_go_on(
    small_tmpfs: Path,
) -> None:
    run_scenario(small_tmpfs / "arena", "tmpfs")
    assert not [p for p in (small_tmpfs / "arena").iterdir() if p.name.endswith(".tmp")]
