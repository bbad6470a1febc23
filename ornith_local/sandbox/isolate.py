"""The launcher's namespace step (Linux): a private mount namespace and pid namespace, then no capabilities.

Loaded by `launcher.py` by path and so standard library only. Inside a new mount namespace (as root,
or in a user namespace of our own) it makes every protected path read-only with a bind mount, puts
a minimal /dev over the host's, and mounts a /proc that shows only the command's processes. The pid
namespace's init is the command itself: when it ends (or is killed) the kernel kills every process
left in the namespace, so nothing outlives the command, setsid/setpgid or not.
"""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import struct
import sys
from typing import Any

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x20000000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_NOATIME, MS_NODIRATIME, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 16384, 1 << 18, 1 << 21
# statvfs f_flag bit -> the mount flag a read-only remount must keep (the kernel refuses to drop
# a locked nosuid/nodev/noexec in a user namespace).
_KEEP = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME),
         (4096, MS_RELATIME))
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encoded(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(_libc.mount(encoded(source), target.encode(), encoded(fstype), ctypes.c_ulong(flags), encoded(data)),
           f"mount {target}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _enter_namespaces(flags: int = CLONE_NEWNS | CLONE_NEWPID) -> None:
    """New namespaces (`flags`); a user namespace first when we are not root, mapping us to ourselves."""
    if os.geteuid() == 0:
        _unshare(flags)
        return
    uid, gid = os.geteuid(), os.getegid()
    _unshare(CLONE_NEWUSER | flags)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def hold_network() -> None:
    """A new network namespace (sandbox/network.py), held until stdin closes: when the command ends, or ornith
    dies, the namespace goes with it."""
    _enter_namespaces(CLONE_NEWNET)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()


def _read_only(path: str, source: str | None = None) -> None:
    """`path` read-only: itself, or `source` bound over it."""
    _mount(source or path, path, None, MS_BIND | MS_REC)
    flags = os.statvfs(path).f_flag
    keep = sum(mount_flag for bit, mount_flag in _KEEP if flags & bit)
    _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)


def _private_dev(tmpfs_bytes: int) -> None:
    """A small tmpfs over /dev holding only the harmless devices (bound from the host's)."""
    originals = {}
    for name in DEVICES:
        try:
            originals[name] = os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue  # /dev/tty without a controlling terminal, for one
    pts = None
    if os.isatty(0):
        pts = os.ttyname(0)  # keep only our own terminal, not everyone's /dev/pts
        originals["pts"] = os.open(pts, os.O_PATH | os.O_CLOEXEC)
    _mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=65536,mode=0755")
    for name, fd in originals.items():
        target = f"/dev/{name}" if name != "pts" else str(pts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w"):
            pass
        _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
        os.close(fd)
    os.makedirs("/dev/shm", exist_ok=True)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={tmpfs_bytes},mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/dev/{name}")
    _mount(None, "/dev", None, MS_REMOUNT | MS_NOSUID | MS_NOEXEC | MS_RDONLY, "size=65536,mode=0755")


def _become_init() -> None:
    """Fork into the new pid namespace; the parent waits and passes the command's exit status on."""
    child = os.fork()
    if child == 0:
        # Dies with the launcher (which the runner kills), and takes the whole namespace with it.
        _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        return
    for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(number, signal.SIG_IGN)  # the terminal's signals are for the command
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


_OPEN_TREE, _MOVE_MOUNT, _MOUNT_SETATTR = 428, 429, 442  # the same number on every architecture
_AT_FDCWD, _AT_EMPTY_PATH, _OPEN_TREE_CLONE, _MOVE_MOUNT_F_EMPTY_PATH = -100, 0x1000, 1, 4
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_IDMAP = 0x1, 0x00100000


def _syscall(number: int, *args: Any) -> int:
    result = int(_libc.syscall(number, *args))
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


def _mapping_namespace(uid: int, gid: int) -> int:
    """A user namespace (as an fd) whose id 0 is `uid`/`gid` outside: the idmapping of the workspace mount."""
    ready_read, ready_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            _unshare(CLONE_NEWUSER)
            os.write(ready_write, b"1")
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_write)  # so a child that failed reads as the end of the pipe, not a wait forever
    try:
        if os.read(ready_read, 1) != b"1":
            raise OSError("could not make the idmapping's user namespace")
        for name, value in (("uid_map", uid), ("gid_map", gid)):
            with open(f"/proc/{child}/{name}", "w") as handle:
                handle.write(f"0 {value} 1")
        return os.open(f"/proc/{child}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(ready_read)


def idmap(spec: dict[str, Any]) -> None:
    """Show the root-owned workspace `spec["path"]` as owned by `spec["uid"]`/`spec["gid"]` (an idmapped bind mount
    over itself, in our private mount namespace): root working in its own project still runs the command as an
    unprivileged uid, which can write the project (its new files are root's on disk) and nothing else root owns.
    `spec["reveal"]`: directories that uid could not search on the way to what it needs (/root for root's own
    interpreter, /tmp/pytest-of-root...), shown to it the same way but read-only; each tier still hides what is
    not granted (bwrap's tmpfs over /root, Landlock's rules)."""
    uid, gid, path = int(spec["uid"]), int(spec["gid"]), str(spec["path"])
    userns = spec["userns"] if "userns" in spec else _mapping_namespace(uid, gid)
    workspace = os.open(path, os.O_PATH | os.O_CLOEXEC)  # before a revealed parent covers it
    try:
        for directory in spec.get("reveal", []):
            _idmapped_clone(_AT_FDCWD, str(directory).encode(), 0, str(directory), userns, read_only=True)
        _idmapped_clone(workspace, b"", _AT_EMPTY_PATH, path, userns, read_only=False)
        os.chdir(os.getcwd())  # the command starts in the workspace: the new mount's, not the one below it
    finally:
        os.close(workspace)
        os.close(userns)


def _idmapped_clone(dirfd: int, name: bytes, flags: int, target: str, userns: int, *, read_only: bool) -> None:
    tree = _syscall(_OPEN_TREE, dirfd, name, flags | _OPEN_TREE_CLONE | os.O_CLOEXEC)
    try:
        attr = struct.pack("=QQQQ", _MOUNT_ATTR_IDMAP | (_MOUNT_ATTR_RDONLY if read_only else 0), 0, 0, userns)
        _syscall(_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, attr, len(attr))
        _syscall(_MOVE_MOUNT, tree, b"", _AT_FDCWD, target.encode(), _MOVE_MOUNT_F_EMPTY_PATH)
    finally:
        os.close(tree)


def private_mounts() -> None:
    """A mount namespace of our own (root only) where nothing propagates back to the host."""
    _unshare(CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def isolate(spec: dict[str, Any], workspace_idmap: dict[str, Any] | None = None) -> None:
    if workspace_idmap is not None:  # its helper process forks: before the pid namespace, which allows one child
        workspace_idmap = {**workspace_idmap, "userns": _mapping_namespace(workspace_idmap["uid"],
                                                                           workspace_idmap["gid"])}
    _enter_namespaces()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    if workspace_idmap is not None:  # first: the read-only binds below are made inside the idmapped mount
        idmap(workspace_idmap)
    for path in spec["read_only"]:
        if os.path.lexists(path) and not stat.S_ISLNK(os.lstat(path).st_mode):
            _read_only(path)
    for source, target in spec.get("binds", []):  # e.g. a resolv.conf the command's own network can reach
        _read_only(target, source)
    if spec.get("private_dev"):
        _private_dev(int(spec["tmpfs_bytes"]))
    _become_init()
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # only this namespace's processes


def drop_capabilities(owner: list[int] | None) -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets; become `owner` (uid, gid)
    first when given (root running in someone else's project), while we still may."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for cap in range(last + 1):
        _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EPERM without CAP_SETPCAP: checked below
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if owner is not None:
        os.setgroups([])
        os.setresgid(owner[1], owner[1], owner[1])
        os.setresuid(owner[0], owner[0], owner[0])
    header = struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    _check(_libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(bytes(24))), "capset")
    with open("/proc/self/status") as handle:
        status = dict(line.split(":\t", 1) for line in handle.read().splitlines() if ":\t" in line)
    if any(int(status.get(name, "0"), 16) for name in ("CapEff", "CapPrm", "CapInh", "CapAmb")):
        raise OSError("capabilities remain after dropping them")
    if os.geteuid() == 0 and int(status.get("CapBnd", "0"), 16):
        raise OSError("the capability bounding set could not be emptied")


if __name__ == "__main__":
    if sys.argv[1:] == ["--hold-network"]:
        try:
            hold_network()
        except OSError as failure:  # one line: it becomes the SandboxError the user reads
            sys.stderr.write(f"{failure}\n")
            sys.exit(1)
        sys.exit(0)
    try:  # `python -I -S isolate.py PATH`: whether PATH's filesystem takes an idmapped mount here
        private_mounts()
        idmap({"path": sys.argv[1], "uid": 1, "gid": 1})
    except OSError as failure:
        sys.stderr.write(f"{failure}\n")
        sys.exit(1)
