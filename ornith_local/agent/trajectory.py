"""The session trajectory: an append-only JSONL file per run, one event per line, flushed per event.

Every event is flushed to the OS as it is written, so a crash of ornith loses nothing; the file is
fsynced at milestones and at least once a second, so even a crash of the machine loses at most the
last second (an fsync per event would cost ~4 ms each, the whole turn budget of the runtime). The
reader skips a torn last line. Sessions CLI, resume and training-data export all read these events.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ornith_local.agent.events import Event, from_json
from ornith_local.config import app_dirs


def sessions_dir() -> Path:
    return app_dirs().data / "sessions"


def new_session_id() -> str:
    """Sortable by start time, unique enough for one user's machine."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


MILESTONES = frozenset({"start", "resumed", "scaffold", "checkpoint", "step_end", "checks", "end"})
SYNC_INTERVAL_S = 1.0


class Trajectory:
    """Writes one session's events. Use as a context manager or call close()."""

    def __init__(self, session_id: str, folder: Path | None = None) -> None:
        self.session_id = session_id
        self.path = (folder or sessions_dir()) / f"{session_id}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = self.path.open("a", encoding="utf-8")
        self._synced_at = 0.0

    def record(self, event: Event) -> None:
        data = event.to_json()
        line = json.dumps({"type": data.pop("type"), "time": round(time.time(), 3), **data}, default=str)
        self._handle.write(line + "\n")
        self._handle.flush()
        now = time.monotonic()
        if event.kind in MILESTONES or now - self._synced_at >= SYNC_INTERVAL_S:
            os.fsync(self._handle.fileno())
            self._synced_at = now

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()

    def __enter__(self) -> Trajectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> Iterator[Event]:
    """Every complete event in a trajectory file, typed; a torn last line (a crash mid-write) is skipped, and so
    is an event type this version does not know."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            event = from_json(raw) if isinstance(raw, dict) else None
            if event is not None:
                yield event


def list_sessions(folder: Path | None = None) -> list[Path]:
    """Trajectory files, newest first."""
    folder = folder or sessions_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.jsonl"), reverse=True)
