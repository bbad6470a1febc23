"""Runs inside the child, before the command: cgroup, rlimits, mounts, capabilities, no-new-privs,
Landlock, seccomp, then exec.

Started as a plain script (`python -I -S launcher.py SPEC -- ARGV...`), so it imports only the
standard library and never the package. If any step fails it exits 126 with a message instead of
running the command with less protection than asked for.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import struct
import sys
from typing import Any

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_CLONE_NEWNET, _CLONE_NEWUSER = 0x40000000, 0x10000000

# Landlock filesystem rights, with the ABI that introduced each one.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ_RIGHTS = EXECUTE | READ_FILE | READ_DIR
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

_libc: ctypes.CDLL | None = None


def _syscall(*args: Any) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result = int(_libc.syscall(*args))
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or disabled."""
    if platform.system() != "Linux":
        return 0
    try:
        return _syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0


def fs_rights(abi: int) -> int:
    """Every filesystem right this ABI knows."""
    return _FS_BY_ABI[max(level for level in _FS_BY_ABI if level <= abi)]


def apply_landlock(spec: dict[str, Any]) -> None:
    """Restrict this process: read-only and read-write path lists, optional TCP and scope limits."""
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    handled = fs_rights(abi)
    net = 0 if spec["network"] or abi < 4 else NET_BIND_TCP | NET_CONNECT_TCP
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", handled, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _syscall(_CREATE_RULESET, ctypes.c_char_p(attr[:size]), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        proc = ["/proc"] if spec.get("private_proc") else _proc_entries()
        for paths, rights in ((spec["read"] + proc, READ_RIGHTS), (spec["write"], handled),
                              (spec["device"], READ_RIGHTS | WRITE_FILE | (IOCTL_DEV & handled))):
            for path in paths:
                _add_path_rule(ruleset, path, rights & handled)
        _syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)


def _proc_entries() -> list[str]:
    """/proc without other processes' directories: Landlock's ptrace scoping does not stop a
    same-uid read of /proc/PID/environ on every kernel, so those are simply not granted.
    Only this process's own directory (the command, after exec) stays readable."""
    entries = [f"/proc/{name}" for name in os.listdir("/proc") if not name.isdigit()]
    return [*entries, f"/proc/{os.getpid()}"]


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist here grants nothing
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        attr = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr is packed
        _syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.c_char_p(attr),
                 ctypes.c_uint32(0))
    finally:
        os.close(fd)


def apply_seccomp(program: bytes) -> None:
    class SockFprog(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_char_p))

    fprog = SockFprog(len(program) // 8, program)
    _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog))


def _prctl(option: int, arg: int, pointer: Any = None) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    extra = pointer if pointer is not None else ctypes.c_ulong(0)
    if _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), extra, ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _uid_process_count(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def apply_rlimits(limits: dict[str, int], processes: int | None) -> None:
    import resource

    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    # RLIMIT_NPROC counts all of the user's processes, and root is exempt: add our share on top.
    if processes is not None and os.getuid() != 0 and hasattr(resource, "RLIMIT_NPROC"):
        cap = _uid_process_count(os.getuid()) + processes
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))


def _sibling(name: str) -> Any:
    """A module beside this script (`-I` keeps the script's folder off sys.path)."""
    import importlib.util

    location = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    module_spec = importlib.util.spec_from_file_location(f"_ornith_{name}", location)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def become(uid: int, gid: int) -> None:
    """Run as this (unprivileged) user from here on: ornith as root in someone else's project."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def join_network(netns: dict[str, str | None]) -> None:
    """Enter the command's own network namespace (sandbox/network.py): its user namespace first when not root."""
    libc = ctypes.CDLL(None, use_errno=True)
    for path, kind in ((netns.get("user"), _CLONE_NEWUSER), (netns["net"], _CLONE_NEWNET)):
        if path:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(ctypes.c_int(fd), ctypes.c_int(kind)) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"setns {path}: {os.strerror(error)}")
            finally:
                os.close(fd)


def join_cgroup(path: str) -> None:
    """Move this process (so every later descendant) into the command's cgroup."""
    with open(os.path.join(path, "cgroup.procs"), "w") as handle:
        handle.write(str(os.getpid()))


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    command = argv[3:]  # argv[2] is "--"
    try:
        if spec.get("netns"):
            join_network(spec["netns"])
        if spec.get("cgroup"):
            join_cgroup(spec["cgroup"])
        apply_rlimits(spec["rlimits"], spec.get("processes"))
        if spec.get("isolate") is not None:
            # Forks: from here on this is pid 1 of a fresh pid namespace, in a private mount namespace.
            _sibling("isolate").isolate(spec["isolate"], spec.get("idmap"))
            if spec.get("landlock") is not None:
                spec["landlock"]["private_proc"] = True  # our own /proc shows only the command's processes
        elif spec.get("idmap") is not None:  # bwrap comes next, and binds the idmapped workspace
            _sibling("isolate").private_mounts()
            _sibling("isolate").idmap(spec["idmap"])
        owner = spec.get("uid")
        if spec.get("drop_caps"):
            _sibling("isolate").drop_capabilities(owner)
        elif owner is not None:
            become(*owner)
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)  # no setuid escalation, in every tier
        if spec.get("landlock") is not None:
            apply_landlock(spec["landlock"])
        if spec.get("seccomp"):
            apply_seccomp(bytes.fromhex(spec["seccomp"]))
    except (OSError, ValueError, KeyError) as error:
        sys.stderr.write(f"ornith sandbox: could not set up the sandbox: {error}\n")
        return 126
    try:
        os.execvp(command[0], command)
    except OSError as error:
        sys.stderr.write(f"ornith sandbox: {command[0]}: {error.strerror}\n")
        return 127
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv))
