"""A shared-memory arena: metric cells and their names in mmap'd files.

An arena is a directory of segment files, each mapped ``MAP_SHARED`` by every
process that opens the directory, so a word written by one process is the
word every other process reads. It holds two things:

* **cells** -- the words of metric objects placed with ``Type._from_buffer``;
  every process that asks for the same series gets the same words;
* **an append-only record log** -- names, labels, help and layout of every
  family, series and process, so a scraper enumerates everything that any
  process ever created by walking one linked list.

Nothing here is ever remapped, resized or freed: a memoryview over a live
mapping pins it (a cell object holds one), so growth adds segment files and
never touches a mapping that cells point into.

Byte layout (version 1; all words are little-endian int64 at 8-aligned
offsets; a *ref* is ``segment << 32 | offset_in_segment``, 0 meaning none)::

    segment k: file ``atomicmetrics-<kk>.arena``, ``base << k`` bytes
               (capped at 64 MiB), zero-filled and its blocks reserved
               (posix_fallocate) when created, so that touching a page of
               it later cannot fail with SIGBUS on a full file system.

    header, at offset 0 of segment 0 (HEADER_BYTES = 64):
      +0  magic     b"AMARENA\\0"
      +8  version   1
      +16 base      bytes of segment 0 (power of two, 4 KiB .. 64 MiB)
      +24 header    HEADER_BYTES: first allocatable offset of segment 0
      +32 bump      ref of the next free byte (atomic; CAS to allocate)
      +40 head      ref of the first record (atomic; CAS from 0 to link)
      +48 records   records linked so far (atomic fetch_add; informational)
      +56 reserved  0

    record, 8-aligned, wholly inside one segment:
      +0  next      ref of the next record; 0 until one is linked (atomic)
      +8  kind      KIND_FAMILY, KIND_SERIES or KIND_PROCESS
      +16 key_len   bytes of the UTF-8 key
      +24 body_len  bytes of the UTF-8 body (a JSON document, may be empty)
      +32 cell_len  bytes of cells (multiple of 8)
      +40 flags     atomic word owned by the record's user (0 when created)
      +48 key, body (padded with zeros to a multiple of 8), then the cells

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
processes creating the same key at once end up with one record.

A process killed at any point leaves the arena readable: a reserved but
unlinked record is unreachable, a linked record is complete, and cells are
atomic words. Every ref and length read from a file is validated before use;
a file that fails validation raises ``ArenaError`` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import struct
import threading
from dataclasses import dataclass

from atomicmetrics import _fork
from atomicmetrics._core import AtomicCounter

__all__ = [
    "KIND_FAMILY",
    "KIND_PROCESS",
    "KIND_SERIES",
    "Arena",
    "ArenaError",
    "Record",
    "dumps",
]

MAGIC = int.from_bytes(b"AMARENA\0", "little")
VERSION = 1
HEADER_BYTES = 64
RECORD_HEADER_BYTES = 48
DEFAULT_BASE_BYTES = 1 << 20
MIN_BASE_BYTES = 1 << 12
MAX_SEGMENT_BYTES = 1 << 26
MAX_SEGMENTS = 64

KIND_FAMILY = 1
KIND_SERIES = 2
KIND_PROCESS = 3
_KINDS = (KIND_FAMILY, KIND_SERIES, KIND_PROCESS)

# Header word offsets.
_H_MAGIC, _H_VERSION, _H_BASE, _H_HEADER, _H_BUMP, _H_HEAD, _H_RECORDS = (
    0,
    8,
    16,
    24,
    32,
    40,
    48,
)
_RECORD = struct.Struct("<6q")

_RECOVERY = (
    "the directory belongs to another program, another atomicmetrics version, or a file "
    "was damaged; stop every process using it, delete the directory (or empty it) and "
    "start again. Delete it between runs: an arena is not meant to outlive its processes"
)


class ArenaError(ValueError):
    """A multi-process arena file is missing, foreign, corrupt or full.

    The message names the file and the recovery: the arena is scratch state
    of one run; delete its directory between runs.
    """


def _ref(segment: int, offset: int) -> int:
    return segment << 32 | offset


def _split(ref: int) -> tuple[int, int]:
    return ref >> 32, ref & 0xFFFF_FFFF


def _pad8(n: int) -> int:
    return (n + 7) & ~7


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


class Arena:
    """A shared-memory arena in ``directory``, created if absent, opened if there.

    Thread-safe: record creation and log walks take one ``threading.Lock`` of
    this object (slow path only); cells placed in the arena are lock-free
    atomic words shared with every process that maps the directory. Safe to
    keep across ``fork()``: mappings are shared and the lock is renewed in the
    child. Raises ``ArenaError`` (a ``ValueError``) for a foreign, corrupt or
    full arena, naming the file. Does not protect against a process that
    truncates or rewrites the files while they are mapped.
    """

    def __init__(self, directory: str | os.PathLike[str], *, base_bytes: int = DEFAULT_BASE_BYTES):
        if base_bytes & (base_bytes - 1) or not MIN_BASE_BYTES <= base_bytes <= MAX_SEGMENT_BYTES:
            raise ValueError("base_bytes must be a power of two between 4 KiB and 64 MiB")
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self._lock = threading.Lock()  # guards everything below
        self._views: list[memoryview | None] = [None] * MAX_SEGMENTS
        self._index: dict[tuple[int, str], Record] = {}
        self._records: list[Record] = []  # linked records in log order
        self._base = self._open_header(base_bytes)
        self._header_view = self._segment_view(0)
        self._bump = AtomicCounter._from_buffer(self._header_view, _H_BUMP)
        self._head = AtomicCounter._from_buffer(self._header_view, _H_HEAD)
        self._count = AtomicCounter._from_buffer(self._header_view, _H_RECORDS)
        self._tail_next = self._head  # the next word of the last record seen
        self._walked = 0  # records walked so far (a cycle in the log is corruption)
        self._walk_limit = 0  # records the allocated bytes can hold, last computed
        _fork.register(self)

    # ---- files and segments ------------------------------------------------

    def path(self, segment: int) -> str:
        """The file of segment ``segment``."""
        return os.path.join(self.directory, f"atomicmetrics-{segment:02d}.arena")

    def segment_bytes(self, segment: int) -> int:
        """Size of segment ``segment`` in bytes."""
        return min(self._base << segment, MAX_SEGMENT_BYTES)

    def _error(self, segment: int, what: str) -> ArenaError:
        return ArenaError(f"{self.path(segment)}: {what}; {_RECOVERY}")

    def _publish_file(self, path: str, size: int, header: bytes = b"") -> None:
        """Create ``path`` whole (sized, header written) or not at all."""
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.ftruncate(fd, size)
            if hasattr(os, "posix_fallocate"):
                try:
                    os.posix_fallocate(fd, 0, size)  # ENOSPC now, not SIGBUS later
                except OSError as e:
                    if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise  # a file system that cannot reserve keeps the sparse file
            if header:
                os.pwrite(fd, header, 0)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # atomic, never replaces an existing file
        finally:
            os.close(fd)
            os.unlink(tmp)

    def _open_header(self, base_bytes: int) -> int:
        path = self.path(0)
        if not os.path.exists(path):
            header = struct.pack(
                "<8q", MAGIC, VERSION, base_bytes, HEADER_BYTES, HEADER_BYTES, 0, 0, 0
            )
            self._publish_file(path, base_bytes, header)
        try:
            with open(path, "rb") as f:
                raw = f.read(HEADER_BYTES)
                size = os.fstat(f.fileno()).st_size
        except OSError as e:
            raise ArenaError(f"{path}: cannot be read ({e}); {_RECOVERY}") from e
        if len(raw) < HEADER_BYTES:
            raise ArenaError(f"{path}: too short to be an arena; {_RECOVERY}")
        magic, version, base, header_bytes, *_ = struct.unpack("<8q", raw)
        if magic != MAGIC:
            raise ArenaError(f"{path}: not an atomicmetrics arena (bad magic); {_RECOVERY}")
        if version != VERSION:
            raise ArenaError(
                f"{path}: arena layout version {version}, this atomicmetrics reads "
                f"{VERSION}; {_RECOVERY}"
            )
        if (
            base & (base - 1)
            or not MIN_BASE_BYTES <= base <= MAX_SEGMENT_BYTES
            or header_bytes != HEADER_BYTES
            or size != base
        ):
            raise ArenaError(f"{path}: header does not describe this file; {_RECOVERY}")
        return int(base)

    def _segment_view(self, segment: int, *, create: bool = False) -> memoryview:
        """The mapped view of ``segment``; caller holds the lock or is __init__."""
        view = self._views[segment]
        if view is not None:
            return view
        size = self.segment_bytes(segment)
        path = self.path(segment)
        if create and not os.path.exists(path):
            self._publish_file(path, size)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as e:
            raise self._error(segment, f"cannot be opened ({e})") from e
        try:
            if os.fstat(fd).st_size != size:
                raise self._error(segment, f"is not {size} bytes long")
            mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        view = memoryview(mm)
        self._views[segment] = view
        return view

    # ---- allocation ---------------------------------------------------------

    def _allocate(self, nbytes: int) -> int:
        """Reserve ``nbytes`` (a multiple of 8) in one segment; return its ref."""
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
                    raise ArenaError(f"{self.directory}: arena is full; {_RECOVERY}")
                start, new = _ref(segment + 1, 0), _ref(segment + 1, nbytes)
            if self._bump.compare_and_swap(cur, new):
                self._segment_view(start >> 32, create=True)
                return start
            cur = self._bump.load()

    def _checked_split(self, ref: int, min_bytes: int) -> tuple[int, int]:
        segment, offset = _split(ref)
        if (
            ref < 0
            or segment >= MAX_SEGMENTS
            or offset % 8
            or offset + min_bytes > self.segment_bytes(segment)
            or (segment == 0 and offset < HEADER_BYTES)
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
        """Index every record linked since the last walk."""
        while True:
            ref = self._tail_next.load()
            if ref == 0:
                return
            self._walked += 1
            if self._walked > self._walk_limit:
                self._walk_limit = self._max_records()  # recomputed rarely: bump grows
                if self._walked > self._walk_limit:
                    raise self._error(0, "has a cycle in its record log")
            record = self._read_record(ref)
            self._records.append(record)
            self._index.setdefault((record.kind, record.key), record)
            segment, offset = _split(ref)
            self._tail_next = AtomicCounter._from_buffer(self._segment_view(segment), offset)

    def _max_records(self) -> int:
        segment, offset = self._checked_split(self._bump.load(), 0)
        used = sum(self.segment_bytes(s) for s in range(min(segment, MAX_SEGMENTS))) + offset
        return used // RECORD_HEADER_BYTES

    def sync(self, start: int = 0) -> list[Record]:
        """The linked records from the ``start``-th on, in log order (a new list)."""
        with self._lock:
            self._sync_locked()
            return self._records[start:]

    def find(self, kind: int, key: str) -> Record | None:
        """The record of ``kind`` and ``key`` if any process has linked one."""
        with self._lock:
            self._sync_locked()
            return self._index.get((kind, key))

    def get_or_create(self, kind: int, key: str, body: str = "", cell_len: int = 0) -> Record:
        """The one record of ``kind`` and ``key``: an existing one, or a new one.

        A new record gets ``body`` and ``cell_len`` zero-filled bytes of cells;
        an existing one is returned as it is (callers compare its body and
        cell length with what they expected). Exact across processes and
        threads: concurrent creators of one key all get the same record.
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
            while True:
                if self._tail_next.compare_and_swap(0, ref):
                    self._count.add(1)
                    self._sync_locked()
                    return self._index[(kind, key)]
                self._sync_locked()
                found = self._index.get((kind, key))
                if found is not None:
                    return found  # another process won; our bytes are abandoned

    # ---- fork --------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """In a fork child: the parent thread that held ``_lock`` is gone."""
        self._lock = threading.Lock()


_ENCODE = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def dumps(value: object) -> str:
    """The canonical JSON of a key or body: compact, keys sorted."""
    return _ENCODE(value)
