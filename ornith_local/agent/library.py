"""The scaffold library: every finished run's scaffold and verified outcome, in SQLite with FTS5.

Stage 1 asks it for the scaffolds that verifiably worked on the most similar past tasks and shows
them to the model as examples. That is the local, weight-free way reward flows back to scaffolds.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.config import app_dirs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    task TEXT NOT NULL,
    task_kind TEXT NOT NULL,
    scaffold_json TEXT NOT NULL,
    outcome TEXT NOT NULL,          -- "verified" | "failed" | "flagged" | "aborted"
    turns INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS runs_fts USING fts5(task, content='runs', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS runs_ai AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts(rowid, task) VALUES (new.id, new.task);
END;
"""

_WORD = re.compile(r"[A-Za-z0-9_]{2,}")


def library_path() -> Path:
    return app_dirs().data / "scaffolds.sqlite3"


@dataclass(frozen=True)
class PastRun:
    task: str
    task_kind: str
    scaffold: dict[str, Any]
    outcome: str
    turns: int


class ScaffoldLibrary:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or library_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(_SCHEMA)

    def add(self, *, session_id: str, task: str, task_kind: str, scaffold: dict[str, Any], outcome: str,
            turns: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO runs (session_id, task, task_kind, scaffold_json, outcome, turns, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, task, task_kind, json.dumps(scaffold), outcome, turns, time.time()),
            )

    def similar_successes(self, task: str, k: int = 2) -> list[PastRun]:
        """The k verified runs whose task text is closest to `task` (BM25), fewest turns first on ties."""
        words = _WORD.findall(task.lower())
        if not words or k <= 0:
            return []
        # Quoted terms OR-ed together: any shared word counts, and no user text is read as FTS syntax.
        query = " OR ".join(f'"{word}"' for word in dict.fromkeys(words))
        rows = self._db.execute(
            "SELECT runs.task, runs.task_kind, runs.scaffold_json, runs.outcome, runs.turns "
            "FROM runs_fts JOIN runs ON runs.id = runs_fts.rowid "
            "WHERE runs_fts MATCH ? AND runs.outcome = 'verified' "
            "ORDER BY bm25(runs_fts), runs.turns LIMIT ?",
            (query, k),
        ).fetchall()
        return [PastRun(task, kind, json.loads(scaffold), outcome, turns)
                for task, kind, scaffold, outcome, turns in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        self._db.close()
