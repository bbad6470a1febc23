"""A seccomp-BPF filter, built by hand as bytes: no libseccomp needed.

The same bytes feed `bwrap --seccomp FD` and the Landlock tier's launcher. Denied calls fail with
EPERM (clone3 with ENOSYS, so libc falls back to clone, whose flags we can inspect); a foreign
syscall ABI (i386 via int 0x80, x32) is refused outright because its numbers differ.
"""

from __future__ import annotations

import errno
import platform
import struct
import sys
from dataclasses import dataclass

# Syscall numbers per architecture. The generic table (aarch64) differs from x86_64.
_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "unshare": 272, "setns": 308, "mount": 165,
    "umount2": 166, "pivot_root": 155, "chroot": 161, "mount_setattr": 442, "move_mount": 429,
    "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "open_by_handle_at": 304, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "keyctl": 250, "add_key": 248, "request_key": 249, "acct": 163, "swapon": 167, "swapoff": 168,
    "reboot": 169, "quotactl": 179, "syslog": 103, "pidfd_getfd": 438, "setsid": 112,
    "clone": 56, "clone3": 435, "socket": 41, "ioctl": 16, "openat2": 437,
}
_AARCH64 = {
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "unshare": 97, "setns": 268, "mount": 40,
    "umount2": 39, "pivot_root": 41, "chroot": 51, "mount_setattr": 442, "move_mount": 429,
    "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "open_by_handle_at": 265, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105,
    "finit_module": 273, "delete_module": 106, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    "keyctl": 219, "add_key": 217, "request_key": 218, "acct": 89, "swapon": 224, "swapoff": 225,
    "reboot": 142, "quotactl": 60, "syslog": 116, "pidfd_getfd": 438, "setsid": 157,
    "clone": 220, "clone3": 435, "socket": 198, "ioctl": 29, "openat2": 437,
}
# Calls that can give a file the setuid/setgid bit, with the index of their mode argument. A setuid
# binary made as root inside the sandbox would hand root to whoever runs it later, outside.
_MODE_SETTERS = {
    "x86_64": {"chmod": (90, 1), "fchmod": (91, 1), "fchmodat": (268, 2), "fchmodat2": (452, 2),
               "open": (2, 2), "openat": (257, 3), "creat": (85, 1), "mknod": (133, 1), "mknodat": (259, 2)},
    "aarch64": {"fchmod": (52, 1), "fchmodat": (53, 2), "fchmodat2": (452, 2), "openat": (56, 3),
                "mknodat": (33, 2)},
}
_MODE_SETTERS["arm64"] = _MODE_SETTERS["aarch64"]
S_ISUID_ISGID = 0o6000
_ARCHES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64), "arm64": (0xC00000B7, _AARCH64)}

# Always denied: debugging other processes, new namespaces, mounts, kernel-wide state, io_uring
# (it bypasses seccomp for the operations it carries).
_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "open_by_handle_at",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "acct", "swapon", "swapoff",
    "reboot", "quotactl", "syslog", "pidfd_getfd",
)

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

_LD_W_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW, _KILL_PROCESS, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_X32_BIT = 0x40000000


class SeccompUnsupported(RuntimeError):
    """This CPU architecture has no syscall table here."""


@dataclass(frozen=True)
class FilterOptions:
    allow_network: bool = False  # inet / inet6 / netlink sockets
    allow_unix_sockets: bool = False  # socket(AF_UNIX); socketpair() always works
    deny_setsid: bool = False  # the Landlock tier keeps every process in one session to kill it


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of syscall argument `index` in struct seccomp_data."""
    return 16 + 8 * index + (0 if sys.byteorder == "little" else 4)


def _block(nr: int, body: list[bytes]) -> list[bytes]:
    """`if syscall == nr: <body, which always returns>`."""
    return [_insn(_JEQ, nr, 0, len(body)), *body]


def build_filter(options: FilterOptions, machine: str | None = None) -> bytes:
    """The filter program as raw `struct sock_filter` bytes for this (or the named) architecture."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SeccompUnsupported(f"no seccomp syscall table for {machine}")
    audit_arch, table = _ARCHES[machine]
    eperm = _ERRNO | errno.EPERM
    prog = [_insn(_LD_W_ABS, 4), _insn(_JEQ, audit_arch, 1, 0), _insn(_RET, _KILL_PROCESS), _insn(_LD_W_ABS, 0)]
    if machine == "x86_64":
        prog += [_insn(_JGE, _X32_BIT, 0, 1), _insn(_RET, eperm)]
    denied = list(_DENIED) + (["setsid"] if options.deny_setsid else [])
    for name in denied:
        prog += _block(table[name], [_insn(_RET, eperm)])
    prog += _block(table["clone3"], [_insn(_RET, _ERRNO | errno.ENOSYS)])
    # openat2 passes its mode inside a struct the filter cannot read: ENOSYS makes libc use openat.
    prog += _block(table["openat2"], [_insn(_RET, _ERRNO | errno.ENOSYS)])
    for nr, mode_arg in _MODE_SETTERS[machine].values():
        prog += _block(nr, [_insn(_LD_W_ABS, _arg_low(mode_arg)), _insn(_JSET, S_ISUID_ISGID, 0, 1),
                            _insn(_RET, eperm), _insn(_RET, _ALLOW)])

    socket_body = [_insn(_LD_W_ABS, _arg_low(0))]
    socket_body += [_insn(_JEQ, AF_UNIX, 0, 1), _insn(_RET, _ALLOW if options.allow_unix_sockets else eperm)]
    if options.allow_network:
        for family in (AF_INET, AF_INET6, AF_NETLINK):
            socket_body += [_insn(_JEQ, family, 0, 1), _insn(_RET, _ALLOW)]
    socket_body.append(_insn(_RET, eperm))
    prog += _block(table["socket"], socket_body)

    # ioctl's request is an unsigned int in the kernel: compare only the low 32 bits.
    ioctl_body = [_insn(_LD_W_ABS, _arg_low(1))]
    for request in (TIOCSTI, TIOCLINUX):
        ioctl_body += [_insn(_JEQ, request, 0, 1), _insn(_RET, eperm)]
    ioctl_body.append(_insn(_RET, _ALLOW))
    prog += _block(table["ioctl"], ioctl_body)

    clone_body = [_insn(_LD_W_ABS, _arg_low(0)), _insn(_JSET, _CLONE_NS_FLAGS, 0, 1), _insn(_RET, eperm),
                  _insn(_RET, _ALLOW)]
    prog += _block(table["clone"], clone_body)
    prog.append(_insn(_RET, _ALLOW))
    return b"".join(prog)


def seccomp_supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in _ARCHES
