"""A cgroup v2 per command, where the system lets ornith make one: memory.max, pids.max, cgroup.kill.

ornith creates a child of its own cgroup (a delegated subtree: the systemd user scope it runs in, or
any cgroup root may write). The launcher moves itself in before it starts the command, so every
descendant is inside; at the end `cgroup.kill` ends them all at once, including ones that forked away
with setsid/setpgid. Limits are written only where the parent enables the controller; without a cgroup
the tiers fall back to per-process rlimits, which `ornith doctor` labels as weaker.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_MIB = 1024 * 1024


def _cgroup2_mount() -> Path | None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            return Path(left.split()[4])
    return None


def own_cgroup() -> Path | None:
    """This process's cgroup v2 directory, or None where there is no cgroup v2 hierarchy."""
    mount = _cgroup2_mount()
    if mount is None:
        return None
    try:
        entries = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    relative = next((line[3:] for line in entries if line.startswith("0::")), None)
    if relative is None:
        return None
    path = mount / relative.lstrip("/")
    return path if path.is_dir() else None


@dataclass(frozen=True)
class CommandCgroup:
    path: Path
    limits: tuple[str, ...]  # which limits the kernel accepted, e.g. ("memory.max", "pids.max")

    def kill(self) -> None:
        """Every process in the cgroup, at once (cgroup.kill, Linux >= 5.14), else one by one."""
        try:
            (self.path / "cgroup.kill").write_text("1")
            return
        except OSError:
            pass
        for _ in range(20):  # a fork loop refills the list: repeat until it stays empty
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)

    def pids(self) -> list[int]:
        try:
            return [int(line) for line in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self) -> None:
        self.kill()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                self.path.rmdir()
                return
            time.sleep(0.02)


def create_command_cgroup(memory_mib: int, processes: int) -> CommandCgroup | None:
    """A fresh child cgroup for one command, or None where this process may not make one."""
    base = own_cgroup()
    if base is None or not os.access(base, os.W_OK):
        return None
    path = base / f"ornith-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir()
    except OSError:
        return None
    accepted = []
    for name, value in (("memory.max", memory_mib * _MIB), ("memory.swap.max", 0), ("pids.max", processes)):
        with contextlib.suppress(OSError):
            (path / name).write_text(str(value))
            accepted.append(name)
    return CommandCgroup(path, tuple(accepted))


def cgroup_support() -> str:
    """One line for `ornith doctor`: what a per-command cgroup gives on this machine."""
    probe = create_command_cgroup(64, 64)
    if probe is None:
        return "no writable cgroup v2: per-process rlimits only (weaker: no total memory cap, strays killed by pid)"
    try:
        kill = (probe.path / "cgroup.kill").exists()
        limits = ", ".join(probe.limits) or "no memory/pids controller delegated (rlimits bound memory, weaker)"
        return (f"cgroup v2 per command: {'cgroup.kill at the end' if kill else 'kill by pid'}; limits: {limits}"
                + ("" if probe.limits else " (bwrap relies on its pid namespace instead)"))
    finally:
        probe.remove()
