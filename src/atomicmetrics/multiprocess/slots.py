"""Process slots and the shard space: cells every process has its own copy of.

Many processes adding into one shared word bounce its cache line between
their cores: one arena counter ``inc()``'d by 16 forked workers ran at 0.39x
the speed of one worker (benchmarks/bench_multiprocess.py). So each process
records into cells of its own -- its *shard* of a series -- and a scrape
sums the shards. Counters, histograms and rule metrics are sharded (their
scrape is a sum); gauges have per-process cells of their own kind
(``storage.py``) and throughput metrics one shared cell (their window and
peak are properties of the total).

**Process slots.** A process claims a numbered slot and its shards are keyed
by slot, not by pid. Claiming takes, in this order, a slot that already
carries this process's token (a second arena object in the same process, or
a program that ``exec()``'d), then a slot whose owner is dead (CAS of the
dead token to ours; liveness by pid and start time, ``processes.py``), then
a never-used slot (CAS of 0 to ours), and appends a block of slots only when
all are taken by live processes. A worker that replaces a dead one adopts
its slot and simply keeps adding to its words: nothing is folded, nothing
lost, and the memory is bounded by the peak number of live processes, not
by how many ever ran.

* A slow process is alive (liveness is its pid running with its start
  time, never a heartbeat), so its slot is never taken from it.
* A recycled pid carries another start time, so its old slot counts as dead.
* A slot adopted while a scrape reads it: the scrape reads atomic words,
  which only grow; the adopter adds to them, never resets them.
* Two live processes sharing a slot (two PID namespaces on one directory,
  a child whose fork hook could not claim one) are still exact: every add
  is atomic. They only contend on the same cache lines again.

Slot table: ``KIND_SLOTS`` records ``slots:<n>``, SLOTS_PER_BLOCK slots each,
SLOT_BYTES per slot:

    +0  owner    token of the process using the slot, 0 never used (atomic; CAS)
    +8  chunks   how many of the slot's chunk files exist (atomic; CAS k -> k+1
                 after file k was created whole)
    +16 started  the owner's full start time (informational)
    +24 (0)

**The shard space** is a second address space of chunks: chunk k holds
``chunk_bytes(shard_base, k)`` bytes (shard_base = base / 8, at least 4 KiB),
and a sharded series reserves its cell bytes at a shard ref ``k << 32 |
offset`` by CAS on the shard bump word of the arena header (never across a
chunk boundary). Slot ``s`` has its own file per chunk,
``atomicmetrics-<ssss>-<kk>.shard`` (arena file header first, tag
``TAG_SHARD | s << 8 | k``): the bytes at the series' offset in slot s's
file are slot s's shard of it. A process creates its slot's chunk file
before the shard bump may point into that chunk (a full disk fails that
one call, changing nothing), and before it places a cell there.

**Windows.** A process's cell objects point into *windows*: its own
mappings of its slot's chunk files. After ``fork()`` the child claims a slot
of its own and moves every window onto its slot's files at the same address
(``_core._remap_shared``), so every cell object, bound method and C child it
inherited records into the child's shards -- no per-series work at fork, no
check per call. If that fails the child keeps recording into its parent's
shards (exact, only shared) and a warning is logged. Scrapes read every
slot's files through separate mappings (``view``).

Cost per process x series: the series' cell bytes in every slot's chunk
files (a counter 16 bytes, a histogram ``_cell_bytes(len(bounds))``), in
whole chunks, allocated and reserved when the slot first needs the chunk.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from atomicmetrics import _fork
from atomicmetrics._core import AtomicCounter, _remap_shared
from atomicmetrics.multiprocess.arena import (
    _H_SHARD_BUMP,
    FILE_HEADER_BYTES,
    KIND_SLOTS,
    MAX_SEGMENTS,
    MIN_BASE_BYTES,
    TAG_SHARD,
    Arena,
    chunk_bytes,
)
from atomicmetrics.multiprocess.errors import RECOVERY, ArenaError, ArenaFullError
from atomicmetrics.multiprocess.processes import start_time, token, token_alive, token_pid

__all__ = ["SLOTS_PER_BLOCK", "ProcessSlots", "Slot"]

SLOTS_PER_BLOCK = 64
SLOT_BYTES = 32
MAX_SLOTS = 1 << 16  # a bound for walking untrusted slot blocks

logger = logging.getLogger("atomicmetrics.multiprocess")


class Slot:
    """The words of one process slot (see the module docstring)."""

    __slots__ = ("chunks", "number", "owner", "started")

    def __init__(
        self, number: int, owner: AtomicCounter, chunks: AtomicCounter, started: AtomicCounter
    ):
        self.number = number
        self.owner = owner
        self.chunks = chunks
        self.started = started


class ProcessSlots:
    """This process's slot in an arena, its shard windows, and every slot's shards.

    Thread-safe (one reentrant lock, slow paths only). Raises
    ``ArenaFullError`` when a chunk file cannot be created (nothing changed),
    ``ArenaError`` for foreign or corrupt slot data or chunk files.
    """

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.shard_base = max(MIN_BASE_BYTES, arena.base_bytes // 8)
        self._bump = arena.header_word(_H_SHARD_BUMP)
        self._lock = threading.RLock()  # guards the fields below
        self._slots: list[Slot] = []  # every slot of the table, by number
        self._windows: dict[int, memoryview] = {}  # chunk -> this process's mapping
        self._views: dict[tuple[int, int], memoryview] = {}  # (slot, chunk) -> scrape mapping
        self.slot = self._claim()
        # Where the lock comes from after a fork (ArenaStorage.creation_lock); else new.
        self.lock_source: Callable[[], threading.RLock] | None = None
        _fork.register(self)

    # ---- the table ----------------------------------------------------------

    def slots(self) -> list[Slot]:
        """Every slot of the table, by number (new blocks included)."""
        with self._lock:
            while len(self._slots) < MAX_SLOTS:
                block = len(self._slots) // SLOTS_PER_BLOCK
                record = self.arena.find(KIND_SLOTS, f"slots:{block}")
                if record is None:
                    break
                if record.cell_len != SLOTS_PER_BLOCK * SLOT_BYTES:
                    raise ArenaError(
                        f"{self.arena.path(0)}: slot block {block} holds {record.cell_len} "
                        f"bytes; {RECOVERY}"
                    )
                self._slots += [
                    Slot(
                        block * SLOTS_PER_BLOCK + i,
                        record.word(4 * i),
                        record.word(4 * i + 1),
                        record.word(4 * i + 2),
                    )
                    for i in range(SLOTS_PER_BLOCK)
                ]
            return self._slots

    def _claim(self) -> Slot:
        """Take a slot for this process (see the module docstring for the order)."""
        pid = os.getpid()
        started = start_time(pid)
        mine = token(pid, started)
        while True:
            slots = self.slots()
            for slot in slots:
                if slot.owner.load() == mine:
                    return slot
            for candidates in (
                [s for s in slots if s.owner.load() != 0],  # dead ones first: reuse
                [s for s in slots if s.owner.load() == 0],
            ):
                for slot in candidates:
                    owner = slot.owner.load()
                    if (owner == 0 or not token_alive(owner)) and slot.owner.compare_and_swap(
                        owner, mine
                    ):
                        slot.started.store(started)
                        return slot
            self.arena.get_or_create(
                KIND_SLOTS,
                f"slots:{len(slots) // SLOTS_PER_BLOCK}",
                "",
                SLOTS_PER_BLOCK * SLOT_BYTES,
            )

    def live_pids(self) -> list[int]:
        """The pids of the live processes holding slots, this one included."""
        return sorted(
            {token_pid(w) for w in (s.owner.load() for s in self.slots()) if w and token_alive(w)}
        )

    # ---- files ----------------------------------------------------------------

    def chunk_bytes(self, chunk: int) -> int:
        """Size of shard chunk ``chunk`` in bytes."""
        return chunk_bytes(self.shard_base, chunk)

    def _name(self, slot: int, chunk: int) -> str:
        return f"atomicmetrics-{slot:04d}-{chunk:02d}.shard"

    def _tag(self, slot: int, chunk: int) -> int:
        return TAG_SHARD | slot << 8 | chunk

    def _ensure(self, slot: Slot, chunk: int) -> None:
        """Create the slot's chunk files up to ``chunk`` (in order) if missing."""
        while True:
            have = slot.chunks.load()
            if have > chunk:
                return
            if not 0 <= have < MAX_SEGMENTS:
                raise ArenaError(
                    f"{self.arena.path(0)}: slot {slot.number} claims {have} chunks; {RECOVERY}"
                )
            n = slot.number
            self.arena.map_file(
                self._name(n, have), self.chunk_bytes(have), self._tag(n, have), create=True
            )
            slot.chunks.compare_and_swap(have, have + 1)

    def window(self, chunk: int) -> memoryview:
        """This process's mapping of its slot's chunk file ``chunk`` (made if needed)."""
        with self._lock:
            view = self._windows.get(chunk)
            if view is None:
                slot = self.slot
                self._ensure(slot, chunk)
                view = self.arena.map_file(
                    self._name(slot.number, chunk),
                    self.chunk_bytes(chunk),
                    self._tag(slot.number, chunk),
                    create=False,
                )
                self._windows[chunk] = view
            return view

    def view(self, slot: int, chunk: int) -> memoryview:
        """A scrape's mapping of slot ``slot``'s chunk file ``chunk``."""
        with self._lock:
            view = self._views.get((slot, chunk))
            if view is None:
                view = self.arena.map_file(
                    self._name(slot, chunk),
                    self.chunk_bytes(chunk),
                    self._tag(slot, chunk),
                    create=False,
                )
                self._views[(slot, chunk)] = view
            return view

    def shards(self) -> list[tuple[int, int]]:
        """(slot number, chunk files) of every slot that has any, dead ones included."""
        out = []
        for slot in self.slots():
            have = slot.chunks.load()
            if have:
                out.append((slot.number, min(have, MAX_SEGMENTS)))
        return out

    # ---- the shard space ------------------------------------------------------

    def allocate(self, nbytes: int) -> int:
        """Reserve ``nbytes`` (a multiple of 8) of the shard space; its shard ref.

        This process's chunk file is created before the shard bump word may
        point into it. Raises ``ArenaFullError`` (nothing changed).
        """
        cur = self._bump.load()
        while True:
            chunk, offset = cur >> 32, cur & 0xFFFF_FFFF
            if not (
                0 <= chunk < MAX_SEGMENTS and FILE_HEADER_BYTES <= offset <= self.chunk_bytes(chunk)
            ):
                raise ArenaError(
                    f"{self.arena.path(0)}: the shard bump word {cur:#x} is invalid; {RECOVERY}"
                )
            start = cur
            while offset + nbytes > self.chunk_bytes(chunk):
                chunk, offset = chunk + 1, FILE_HEADER_BYTES
                if chunk >= MAX_SEGMENTS:
                    raise ArenaFullError(
                        28,  # ENOSPC
                        f"{self.arena.directory}: the shard space reached its limit of "
                        f"{MAX_SEGMENTS} chunks -- nothing was changed",
                    )
                start = chunk << 32 | offset
            self.window(chunk)  # reserve, then publish
            if self._bump.compare_and_swap(cur, start + nbytes):
                return start
            cur = self._bump.load()

    def reserve(self, nbytes: int) -> None:
        """Create this process's file of the chunk a cell of ``nbytes`` would
        go to next, if missing (``ArenaFullError`` before anything is linked)."""
        cur = self._bump.load()
        chunk, offset = cur >> 32, cur & 0xFFFF_FFFF
        while chunk < MAX_SEGMENTS - 1 and offset + nbytes > self.chunk_bytes(chunk):
            chunk, offset = chunk + 1, FILE_HEADER_BYTES
        if 0 <= chunk < MAX_SEGMENTS:
            self.window(chunk)

    def check(self, ref: int, nbytes: int) -> tuple[int, int]:
        """(chunk, offset) of a shard ref read from the arena, validated for ``nbytes``."""
        chunk, offset = ref >> 32, ref & 0xFFFF_FFFF
        if (
            not 0 <= chunk < MAX_SEGMENTS
            or offset % 8
            or offset < FILE_HEADER_BYTES
            or nbytes < 0
            or offset + nbytes > self.chunk_bytes(chunk)
        ):
            raise ArenaError(
                f"{self.arena.path(0)}: holds an invalid shard reference {ref:#x}; {RECOVERY}"
            )
        return chunk, offset

    # ---- fork --------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """Claim a slot for the child and move every window onto its files.

        Renews the locks it uses first, the arena's included (fork hooks
        run in no particular order).
        """
        self.arena._after_fork_in_child()
        self._lock = threading.RLock() if self.lock_source is None else self.lock_source()
        try:
            slot = self._claim()
            for chunk, window in self._windows.items():
                self._ensure(slot, chunk)
                fd = self.arena.dir.open(self._name(slot.number, chunk), self.chunk_bytes(chunk))
                try:
                    _remap_shared(window, fd)
                finally:
                    os.close(fd)
            self.slot = slot
        except (OSError, ArenaError) as e:
            logger.warning(
                "%s: forked process %d records into its parent's shards (exact, but not "
                "scaling): %s",
                self.arena.directory,
                os.getpid(),
                e,
            )
