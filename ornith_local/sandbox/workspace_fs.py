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
import ctypes
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import cast

DEFAULT_READ_LIMIT = 16 * 1024 * 1024

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | _NOFOLLOW | _CLOEXEC

# linux/openat2.h
_SYS_OPENAT2 = 437  # the same number on every Linux architecture (the unified syscall table)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08


class UnsafePath(OSError):
    """A workspace path that host-side code refuses to open; the message says why, for the user or the model."""


class SymlinkRefused(UnsafePath):
    pass


class NotRegularFile(UnsafePath):
    pass


class FileTooLarge(UnsafePath):
    def __init__(self, rel: str, size: int, limit: int) -> None:
        super().__init__(f"{rel} is {human_size(size)}; files over {human_size(limit)} are not read here")
        self.size = size
        self.limit = limit


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_openat2_state: list[bool] = []  # [] until probed, then [available]


def _syscall() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    function = libc.syscall
    function.restype = ctypes.c_long
    return cast("Callable[..., int]", function)


_SYSCALL = _syscall()


def _raw_openat2(dir_fd: int, rel: str, flags: int, mode: int) -> int:
    """openat2 beneath `dir_fd` with no symlinks at all; OSError(errno) as the kernel says."""
    assert _SYSCALL is not None
    how = _OpenHow(flags, mode if flags & os.O_CREAT else 0,
                   _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
    fd = _SYSCALL(ctypes.c_long(_SYS_OPENAT2), ctypes.c_long(dir_fd), ctypes.c_char_p(os.fsencode(rel)),
                  ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), rel)
    return int(fd)


def openat2_available() -> bool:
    """Whether this kernel (and any seccomp filter around us) lets openat2 through."""
    if not _openat2_state:
        available = False
        if _SYSCALL is not None:
            try:
                os.close(_raw_openat2(-100, "/", _DIR_FLAGS & ~_NOFOLLOW, 0))  # AT_FDCWD; "/" itself is no link
                available = True
            except OSError as error:
                # ENOSYS: kernel < 5.6. EPERM: a container's seccomp profile that predates the call.
                available = error.errno not in (errno.ENOSYS, errno.EPERM)
        _openat2_state.append(available)
    return _openat2_state[0]


def split_relative(rel: str | PurePosixPath) -> list[str]:
    """The components of a workspace-relative path; `..`, absolute paths and NUL are refused."""
    text = str(rel).replace("\\", "/") if os.sep == "\\" else str(rel)
    if "\x00" in text or text.startswith("/"):
        raise UnsafePath(f"{text!r}: not a relative path inside the workspace")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise UnsafePath(f"{text}: '..' is not followed here")
    return parts


def _refusal(dir_fd: int, name: str, shown: str, error: OSError) -> OSError:
    """The error to raise for a failed open of `name` in `dir_fd`: a clear refusal where the cause is ours."""
    if error.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR, errno.EXDEV):
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return error
        if stat.S_ISLNK(info.st_mode):
            return SymlinkRefused(f"{shown} is a symlink; ornith does not follow links a command could have planted")
        if error.errno == errno.ENOTDIR:
            return NotRegularFile(f"{shown} is not a directory")
    return error


def _walk_dirs(root_fd: int, parts: list[str], *, create: bool = False) -> int:
    """A new fd on the directory `parts` beneath `root_fd`, every component opened without following links."""
    current = os.dup(root_fd)
    try:
        for index, name in enumerate(parts):
            shown = "/".join(parts[:index + 1])
            try:
                following = os.open(name, _DIR_FLAGS, dir_fd=current)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=current)
                try:
                    following = os.open(name, _DIR_FLAGS, dir_fd=current)
                except OSError as error:
                    raise _refusal(current, name, shown, error) from None
            except OSError as error:
                raise _refusal(current, name, shown, error) from None
            os.close(current)
            current = following
        return current
    except BaseException:
        os.close(current)
        raise


def _open_beneath(root_fd: int, parts: list[str], flags: int, mode: int = 0) -> int:
    rel = "/".join(parts) or "."
    if openat2_available():
        try:
            return _raw_openat2(root_fd, rel, flags, mode)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
                raise
            # Find which component is the link, for a message that names it.
            parent = _walk_dirs(root_fd, parts[:-1])
            try:
                raise _refusal(parent, parts[-1], rel, error) from None
            finally:
                os.close(parent)
    parent = _walk_dirs(root_fd, parts[:-1])
    try:
        return os.open(parts[-1], flags, mode, dir_fd=parent) if parts else os.dup(parent)
    except OSError as error:
        raise _refusal(parent, parts[-1] if parts else ".", rel, error) from None
    finally:
        os.close(parent)


@dataclass(frozen=True)
class WorkspaceFS:
    """File operations beneath one workspace root. `root` is trusted (the user chose it); nothing under it is."""

    root: Path

    @contextlib.contextmanager
    def _root_fd(self) -> Iterator[int]:
        fd = os.open(self.root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def directory(self, rel: str | PurePosixPath, *, create: bool = False) -> Iterator[int]:
        """An fd on the directory `rel` (created, parents too, with `create`), reached without any symlink."""
        parts = split_relative(rel)
        with self._root_fd() as root_fd:
            fd = _walk_dirs(root_fd, parts, create=create)
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
            fd = _open_beneath(root_fd, parts, _READ_FLAGS)
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


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _create_temp(parent: int, name: str) -> tuple[str, int]:
    for _ in range(100):
        temp = f".{name[:200]}.{os.urandom(4).hex()}.ornith-tmp"
        try:
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600,
                                 dir_fd=parent)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


def describe_mode(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symlink")]
    return next((label for test, label in kinds if test(mode)), "a special file")
