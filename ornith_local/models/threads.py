"""How many llama.cpp threads a run uses, and why, in words for `ornith doctor` and the run header.

The count itself is decided where the model loads (`[model] threads`, else every core this process may
use); this module only explains it, and notices a busy machine, where fewer threads are often faster:
on a 2-core machine shared with other work, one thread decoded twice as fast as two (issue 26).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ornith_local.models.hardware import free_cores

SETTING_HINT = "ORNITH_MODEL_THREADS=N or [model] threads"
BUSY_HINT = "on a busy machine fewer threads can be faster: try ORNITH_MODEL_THREADS=1"


@dataclass(frozen=True)
class ThreadPlan:
    count: int
    reason: str
    busy: str | None = None  # a sentence when the load average says other work competes for the cores

    def describe(self) -> str:
        return f"threads: {self.count} ({self.reason})"


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None


def thread_plan(configured: int | None, *, load: float | None = None) -> ThreadPlan:
    cores = free_cores()
    load = load_average() if load is None else load
    busy = None
    if load is not None and load >= cores:
        busy = f"the machine is busy (load {load:.1f} on {cores} core(s)); {BUSY_HINT}"
    if configured:
        return ThreadPlan(configured, f"set by {SETTING_HINT}", busy)
    return ThreadPlan(cores, f"every core this process may use; {SETTING_HINT} to change", busy)
