"""The arena directory trusts nobody but its owner: links, foreign owners, modes,
files of another run, and a log walk bounded by the files' real size."""

from __future__ import annotations

import os
import stat
import struct
import time
from pathlib import Path

import pytest

from atomicmetrics import generate_text
from atomicmetrics.multiprocess import (
    ArenaError,
    MultiProcessRegistry,
    arena_in_use,
    remove_stale_arena,
)
from atomicmetrics.multiprocess.arena import KIND_SERIES, Arena

SMALL = 4096


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def arena_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("atomicmetrics-"))


@pytest.fixture
def umask0() -> object:
    old = os.umask(0)
    yield
    os.umask(old)


def test_files_are_0600_and_the_directory_0700_whatever_the_umask(
    tmp_path: Path, umask0: object
) -> None:
    reg = MultiProcessRegistry(tmp_path / "arena")
    reg.counter("c", "C.").inc()
    assert mode_of(tmp_path / "arena") == 0o700
    files = arena_files(tmp_path / "arena")
    assert {f.suffix for f in files} == {".arena", ".shard"}
    assert all(mode_of(f) == 0o600 for f in files)


def test_group_mode_shares_with_the_group_only(tmp_path: Path, umask0: object) -> None:
    reg = MultiProcessRegistry(tmp_path / "arena", group=True)
    reg.counter("c", "C.").inc()
    assert mode_of(tmp_path / "arena") == 0o770
    assert all(mode_of(f) == 0o660 for f in arena_files(tmp_path / "arena"))
    # A group-writable arena is refused unless group mode is asked for.
    with pytest.raises(ArenaError, match="writable by its group or other users"):
        MultiProcessRegistry(tmp_path / "arena")
    os.chmod(tmp_path / "arena", 0o777)
    with pytest.raises(ArenaError, match="writable by other users"):
        MultiProcessRegistry(tmp_path / "arena", group=True)


@pytest.mark.parametrize("bits", [0o002, 0o020])
def test_a_directory_others_can_write_is_refused(tmp_path: Path, bits: int) -> None:
    d = tmp_path / "arena"
    d.mkdir(mode=0o700)
    os.chmod(d, 0o700 | bits)
    with pytest.raises(ArenaError, match=r"arena: directory is writable by .*trust model"):
        MultiProcessRegistry(d)
    assert list(d.iterdir()) == []  # nothing was created in it


def test_a_file_others_can_write_is_refused(tmp_path: Path) -> None:
    MultiProcessRegistry(tmp_path).counter("c", "C.").inc()
    os.chmod(tmp_path / "atomicmetrics-00.arena", 0o622)
    with pytest.raises(ArenaError, match=r"atomicmetrics-00\.arena: file is writable"):
        MultiProcessRegistry(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files away")
def test_a_directory_or_file_of_another_user_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 12345, 12345)
    with pytest.raises(ArenaError, match=r"owned by uid 12345.*not by this process"):
        MultiProcessRegistry(d)
    mine = tmp_path / "mine"
    MultiProcessRegistry(mine).counter("c", "C.").inc()
    shard = next(f for f in arena_files(mine) if f.suffix == ".shard")
    os.chown(shard, 12345, 12345)
    with pytest.raises(ArenaError, match=r"\.shard: file owned by uid 12345"):
        MultiProcessRegistry(mine)


def test_a_symlinked_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(ArenaError, match="symbolic link"):
        MultiProcessRegistry(tmp_path / "link")


def test_a_planted_symlink_is_never_followed(tmp_path: Path) -> None:
    """The attack of the report: a symlink where the arena will create a file
    made the service overwrite its target with zeros."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious" * 1000)
    d = tmp_path / "arena"
    d.mkdir(mode=0o700)
    (d / "atomicmetrics-00.arena").symlink_to(victim)
    with pytest.raises(ArenaError, match="symbolic link"):
        MultiProcessRegistry(d)
    (d / "atomicmetrics-00.arena").unlink()
    # Planted while the arena runs: the next segment it grows into.
    arena = Arena(d, base_bytes=SMALL)
    (d / "atomicmetrics-01.arena").symlink_to(victim)
    for i in range(50):  # segment 0 holds these
        arena.get_or_create(KIND_SERIES, f"s{i}", "", 8)
    with pytest.raises(ArenaError, match="symbolic link"):
        arena.get_or_create(KIND_SERIES, "big", "", 3904)  # needs segment 1
    assert victim.read_bytes() == b"precious" * 1000
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]


def test_files_of_an_earlier_run_without_segment_0_are_refused(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    reg.counter("c", "C.").inc()
    (tmp_path / "atomicmetrics-00.arena").unlink()
    with pytest.raises(ArenaError, match=r"without their segment 0.*remove_stale_arena"):
        MultiProcessRegistry(tmp_path)


def test_a_file_of_another_arena_is_refused_never_mixed(tmp_path: Path) -> None:
    a = Arena(tmp_path / "a", base_bytes=SMALL)
    b = Arena(tmp_path / "b", base_bytes=SMALL)
    for arena in (a, b):
        for i in range(100):
            arena.get_or_create(KIND_SERIES, f"s{i}", "", 64)
    os.replace(tmp_path / "b" / "atomicmetrics-01.arena", tmp_path / "a" / "atomicmetrics-01.arena")
    with pytest.raises(ArenaError, match=r"atomicmetrics-01\.arena: does not belong"):
        Arena(tmp_path / "a")


def test_a_stale_arena_is_adopted_whole(tmp_path: Path) -> None:
    """Segment 0 present and valid: the next run continues the totals (to
    start afresh, remove_stale_arena first)."""
    reg = MultiProcessRegistry(tmp_path)
    reg.counter("c", "C.", ("k",)).labels("x").inc(5)
    del reg
    again = MultiProcessRegistry(tmp_path)
    assert 'c_total{k="x"} 5' in generate_text(again).decode()


def test_remove_stale_arena_never_deletes_what_a_live_process_uses(tmp_path: Path) -> None:
    d = tmp_path / "arena"
    assert remove_stale_arena(d) is True  # nothing there
    assert arena_in_use(d) is False
    reg = MultiProcessRegistry(d)
    reg.counter("c", "C.").inc(2)
    assert arena_in_use(d) is True
    assert remove_stale_arena(d) is False
    assert "c_total 2" in generate_text(reg).decode()
    # A forked child holds it too, after the parent let go of it.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.read(r, 1)
        os._exit(0)
    reg._arena.dir.close()
    try:
        assert remove_stale_arena(d) is False
    finally:
        os.write(w, b"x")
        os.waitpid(pid, 0)
    assert remove_stale_arena(d) is True
    assert arena_files(d) == []
    fresh = MultiProcessRegistry(d)
    assert "c_total" not in generate_text(fresh).decode()


def test_opening_an_arena_deletes_and_resets_nothing(tmp_path: Path) -> None:
    a = MultiProcessRegistry(tmp_path)
    a.counter("c", "C.").inc(3)
    before = {p.name: p.read_bytes() for p in arena_files(tmp_path)}
    MultiProcessRegistry(tmp_path)
    after = {p.name: p.read_bytes() for p in arena_files(tmp_path) if p.name in before}
    assert after == before
    assert "c_total 3" in generate_text(a).decode()


def test_a_log_cycle_with_a_huge_bump_word_fails_at_once(tmp_path: Path) -> None:
    """A corrupt bump word used to allow a walk of ~80 M records (MemoryError
    after 20 s): walks are bounded by the bytes the files really hold."""
    arena = Arena(tmp_path)
    r = arena.get_or_create(KIND_SERIES, "x", "", 8)
    with open(tmp_path / "atomicmetrics-00.arena", "r+b") as f:
        f.seek(40)  # the bump word: far into segment 40, which does not exist
        f.write(struct.pack("<q", 40 << 32 | 64))
        f.seek(r.ref & 0xFFFFFFFF)  # x.next = x
        f.write(struct.pack("<q", r.ref))
    start = time.monotonic()
    with pytest.raises(ArenaError, match=r"missing|cycle"):
        Arena(tmp_path).sync()
    assert time.monotonic() - start < 2
