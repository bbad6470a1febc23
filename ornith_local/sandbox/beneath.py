"""The primitive under `workspace_fs`: open a path beneath a directory handle with no symlink on any component.

`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` where the kernel has it (Linux >= 5.6,
called through ctypes: the C library has no wrapper), else a walk that opens each component with
`O_NOFOLLOW | O_DIRECTORY` relative to the previous one (older kernels, macOS, a seccomp filter refusing the
call). Refusals become small OSError subclasses whose message names the offending component.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import cast

CLOEXEC = getattr(os, "O_CLOEXEC", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
DIRECTORY = getattr(os, "O_DIRECTORY", 0)
DIR_FLAGS = os.O_RDONLY | DIRECTORY | NOFOLLOW | CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | NOFOLLOW | CLOEXEC

# linux/openat2.h
_SYS_OPENAT2 = 437  # one number for x86-64, arm64, arm, riscv and the rest since 5.6 (alpha alone differs)
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
                os.close(_raw_openat2(-100, "/", DIR_FLAGS & ~NOFOLLOW, 0))  # AT_FDCWD; "/" itself is no link
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


def refusal(dir_fd: int, name: str, shown: str, error: OSError) -> OSError:
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


def walk_dirs(root_fd: int, parts: list[str], *, create: bool = False) -> int:
    """A new fd on the directory `parts` beneath `root_fd`, every component opened without following links."""
    current = os.dup(root_fd)
    try:
        for index, name in enumerate(parts):
            shown = "/".join(parts[:index + 1])
            try:
                following = os.open(name, DIR_FLAGS, dir_fd=current)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=current)
                try:
                    following = os.open(name, DIR_FLAGS, dir_fd=current)
                except OSError as error:
                    raise refusal(current, name, shown, error) from None
            except OSError as error:
                raise refusal(current, name, shown, error) from None
            os.close(current)
            current = following
        return current
    except BaseException:
        os.close(current)
        raise


def open_beneath(root_fd: int, parts: list[str], flags: int, mode: int = 0) -> int:
    rel = "/".join(parts) or "."
    for _ in range(3 if openat2_available() else 0):
        try:
            return _raw_openat2(root_fd, rel, flags, mode)
        except OSError as error:
            if error.errno == errno.EAGAIN:
                continue  # a rename raced the lookup (the kernel's own check): try again, then walk
            if error.errno not in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
                raise
            # Find which component is the link, for a message that names it.
            parent = walk_dirs(root_fd, parts[:-1])
            try:
                raise refusal(parent, parts[-1], rel, error) from None
            finally:
                os.close(parent)
    parent = walk_dirs(root_fd, parts[:-1])
    try:
        return os.open(parts[-1], flags, mode, dir_fd=parent) if parts else os.dup(parent)
    except OSError as error:
        raise refusal(parent, parts[-1] if parts else ".", rel, error) from None
    finally:
        os.close(parent)


def describe_mode(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symlink")]
    return next((label for test, label in kinds if test(mode)), "a special file")
