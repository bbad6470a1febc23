"""Host-side file access inside a workspace that a sandboxed command cannot redirect.

Anything in the workspace may have been written by a model-run command: a file may be a symlink to the user's
private key, a directory a symlink to `~/.ssh`, a FIFO that blocks every reader, a sparse 2 GiB file. Every
path here is opened relative to a handle on the workspace root and refuses symlinks and non-regular files on
*every* component: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel has it (Linux >= 5.6), a
component-by-component `O_NOFOLLOW | O_DIRECTORY` walk with `dir_fd` elsewhere (older kernels, macOS). Files
are opened `O_NONBLOCK` and checked with `fstat` before a byte is read, reads are capped, and writes go to a
temporary file created in the directory *handle* and renamed within it, so a directory swapped for a symlink
after the walk (a `RENAME_EXCHANGE` race) cannot move the write elsewhere.

Callers that want in-workspace symlinks to keep working (an alias file) resolve the path first
(`paths.resolve_in_workspace`) and hand this module the real, symlink-free relative path: a link planted after
that check is then refused here instead of followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ornith_local.sandbox.beneath import (
    CLOEXEC,
    DIRECTORY,
    NOFOLLOW,
    READ_FLAGS,
    FileTooLarge,
    NotRegularFile,
    SymlinkRefused,
    UnsafePath,
    describe_mode,
    human_size,
    open_beneath,
    openat2_available,
    refusal,
    split_relative,
    walk_dirs,
)

DEFAULT_READ_LIMIT = 16 * 1024 * 1024
HELD_DIRECTORIES = 64  # directory handles one OpenDirectories keeps: far below the usual 1024-descriptor limit

__all__ = ["DEFAULT_READ_LIMIT", "FileTooLarge", "NotRegularFile", "OpenDirectories", "SymlinkRefused", "UnsafePath",
           "WorkspaceFS", "describe_mode", "human_size", "openat2_available", "split_relative"]


@dataclass(frozen=True)
class WorkspaceFS:
    """File operations beneath one workspace root. `root` is trusted (the user chose it); nothing under it is."""

    root: Path

    @contextlib.contextmanager
    def _root_fd(self) -> Iterator[int]:
        fd = os.open(self.root, os.O_RDONLY | DIRECTORY | CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def directory(self, rel: str | PurePosixPath, *, create: bool = False) -> Iterator[int]:
        """An fd on the directory `rel` (created, parents too, with `create`), reached without any symlink."""
        parts = split_relative(rel)
        with self._root_fd() as root_fd:
            fd = walk_dirs(root_fd, parts, create=create)
        try:
            yield fd
        finally:
            os.close(fd)

    def open_regular(self, rel: str | PurePosixPath) -> int:
        """A read-only fd on the regular file `rel`; never blocks (FIFO), never follows a link. Caller closes."""
        parts = split_relative(rel)
        if not parts:
            raise NotRegularFile(f"{rel}: is the workspace root, not a file")
        with self._root_fd() as root_fd:
            fd = open_beneath(root_fd, parts, READ_FLAGS)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise NotRegularFile(f"{rel} is {describe_mode(info.st_mode)}, not a regular file; refused")
        return fd

    def read_bytes(self, rel: str | PurePosixPath, limit: int = DEFAULT_READ_LIMIT) -> bytes:
        """The whole file, or FileTooLarge when it is over `limit` bytes (checked before reading)."""
        fd = self.open_regular(rel)
        try:
            size = os.fstat(fd).st_size
            if size > limit:
                raise FileTooLarge(str(rel), size, limit)
            chunks: list[bytes] = []
            remaining = limit + 1  # a file growing while read is still capped
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
            if len(data) > limit:
                raise FileTooLarge(str(rel), len(data), limit)
            return data
        finally:
            os.close(fd)

    def read_head(self, rel: str | PurePosixPath, limit: int) -> bytes:
        """At most the first `limit` bytes of the regular file `rel` (a sparse 2 GiB file costs `limit`)."""
        fd = self.open_regular(rel)
        try:
            chunks: list[bytes] = []
            remaining = limit
            while remaining > 0 and (chunk := os.read(fd, min(remaining, 1 << 20))):
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def lstat(self, rel: str | PurePosixPath) -> os.stat_result | None:
        """lstat of `rel` with every parent reached link-free; None when absent or behind a link."""
        parts = split_relative(rel)
        if not parts:
            return os.stat(self.root)
        try:
            with self.directory(PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".") as parent:
                return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError, UnsafePath):
            return None

    def is_real_directory(self, rel: str | PurePosixPath) -> bool:
        """Whether `rel` is a directory reached from the root with no link on the way (itself included)."""
        try:
            with self.directory(rel):
                return True
        except OSError:
            return False

    def scandir(self, rel: str | PurePosixPath) -> list[tuple[str, bool]]:
        """(name, is a real directory) of every entry of the directory `rel`, sorted by name; links are not dirs."""
        with self.directory(rel) as fd, os.scandir(fd) as entries:
            return sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)

    def write_atomic(self, rel: str | PurePosixPath, data: bytes, *, mode: int | None = None,
                     keep_mode: bool = True) -> None:
        """Replace (or create) the regular file `rel` with `data` in one rename inside the parent's handle.

        The existing file's permission bits are kept unless `mode` is given; an existing symlink or
        non-regular file in its place is refused, never written through.
        """
        parts = split_relative(rel)
        if not parts:
            raise NotRegularFile("cannot write the workspace root")
        name = parts[-1]
        with self.directory(PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".", create=True) as parent:
            try:
                existing: os.stat_result | None = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
            if existing is not None and stat.S_ISLNK(existing.st_mode):
                raise SymlinkRefused(f"{rel} is a symlink; refusing to write through it")
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                raise NotRegularFile(f"{rel} is {describe_mode(existing.st_mode)}, not a regular file; refused")
            if mode is None:
                mode = stat.S_IMODE(existing.st_mode) if existing is not None and keep_mode else _default_mode()
            temp, fd = _create_temp(parent, name)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fchmod(fd, mode)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=parent)
                raise
            with contextlib.suppress(OSError):
                os.fsync(parent)  # makes the rename durable; not every platform allows it on a directory

    def chmod(self, rel: str | PurePosixPath, mode: int) -> None:
        fd = self.open_regular(rel)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def symlink(self, rel: str | PurePosixPath, target: str) -> None:
        """Create the symlink `rel` -> `target` (restoring a checkpointed link); its parents are reached link-free."""
        parts = split_relative(rel)
        with self.directory(PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".", create=True) as parent:
            os.symlink(target, parts[-1], dir_fd=parent)

    def readlink(self, rel: str | PurePosixPath) -> str:
        parts = split_relative(rel)
        with self.directory(PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".") as parent:
            return os.readlink(parts[-1], dir_fd=parent)

    def unlink(self, rel: str | PurePosixPath) -> bool:
        """Remove the file or link `rel` (never what a link points to); False when it was not there."""
        parts = split_relative(rel)
        try:
            with self.directory(PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".") as parent:
                os.unlink(parts[-1], dir_fd=parent)
        except FileNotFoundError:
            return False
        return True

    def rmdir_empty(self, rel: str | PurePosixPath) -> bool:
        """Remove the directory `rel` if it is empty and reached link-free; False otherwise."""
        parts = split_relative(rel)
        if not parts:
            return False
        try:
            with self.directory(PurePosixPath(*parts[:-1]) if len(parts) > 1 else ".") as parent:
                os.rmdir(parts[-1], dir_fd=parent)
        except OSError:
            return False
        return True


class OpenDirectories:
    """Directory handles opened link-free once each and held for a batch of reads (a checkpoint's snapshot).

    A held handle stays on the directory it was opened on even if a racing command renames it or puts a link in
    its place, so each file costs two system calls (fstatat, openat) instead of a walk from the root.
    """

    def __init__(self, root: Path) -> None:
        self._root_fd = os.open(root, os.O_RDONLY | DIRECTORY | CLOEXEC)
        self._fds: dict[str, int | None] = {}

    def __enter__(self) -> OpenDirectories:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        os.close(self._root_fd)

    def _parent(self, rel: str) -> tuple[int | None, str]:
        parts = split_relative(rel)
        key = "/".join(parts[:-1])
        if key not in self._fds:
            if len(self._fds) >= HELD_DIRECTORIES:  # git lists a directory's files together: drop the oldest
                oldest = self._fds.pop(next(iter(self._fds)))
                if oldest is not None:
                    os.close(oldest)
            try:
                self._fds[key] = walk_dirs(self._root_fd, parts[:-1])
            except OSError:
                self._fds[key] = None  # missing, or a link on the way: everything under it reads as absent
        return self._fds[key], parts[-1]

    def lstat(self, rel: str) -> os.stat_result | None:
        parent, name = self._parent(rel)
        if parent is None:
            return None
        try:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)
        except OSError:
            return None

    def readlink(self, rel: str) -> str:
        parent, name = self._parent(rel)
        if parent is None:
            raise FileNotFoundError(errno.ENOENT, "not reachable without a link", rel)
        return os.readlink(name, dir_fd=parent)

    def open_regular(self, rel: str) -> int:
        """A read-only fd on the regular file `rel`, as WorkspaceFS.open_regular."""
        parent, name = self._parent(rel)
        if parent is None:
            raise FileNotFoundError(errno.ENOENT, "not reachable without a link", rel)
        try:
            fd = os.open(name, READ_FLAGS, dir_fd=parent)
        except OSError as error:
            raise refusal(parent, name, rel, error) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise NotRegularFile(f"{rel} is {describe_mode(info.st_mode)}, not a regular file; refused")
        return fd


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _create_temp(parent: int, name: str) -> tuple[str, int]:
    for _ in range(100):
        temp = f".{name[:200]}.{os.urandom(4).hex()}.ornith-tmp"
        try:
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o600,
                                 dir_fd=parent)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


