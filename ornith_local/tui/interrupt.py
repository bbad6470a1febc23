"""Stop a sandboxed command the runtime is waiting on, so an interrupt does not wait for it to finish.

The sandbox starts every command in a new session (its own process group) as a child of this
process. Killing those groups makes the running tool return at once ("killed"); the runtime's next
callback then raises `RunInterrupted`. Only children of this process are touched, never anything else.
On systems without /proc the interrupt takes effect when the command ends or hits its timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    return raw[raw.rfind(")") + 2 :].split()


def sandboxed_children(parent: int | None = None) -> list[int]:
    """Pids of this process's children that lead their own process group (the sandbox's commands)."""
    parent = os.getpid() if parent is None else parent
    if not PROC.is_dir():
        return []
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # After the name: state, ppid, pgrp, session, ...
        if fields and len(fields) > 3 and int(fields[1]) == parent and int(fields[2]) == int(entry.name):
            found.append(int(entry.name))
    return found


def kill_sandboxed_commands() -> int:
    """SIGKILL the process group of every sandboxed command this process is running; how many."""
    killed = 0
    for pid in sandboxed_children():
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
            killed += 1
    return killed
