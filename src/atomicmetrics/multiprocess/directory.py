"""The arena directory: checked and owned, and the only way files enter or are opened.

Trust model. An arena directory is shared by the processes of one user (or,
in group mode, of one group): each of them can write every word in it, so
each must trust the others. Nobody else may create, replace, truncate or
redirect anything there:

* the directory must be a real directory (a symbolic link is refused), owned
  by the effective user (group mode: or by the effective group), and writable
  by nobody else (group mode: by the group too);
* a file is opened with ``O_NOFOLLOW`` and must be a regular file owned by the
  effective user (group mode: or carrying the directory's group), writable by
  no other user (group mode: by the group too), and exactly the size its
  name implies;
* a file is created under an unpredictable temporary name with
  ``O_CREAT | O_EXCL | O_NOFOLLOW``, mode ``0o600`` (group mode ``0o660``),
  sized, reserved on the file system (``posix_fallocate``) and given its
  header, then ``link()``ed to its name: it appears whole or not at all and
  never replaces a file. A full file system raises ``ArenaFullError`` here,
  before anything refers to the file.

Every open is relative to one descriptor of the directory taken when the
arena is opened, so a path component replaced later does not redirect it.
Anything refused raises ``ArenaError`` naming the path and what is wrong.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import re
import secrets
import stat

from atomicmetrics.multiprocess.errors import FULL_ERRNOS, ArenaError, ArenaFullError

__all__ = ["ArenaDirectory"]

_TEMP = re.compile(r"\.atomicmetrics-(\d+)-[0-9a-f]+\.tmp")


class ArenaDirectory:
    """An opened, checked arena directory (see the module docstring).

    ``group`` makes files ``0o660`` and accepts a group-writable directory
    and files of a group of ours. ``use`` (the default) creates the
    directory if needed and holds a shared ``flock`` on it while the
    descriptor is open; ``use=False`` only opens an existing one (what
    ``remove_stale_arena`` does). Thread-safe (no state changes after
    ``__init__``). Raises ``ArenaError`` for a directory that fails the
    checks, ``OSError`` when it cannot be created or opened.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, group: bool = False, use: bool = True
    ) -> None:
        self.path = os.fspath(path)
        self.group = group
        self.file_mode = 0o660 if group else 0o600
        self._others = 0o002 if group else 0o022  # write bits nobody else may have
        created = self._make() if use else False
        try:
            self.fd = os.open(
                self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            )
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ArenaError(
                    f"{self.path}: is a symbolic link or not a directory; an arena directory "
                    "must be a real directory owned by the user running the application"
                ) from e
            raise
        try:
            if created and group:
                os.fchmod(self.fd, 0o770)  # the umask may have dropped the group's bits
            self._check_owner(self.path, os.fstat(self.fd), "directory")
            if use:
                # Held while this descriptor is open (forked children share
                # it): remove_stale_arena() deletes nothing a live process uses.
                fcntl.flock(self.fd, fcntl.LOCK_SH)
                self._remove_dead_temp_files()
        except BaseException:
            os.close(self.fd)
            raise

    def _make(self) -> bool:
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(self.path, 0o770 if self.group else 0o700)
        except FileExistsError:
            return False
        return True

    def close(self) -> None:
        """Close the directory descriptor (mapped files stay mapped)."""
        os.close(self.fd)

    def _check_owner(self, path: str, st: os.stat_result, what: str) -> None:
        ours = st.st_uid == os.geteuid() or (self.group and st.st_gid in _groups())
        if not ours:
            raise ArenaError(
                f"{path}: {what} owned by uid {st.st_uid} (group {st.st_gid}), not by this "
                f"process (uid {os.geteuid()}); an arena must belong to the user running "
                "the application (docs/multiprocess.md, trust model)"
            )
        if st.st_mode & self._others:
            who = "other users" if self.group else "its group or other users"
            raise ArenaError(
                f"{path}: {what} is writable by {who} (mode {stat.S_IMODE(st.st_mode):#o}); "
                "anyone who can write it can corrupt or replace the arena "
                "(docs/multiprocess.md, trust model)"
            )

    def file_path(self, name: str) -> str:
        """The path of file ``name`` (for messages)."""
        return os.path.join(self.path, name)

    def names(self) -> list[str]:
        """The names of the directory's entries."""
        return os.listdir(self.fd)

    def open(self, name: str, size: int | None = None) -> int:
        """A read-write descriptor of the existing file ``name``, checked.

        ``size`` (when given) must be its exact size. Raises
        ``FileNotFoundError`` when it does not exist, ``ArenaError`` when it
        is a link, not a regular file, not ours, writable by others or of
        another size.
        """
        path = self.file_path(name)
        try:
            fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            raise
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ArenaError(f"{path}: is a symbolic link; refused") from e
            raise ArenaError(f"{path}: cannot be opened ({e})") from e
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ArenaError(f"{path}: is not a regular file; refused")
            self._check_owner(path, st, "file")
            if size is not None and st.st_size != size:
                raise ArenaError(f"{path}: is {st.st_size} bytes long, not {size}")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def map(self, name: str, size: int) -> memoryview:
        """A writable shared mapping of the existing file ``name`` (``open``'s checks)."""
        fd = self.open(name, size)
        try:
            mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        return memoryview(mm)

    def create(self, name: str, size: int, header: bytes) -> bool:
        """Create file ``name`` whole: ``size`` zero bytes, reserved, ``header`` first.

        Returns False (and creates nothing) when ``name`` already exists.
        Raises ``ArenaFullError`` when the file system refuses the space,
        with nothing left behind.
        """
        temp = f".atomicmetrics-{os.getpid()}-{secrets.token_hex(8)}.tmp"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(temp, flags, self.file_mode, dir_fd=self.fd)
        except OSError as e:
            raise self._os_error(name, e) from e
        try:
            os.fchmod(fd, self.file_mode)  # exactly: the umask may have dropped bits
            os.ftruncate(fd, size)
            _reserve(fd, size)
            os.pwrite(fd, header, 0)
            os.link(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as e:
            raise self._os_error(name, e) from e
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=self.fd)
        return True

    def _os_error(self, name: str, e: OSError) -> Exception:
        path = self.file_path(name)
        if e.errno in FULL_ERRNOS:
            return ArenaFullError(
                e.errno,
                f"{path}: the arena cannot grow ({os.strerror(e.errno or 0)}); free space or "
                "raise the limit (docs/multiprocess.md, sizing) -- nothing was changed",
            )
        return ArenaError(f"{path}: cannot be created ({e})")

    def _remove_dead_temp_files(self) -> None:
        """Temporary files a killed process left half-made, taking space."""
        for name in self.names():
            m = _TEMP.fullmatch(name)
            if m is not None and not _pid_exists(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=self.fd)

    def lock_exclusive(self) -> bool:
        """Take ``flock(LOCK_EX)`` without waiting: False while any process uses
        the directory (a registry holds ``LOCK_SH`` on it while it is open)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _reserve(fd: int, size: int) -> None:
    """Reserve the file's blocks now (ENOSPC here, not SIGBUS on a later store)."""
    if not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise  # a file system that cannot reserve keeps the sparse file


def _groups() -> set[int]:
    return {os.getegid(), *os.getgroups()}


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
