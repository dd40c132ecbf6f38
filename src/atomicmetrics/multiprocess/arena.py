"""A shared-memory arena: metric cells and their names in mmap'd files.

An arena is a directory of files, each mapped ``MAP_SHARED`` by every process
that opens the directory, so a word written by one process is the word every
other process reads. It holds:

* **an append-only record log** -- names, labels, help and layout of every
  family and series, and the table of process slots, so a scraper
  enumerates everything any process ever created by walking one list;
* **shared cells** -- words inside records, placed with ``Type._from_buffer``:
  every process that asks for the same key gets the same words;
* **the shard space** -- cells of which every process has its own copy (one
  file per process slot and chunk; ``atomicmetrics.multiprocess.slots``).

Nothing here is ever remapped, resized or freed: a memoryview over a live
mapping pins it (a cell object holds one), so growth adds files and never
touches a mapping that cells point into.

Byte layout (version 2; every word a little-endian int64 at an 8-aligned
offset; a *ref* is ``segment << 32 | offset_in_segment``, 0 meaning none)::

    every file, first FILE_HEADER_BYTES = 64 bytes:
      +0  magic     b"AMARENA\\0"
      +8  version   2
      +16 arena id  random and nonzero, the same in every file of one arena
      +24 tag       what the file is: segment k -> k; chunk k of process
                    slot s -> TAG_SHARD | s << 8 | k
      +32 .. +63    0, except in segment 0 (below)

    segment 0, words after the file header (HEADER_BYTES = 128 in all):
      +32 base        bytes of segment 0 (a power of two, 4 KiB .. 64 MiB)
      +40 bump        ref of the next free log byte (atomic; CAS to allocate)
      +48 head        ref of the first record (atomic; CAS from 0 to link)
      +56 records     records linked so far (atomic fetch_add; informational)
      +64 shard bump  the next free byte of the shard space (see slots.py)
      +72 .. +127     0

    segment k: file ``atomicmetrics-<kk>.arena``, ``base << k`` bytes (at
               most 64 MiB, at most 64 segments), records from byte 64 on.

    record, 8-aligned, wholly inside one segment:
      +0  next      ref of the next record; 0 until one is linked (atomic)
      +8  kind      KIND_FAMILY, KIND_SERIES, KIND_SHARD or KIND_SLOTS
      +16 key_len   bytes of the UTF-8 key
      +24 body_len  bytes of the UTF-8 body (a JSON document, may be empty)
      +32 cell_len  bytes of cells (multiple of 8)
      +40 flags     atomic word owned by the record's user (0 when created)
      +48 key, body (padded with zeros to a multiple of 8), then the cells

Every file is created whole (``ArenaDirectory.create``: sized, its blocks
reserved, its header written, then linked into place) *before* any word
refers to it: the bump word moves into segment k+1 only once that file
exists. A full file system therefore fails the one call that needed the
space (``ArenaFullError``) and changes nothing; it never leaves a ref to a
missing file, and a store into a mapped page cannot fail (no SIGBUS).

Consistency protocol. A writer allocates a record by CAS on ``bump``, fills
every byte of it with plain stores, then links it with a CAS (acq_rel) of 0
-> ref on the ``next`` word of the last record (``head`` for the first). A
reader loads ``next`` with acquire, which pairs with that CAS: everything the
writer stored before linking is visible to whoever sees the link. Records are
never changed after linking, except their cells and ``flags``, which are
atomic words.

"Get or create" is exact across processes: an inserter links only at the
true end of the log, after examining every record before it; when its CAS
fails it examines the records that beat it, and if one has its key it
abandons its own (the unreachable bytes are leaked, never reused). So two
processes creating the same key at once end up with one record, and every
process sees the records in one order (the log order), which the layers
above use to settle races deterministically.

A process killed at any point leaves the arena readable: a reserved but
unlinked record is unreachable, a linked record is complete, and cells are
atomic words. Everything read from a file is validated before use: refs
point inside files that exist, lengths fit the segment, and a walk of the
log is bounded by the bytes the files really hold (a cycle is found after at
most that many records). A file that fails validation raises ``ArenaError``
naming the file.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from atomicmetrics import _fork
from atomicmetrics._core import AtomicCounter
from atomicmetrics.multiprocess.directory import ArenaDirectory
from atomicmetrics.multiprocess.errors import RECOVERY, ArenaError, ArenaFullError

__all__ = [
    "FILE_HEADER_BYTES",
    "HEADER_BYTES",
    "KIND_FAMILY",
    "KIND_SERIES",
    "KIND_SHARD",
    "KIND_SLOTS",
    "MAX_SEGMENTS",
    "MIN_BASE_BYTES",
    "RECORD_HEADER_BYTES",
    "TAG_SHARD",
    "Arena",
    "Record",
    "chunk_bytes",
    "dumps",
]

MAGIC = int.from_bytes(b"AMARENA\0", "little")
VERSION = 2
FILE_HEADER_BYTES = 64
HEADER_BYTES = 128
RECORD_HEADER_BYTES = 48
DEFAULT_BASE_BYTES = 1 << 20
MIN_BASE_BYTES = 1 << 12
MAX_SEGMENT_BYTES = 1 << 26
MAX_SEGMENTS = 64
TAG_SHARD = 1 << 40

KIND_FAMILY = 1
KIND_SERIES = 2
KIND_SHARD = 3
KIND_SLOTS = 4
_KINDS = (KIND_FAMILY, KIND_SERIES, KIND_SHARD, KIND_SLOTS)

# Word offsets in segment 0.
_H_MAGIC, _H_VERSION, _H_ID, _H_TAG = 0, 8, 16, 24
_H_BASE, _H_BUMP, _H_HEAD, _H_RECORDS, _H_SHARD_BUMP = 32, 40, 48, 56, 64
_FILE_HEADER = struct.Struct("<4q")
_RECORD = struct.Struct("<6q")


def _ref(segment: int, offset: int) -> int:
    return segment << 32 | offset


def _split(ref: int) -> tuple[int, int]:
    return ref >> 32, ref & 0xFFFF_FFFF


def _pad8(n: int) -> int:
    return (n + 7) & ~7


def chunk_bytes(base: int, index: int) -> int:
    """Size of segment ``index`` of an arena whose segment 0 is ``base`` bytes."""
    return min(base << index, MAX_SEGMENT_BYTES)


@dataclass(frozen=True, slots=True)
class Record:
    """A linked record of the log, as this process sees it.

    ``view`` is the memoryview of the record's segment (it pins the mapping);
    the cells start at byte ``cell_offset`` of it and span ``cell_len`` bytes:
    place cell objects with ``Type._from_buffer(record.view, record.cell_offset)``.
    ``flags()`` makes an object over the record's atomic flags word.
    """

    ref: int
    kind: int
    key: str
    body: str
    view: memoryview
    cell_offset: int
    cell_len: int
    offset: int  # of the record in its segment

    def flags(self) -> AtomicCounter:
        """The record's flags word (a new object each call: keep it)."""
        return AtomicCounter._from_buffer(self.view, self.offset + 40)

    def word(self, index: int) -> AtomicCounter:
        """Cell word ``index`` of the record (a new object each call: keep it)."""
        return AtomicCounter._from_buffer(self.view, self.cell_offset + 8 * index)


class Arena:
    """A shared-memory arena in ``directory``, created if absent, opened if there.

    Opening checks the directory and every arena file in it (ownership,
    permissions, symbolic links: ``ArenaDirectory``), adopts an existing
    arena as a whole -- segment 0 present and valid, every other file of the
    same arena id -- and refuses anything else (files without a segment 0,
    files of another arena) with ``ArenaError``. It never deletes or resets
    anything.

    Thread-safe: record creation and log walks take one reentrant lock of
    this object (slow path only), and every change to this object's index is
    committed by plain stores after a check that no signal handler or GC
    finalizer on this thread walked the log meanwhile, so such code may use
    the arena while this thread is inside it. Cells placed in the arena are
    lock-free atomic words shared with every process that maps the
    directory. Safe to keep across ``fork()``: mappings are shared and the
    lock is renewed in the child. Raises ``ArenaError`` (a ``ValueError``)
    for a foreign or corrupt arena, naming the file; ``ArenaFullError`` (an
    ``OSError``) when the file system refuses the space for a new file. Does
    not protect against a process of the same user that truncates or
    rewrites the files while they are mapped (docs/multiprocess.md).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | ArenaDirectory,
        *,
        base_bytes: int = DEFAULT_BASE_BYTES,
        group: bool = False,
    ):
        if base_bytes & (base_bytes - 1) or not MIN_BASE_BYTES <= base_bytes <= MAX_SEGMENT_BYTES:
            raise ValueError("base_bytes must be a power of two between 4 KiB and 64 MiB")
        if isinstance(directory, ArenaDirectory):
            self.dir = directory
        else:
            self.dir = ArenaDirectory(directory, group=group)
        self.directory = self.dir.path
        # Guards the fields below it. Reentrant: a signal handler or a GC
        # finalizer may enter while this thread holds it (see _sync_locked).
        self._lock = threading.RLock()
        self._views: list[memoryview | None] = [None] * MAX_SEGMENTS  # by segment
        self._index: dict[tuple[int, str], Record] = {}  # first record of each key
        self._records: list[Record] = []  # linked records in log order
        self._count = 0  # records committed to _records/_index (the commit point)
        self.arena_id, self._base = self._open_header(base_bytes)
        self._header_view = self._segment_view(0)
        self._bump = AtomicCounter._from_buffer(self._header_view, _H_BUMP)
        self._head = AtomicCounter._from_buffer(self._header_view, _H_HEAD)
        self._linked = AtomicCounter._from_buffer(self._header_view, _H_RECORDS)
        self._tail_next = self._head  # the next word of the last record committed
        self._walk_limit = 0  # records the segment files can hold, last computed
        self._check_files()
        # Where the lock comes from after a fork: a storage that shares one lock
        # with this arena sets it (ArenaStorage.creation_lock); else a new one.
        self.lock_source: Callable[[], threading.RLock] | None = None
        _fork.register(self)

    # ---- files and segments ------------------------------------------------

    def name(self, segment: int) -> str:
        """The file name of segment ``segment``."""
        return f"atomicmetrics-{segment:02d}.arena"

    def path(self, segment: int) -> str:
        """The file of segment ``segment``."""
        return self.dir.file_path(self.name(segment))

    def segment_bytes(self, segment: int) -> int:
        """Size of segment ``segment`` in bytes."""
        return chunk_bytes(self._base, segment)

    @property
    def base_bytes(self) -> int:
        """Size of segment 0 (and the unit of every file size) in bytes."""
        return self._base

    def header_word(self, offset: int) -> AtomicCounter:
        """A word of segment 0's header (``_H_SHARD_BUMP`` for the shard space)."""
        return AtomicCounter._from_buffer(self._header_view, offset)

    def _error(self, segment: int, what: str) -> ArenaError:
        return ArenaError(f"{self.path(segment)}: {what}; {RECOVERY}")

    def file_header(self, tag: int) -> bytes:
        """The first bytes of a new file of this arena with ``tag``."""
        return _FILE_HEADER.pack(MAGIC, VERSION, self.arena_id, tag)

    def map_file(self, name: str, size: int, tag: int, *, create: bool) -> memoryview:
        """A mapping of the arena file ``name`` (created first if ``create``),
        its header checked: this arena's id and ``tag``."""
        if create:
            self.dir.create(name, size, self.file_header(tag))
        try:
            view = self.dir.map(name, size)
        except FileNotFoundError as e:
            raise ArenaError(f"{self.dir.file_path(name)}: is missing; {RECOVERY}") from e
        except ArenaError as e:
            raise ArenaError(f"{e}; {RECOVERY}") from e
        magic, version, arena_id, found = _FILE_HEADER.unpack_from(view, 0)
        if (magic, version, arena_id, found) != (MAGIC, VERSION, self.arena_id, tag):
            raise ArenaError(
                f"{self.dir.file_path(name)}: belongs to another arena or is damaged (its "
                "header does not match segment 0's); files of an earlier run were mixed "
                f"with this one; {RECOVERY}"
            )
        return view

    def _open_header(self, base_bytes: int) -> tuple[int, int]:
        """(arena id, base) of segment 0, creating the arena if the directory has none."""
        name = self.name(0)
        try:
            fd = self.dir.open(name)
        except FileNotFoundError:
            stale = sorted(n for n in self.dir.names() if _is_arena_file(n))
            if stale:
                raise ArenaError(
                    f"{self.dir.path}: holds arena files without their segment 0 "
                    f"({', '.join(stale[:3])}{', ...' if len(stale) > 3 else ''}): left from "
                    f"an earlier run and not adoptable; {RECOVERY}"
                ) from None
            arena_id = secrets.randbits(62) + 1
            header = struct.pack(
                "<9q",
                MAGIC,
                VERSION,
                arena_id,
                0,
                base_bytes,
                HEADER_BYTES,
                0,
                0,
                FILE_HEADER_BYTES,
            )
            self.dir.create(name, base_bytes, header)  # False: another process made it first
            fd = self.dir.open(name)
        except ArenaError as e:
            raise ArenaError(f"{e}; {RECOVERY}") from e
        try:
            raw = os.pread(fd, HEADER_BYTES, 0)
            size = os.fstat(fd).st_size
        except OSError as e:
            raise self._error(0, f"cannot be read ({e})") from e
        finally:
            os.close(fd)
        if len(raw) < HEADER_BYTES:
            raise self._error(0, "too short to be an arena")
        magic, version, arena_id, tag, base, *_ = struct.unpack_from("<9q", raw)
        if magic != MAGIC:
            raise self._error(0, "not an atomicmetrics arena (bad magic)")
        if version != VERSION:
            raise self._error(
                0, f"arena layout version {version}, this atomicmetrics reads {VERSION}"
            )
        if (
            base & (base - 1)
            or not MIN_BASE_BYTES <= base <= MAX_SEGMENT_BYTES
            or size != base
            or tag != 0
            or arena_id <= 0
        ):
            raise self._error(0, "header does not describe this file")
        return int(arena_id), int(base)

    def _check_files(self) -> None:
        """Every arena file present is this arena's (never a mix of two runs)."""
        for n in self.dir.names():
            if not _is_arena_file(n) or n == self.name(0):
                continue
            try:
                fd = self.dir.open(n)
            except FileNotFoundError:
                continue
            except ArenaError as e:
                raise ArenaError(f"{e}; {RECOVERY}") from e
            try:
                raw = os.pread(fd, _FILE_HEADER.size, 0)
            finally:
                os.close(fd)
            if len(raw) < _FILE_HEADER.size or _FILE_HEADER.unpack(raw)[:3] != (
                MAGIC,
                VERSION,
                self.arena_id,
            ):
                raise ArenaError(
                    f"{self.dir.file_path(n)}: does not belong to the arena of "
                    f"{self.path(0)} (left from an earlier run, or damaged); {RECOVERY}"
                )

    def _segment_view(self, segment: int, *, create: bool = False) -> memoryview:
        """The mapped view of ``segment`` (created first when ``create``)."""
        view = self._views[segment]
        if view is not None:
            return view
        if segment == 0:
            view = self.dir.map(self.name(0), self._base)
        else:
            view = self.map_file(
                self.name(segment), self.segment_bytes(segment), segment, create=create
            )
        self._views[segment] = view  # a racing re-entrant mapping is equally good
        return view

    # ---- allocation ---------------------------------------------------------

    def _allocate(self, nbytes: int) -> int:
        """Reserve ``nbytes`` (a multiple of 8) in one segment; return its ref.

        The segment file is created before the bump word may point into it.
        """
        if nbytes > self._base - HEADER_BYTES:
            raise ValueError(
                f"a record of {nbytes} bytes does not fit in an arena segment "
                f"({self._base - HEADER_BYTES} bytes usable); shorten names, help or buckets"
            )
        cur = self._bump.load()
        while True:
            segment, offset = self._checked_split(cur, 0)
            if offset + nbytes <= self.segment_bytes(segment):
                start, new = cur, cur + nbytes
            else:
                if segment + 1 >= MAX_SEGMENTS:
                    raise ArenaFullError(
                        28,  # ENOSPC
                        f"{self.directory}: the arena reached its limit of {MAX_SEGMENTS} "
                        "segments -- nothing was changed",
                    )
                start = _ref(segment + 1, FILE_HEADER_BYTES)
                new = start + nbytes
                self._segment_view(segment + 1, create=True)  # reserve, then publish
            if self._bump.compare_and_swap(cur, new):
                return start
            cur = self._bump.load()

    def reserve(self, nbytes: int) -> None:
        """Make sure records of ``nbytes`` in all can be allocated without
        creating a file: create the next segment now if the current one is
        too full. A caller about to link several records calls this first,
        so that a full file system fails before the first of them is linked
        (``ArenaFullError``) rather than between them."""
        with self._lock:
            segment, offset = self._checked_split(self._bump.load(), 0)
            if offset + nbytes > self.segment_bytes(segment) and segment + 1 < MAX_SEGMENTS:
                self._segment_view(segment + 1, create=True)

    def _checked_split(self, ref: int, min_bytes: int) -> tuple[int, int]:
        segment, offset = _split(ref)
        if (
            ref <= 0
            or segment >= MAX_SEGMENTS
            or offset % 8
            or offset + min_bytes > self.segment_bytes(segment)
            or offset < (HEADER_BYTES if segment == 0 else FILE_HEADER_BYTES)
        ):
            raise self._error(0, f"holds an invalid reference {ref:#x}")
        return segment, offset

    # ---- the log ------------------------------------------------------------

    def _read_record(self, ref: int) -> Record:
        """Validate and decode the linked record at ``ref``."""
        segment, offset = self._checked_split(ref, RECORD_HEADER_BYTES)
        view = self._segment_view(segment)
        size = len(view)
        _next, kind, key_len, body_len, cell_len, _flags = _RECORD.unpack_from(view, offset)
        text = offset + RECORD_HEADER_BYTES
        if (
            kind not in _KINDS
            or not 0 <= key_len <= size
            or not 0 <= body_len <= size
            or not 0 <= cell_len <= size
            or cell_len % 8
            or text + _pad8(key_len + body_len) + cell_len > size
        ):
            raise self._error(segment, f"holds a malformed record at offset {offset}")
        try:
            key = bytes(view[text : text + key_len]).decode()
            body = bytes(view[text + key_len : text + key_len + body_len]).decode()
        except UnicodeDecodeError as e:
            raise self._error(segment, f"holds a malformed record at offset {offset}") from e
        return Record(
            ref=ref,
            kind=kind,
            key=key,
            body=body,
            view=view,
            cell_offset=text + _pad8(key_len + body_len),
            cell_len=cell_len,
            offset=offset,
        )

    def _sync_locked(self) -> None:
        """Index every record linked since the last walk.

        Reentrant: a signal handler or a finalizer may walk (and commit)
        while an outer walk on this thread reads a record. Each record is
        read and built first, then committed by plain stores -- no call, no
        loop, no allocation of a tracked object between the check and the
        last store, so nothing can re-enter there -- and only if the commit
        point has not moved meanwhile; otherwise the walk goes on from the
        new end.
        """
        while True:
            count, tail = self._count, self._tail_next
            ref = tail.load()
            if ref == 0:
                return
            if count >= self._walk_limit:
                self._walk_limit = self._max_records()
                if count >= self._walk_limit:
                    raise self._error(0, "has a cycle in its record log")
            record = self._read_record(ref)
            segment, offset = _split(ref)
            nxt = AtomicCounter._from_buffer(self._segment_view(segment), offset)
            one, key, after = [record], (record.kind, record.key), count + 1
            index, records = self._index, self._records
            if self._count != count:
                continue  # re-entered: that walk committed this record already
            records[count:] = one
            if key not in index:
                index[key] = record
            self._tail_next = nxt
            self._count = after

    def _max_records(self) -> int:
        """Records the existing segment files can hold: a bound for a walk.

        Maps every segment up to the bump word's (each exists: a segment is
        created before the bump word moves into it), so a corrupt bump word
        fails here, at once, instead of allowing a long walk.
        """
        segment, offset = self._checked_split(self._bump.load(), 0)
        used = sum(len(self._segment_view(s)) for s in range(segment)) + offset
        return used // RECORD_HEADER_BYTES

    def sync(self, start: int = 0) -> list[Record]:
        """The linked records from the ``start``-th on, in log order (a new list)."""
        with self._lock:
            self._sync_locked()
            return self._records[start : self._count]

    def find(self, kind: int, key: str) -> Record | None:
        """The record of ``kind`` and ``key`` if any process has linked one."""
        with self._lock:
            self._sync_locked()
            return self._index.get((kind, key))

    def get_or_create(
        self,
        kind: int,
        key: str,
        body: str = "",
        cell_len: int = 0,
        fill: Callable[[], bytes] | None = None,
    ) -> Record:
        """The one record of ``kind`` and ``key``: an existing one, or a new one.

        A new record gets ``body`` and ``cell_len`` bytes of cells, zero or
        starting with ``fill()`` (called only when this call creates the
        record, before it is linked); an existing one is returned as it is
        (callers compare its body and cell length with what they expected).
        Exact across processes and threads: concurrent creators of one key
        all get the same record. Raises ``ArenaFullError`` (nothing changed)
        when the arena cannot grow.
        """
        if cell_len < 0 or cell_len % 8:
            raise ValueError("cell_len must be a non-negative multiple of 8")
        if kind not in _KINDS:
            raise ValueError(f"unknown record kind {kind}")
        kb, bb = key.encode(), body.encode()
        text = _pad8(len(kb) + len(bb))
        with self._lock:
            self._sync_locked()
            found = self._index.get((kind, key))
            if found is not None:
                return found
            ref = self._allocate(RECORD_HEADER_BYTES + text + cell_len)
            segment, offset = _split(ref)
            view = self._segment_view(segment)
            _RECORD.pack_into(view, offset, 0, kind, len(kb), len(bb), cell_len, 0)
            start = offset + RECORD_HEADER_BYTES
            # Fresh bytes are zero (allocations never overlap nor get reused),
            # so the cells need no clearing; only the text is written.
            view[start : start + text] = (kb + bb).ljust(text, b"\0")
            if fill is not None:
                cells = fill()
                view[start + text : start + text + len(cells)] = cells
            while True:
                if self._tail_next.compare_and_swap(0, ref):
                    self._linked.add(1)
                    self._sync_locked()
                    return self._index[(kind, key)]
                self._sync_locked()
                found = self._index.get((kind, key))
                if found is not None:
                    return found  # another process won; our bytes are abandoned

    # ---- fork --------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """In a fork child: the parent thread that held ``_lock`` is gone."""
        self._lock = threading.RLock() if self.lock_source is None else self.lock_source()


def _is_arena_file(name: str) -> bool:
    return name.startswith("atomicmetrics-") and name.endswith((".arena", ".shard"))


_ENCODE = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def dumps(value: object) -> str:
    """The canonical JSON of a key or body: compact, keys sorted."""
    return _ENCODE(value)
