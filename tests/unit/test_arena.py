"""The shared-memory arena: layout, get-or-create, growth, validation."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from atomicmetrics._core import AtomicCounter
from atomicmetrics.multiprocess import ArenaError
from atomicmetrics.multiprocess.arena import (
    HEADER_BYTES,
    KIND_FAMILY,
    KIND_SERIES,
    Arena,
)
from tests.helpers import THREADS, run_threads

SMALL = 4096


def counter(record: object) -> AtomicCounter:
    return AtomicCounter._from_buffer(record.view, record.cell_offset)  # type: ignore[attr-defined]


def test_records_are_shared_between_arenas_of_one_directory(tmp_path: Path) -> None:
    a = Arena(tmp_path)
    r = a.get_or_create(KIND_SERIES, "x", '{"h":1}', 16)
    assert (r.kind, r.key, r.body, r.cell_len) == (KIND_SERIES, "x", '{"h":1}', 16)
    counter(r).add(5)
    b = Arena(tmp_path)
    r2 = b.find(KIND_SERIES, "x")
    assert r2 is not None
    assert r2.ref == r.ref
    assert counter(r2).load() == 5
    assert b.get_or_create(KIND_SERIES, "x", "other body", 8).ref == r.ref
    assert b.find(KIND_FAMILY, "x") is None  # kinds are separate namespaces


def test_new_cells_are_zero_and_records_keep_log_order(tmp_path: Path) -> None:
    a = Arena(tmp_path)
    keys = [f"k{i}" for i in range(50)]
    for k in keys:
        r = a.get_or_create(KIND_FAMILY, k, "", 24)
        assert bytes(r.view[r.cell_offset : r.cell_offset + 24]) == bytes(24)
    assert [r.key for r in Arena(tmp_path).sync()] == keys


def test_arena_grows_by_segments_without_moving_cells(tmp_path: Path) -> None:
    a = Arena(tmp_path, base_bytes=SMALL)
    first = a.get_or_create(KIND_SERIES, "first", "", 8)
    c = counter(first)
    for i in range(400):
        a.get_or_create(KIND_SERIES, f"s{i}", "x" * 40, 64)
    c.inc()  # the first cell is still mapped and shared
    files = sorted(os.listdir(tmp_path))
    assert len(files) >= 3
    assert all(f.endswith(".arena") for f in files)
    b = Arena(tmp_path)
    assert len(b.sync()) == 401
    found = b.find(KIND_SERIES, "first")
    assert found is not None
    assert counter(found).load() == 1


def test_a_record_larger_than_a_segment_is_refused(tmp_path: Path) -> None:
    a = Arena(tmp_path, base_bytes=SMALL)
    with pytest.raises(ValueError, match="does not fit"):
        a.get_or_create(KIND_SERIES, "big", "", SMALL)
    assert a.sync() == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="power of two"):
        Arena(tmp_path, base_bytes=5000)
    a = Arena(tmp_path)
    with pytest.raises(ValueError, match="multiple of 8"):
        a.get_or_create(KIND_SERIES, "x", "", 12)
    with pytest.raises(ValueError, match="kind"):
        a.get_or_create(99, "x")


def test_threads_creating_one_key_get_one_record(tmp_path: Path) -> None:
    a = Arena(tmp_path)

    def body(i: int) -> int:
        refs = {a.get_or_create(KIND_SERIES, f"k{j}", "", 8).ref for j in range(100)}
        assert len(refs) == 100
        return sum(refs)

    assert len(set(run_threads(THREADS, body))) == 1
    assert len(a.sync()) == 100


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_processes_creating_one_key_at_once_get_one_record(tmp_path: Path) -> None:
    """Forked processes racing (each with its own Arena) link each key once."""
    Arena(tmp_path)
    go_r, go_w = os.pipe()
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                arena = Arena(tmp_path)
                os.read(go_r, 1)
                for j in range(300):
                    counter(arena.get_or_create(KIND_SERIES, f"k{j}", "", 8)).inc()
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.write(go_w, b"xxxx")
    for pid in pids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    records = Arena(tmp_path).sync()
    assert len(records) == 300
    assert len({r.key for r in records}) == 300
    assert all(counter(r).load() == 4 for r in records)


# ---- corrupt or foreign files -------------------------------------------


def header_file(tmp_path: Path) -> Path:
    return tmp_path / "atomicmetrics-00.arena"


def poke(path: Path, offset: int, value: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack("<q", value))


def test_foreign_file_raises_naming_file_and_recovery(tmp_path: Path) -> None:
    header_file(tmp_path).write_bytes(b"hello world, not an arena" * 1000)
    with pytest.raises(ArenaError, match=r"atomicmetrics-00\.arena.*bad magic.*delete the dir"):
        Arena(tmp_path)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [(8, 3, "version 3"), (16, 0, "header"), (24, 8, "header"), (32, 12345, "header")],
)
def test_bad_header_fields_raise(tmp_path: Path, offset: int, value: int, message: str) -> None:
    Arena(tmp_path)
    poke(header_file(tmp_path), offset, value)
    with pytest.raises(ArenaError, match=message):
        Arena(tmp_path)


def test_truncated_files_raise(tmp_path: Path) -> None:
    Arena(tmp_path, base_bytes=SMALL)
    with open(header_file(tmp_path), "r+b") as f:
        f.truncate(HEADER_BYTES // 2)
    with pytest.raises(ArenaError, match="too short"):
        Arena(tmp_path)
    with open(header_file(tmp_path), "r+b") as f:
        f.truncate(HEADER_BYTES + 72)
    with pytest.raises(ArenaError, match="does not describe"):
        Arena(tmp_path)


def test_missing_segment_raises(tmp_path: Path) -> None:
    a = Arena(tmp_path, base_bytes=SMALL)
    for i in range(100):
        a.get_or_create(KIND_SERIES, f"s{i}", "", 64)
    (tmp_path / "atomicmetrics-01.arena").unlink()
    with pytest.raises(ArenaError, match=r"atomicmetrics-01\.arena.*missing"):
        Arena(tmp_path).sync()


@pytest.mark.parametrize(
    ("field", "value"),
    [(8, 77), (16, -1), (16, 1 << 40), (32, 12), (32, 1 << 20)],
)
def test_malformed_record_raises(tmp_path: Path, field: int, value: int) -> None:
    a = Arena(tmp_path)
    r = a.get_or_create(KIND_SERIES, "x", "", 8)
    poke(header_file(tmp_path), (r.ref & 0xFFFFFFFF) + field, value)
    with pytest.raises(ArenaError, match="malformed record"):
        Arena(tmp_path).sync()


@pytest.mark.parametrize("ref", [8, 129, 1 << 32 | 64, 99 << 32, -5])
def test_invalid_references_raise(tmp_path: Path, ref: int) -> None:
    Arena(tmp_path)
    poke(header_file(tmp_path), 48, ref)  # the log head
    with pytest.raises(ArenaError, match=r"invalid reference|missing"):
        Arena(tmp_path).sync()


def test_cycle_in_log_raises(tmp_path: Path) -> None:
    a = Arena(tmp_path)
    r = a.get_or_create(KIND_SERIES, "x", "", 8)
    poke(header_file(tmp_path), r.ref & 0xFFFFFFFF, r.ref)  # x.next = x
    with pytest.raises(ArenaError, match="cycle"):
        Arena(tmp_path).sync()
