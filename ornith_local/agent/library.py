"""The scaffold library: every finished run's scaffold and verified outcome, in SQLite with FTS5.

Stage 1 asks it for the scaffolds that verifiably worked on the most similar past tasks and shows
them to the model as examples. That is the local, weight-free way reward flows back to scaffolds.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.config import app_dirs

# One statement each: they run inside one transaction (a script would commit before it starts).
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    task TEXT NOT NULL,
    task_kind TEXT NOT NULL,
    scaffold_json TEXT NOT NULL,
    outcome TEXT NOT NULL,          -- "verified" | "failed" | "flagged" | "aborted"
    turns INTEGER NOT NULL,
    created REAL NOT NULL,
    repo TEXT NOT NULL DEFAULT '',
    wins INTEGER NOT NULL DEFAULT 0,
    losses INTEGER NOT NULL DEFAULT 0
)""",
    "CREATE VIRTUAL TABLE IF NOT EXISTS runs_fts USING fts5(task, content='runs', content_rowid='id')",
    """CREATE TRIGGER IF NOT EXISTS runs_ai AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts(rowid, task) VALUES (new.id, new.task);
END""",
)
# Columns a library written by an older ornith lacks: (name, definition).
_ADDED_COLUMNS = (("repo", "TEXT NOT NULL DEFAULT ''"), ("wins", "INTEGER NOT NULL DEFAULT 0"),
                  ("losses", "INTEGER NOT NULL DEFAULT 0"))
# Seconds a connection waits for another's write: attempts run at once and each opens the library.
_BUSY_TIMEOUT_S = 30.0

_WORD = re.compile(r"[A-Za-z0-9_]{2,}")
# Words too common in coding tasks to say two tasks are alike.
_COMMON = frozenset({
    "the", "and", "for", "with", "that", "this", "should", "when", "from", "into", "not", "but", "are", "its", "it",
    "is", "on", "in", "of", "to", "an", "be", "or", "fix", "bug", "add", "make", "test", "tests", "code", "function",
    "file", "does", "doesn", "error"})
# A run from another repository is offered only when its task shares this many distinctive words.
OTHER_REPO_MIN_SHARED = 3


def library_path() -> Path:
    return app_dirs().data / "scaffolds.sqlite3"


@dataclass(frozen=True)
class PastRun:
    task: str
    task_kind: str
    scaffold: dict[str, Any]
    outcome: str
    turns: int
    repo: str = ""


class ScaffoldLibrary:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or library_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S)
        with self._writing():
            for statement in _SCHEMA:
                self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            for name, definition in _ADDED_COLUMNS:
                if name not in columns:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction that takes the write lock before it reads: two connections that both read first and
        then write can deadlock, and SQLite answers one of them "database is locked" without waiting."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.rollback()
            raise
        self._db.commit()

    def add(self, *, session_id: str, task: str, task_kind: str, scaffold: dict[str, Any], outcome: str,
            turns: int, repo: Path | str = "") -> None:
        with self._writing():
            self._db.execute(
                "INSERT INTO runs (session_id, task, task_kind, scaffold_json, outcome, turns, created, repo) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, task, task_kind, json.dumps(scaffold), outcome, turns, time.time(), _repo_key(repo)),
            )

    def record_contest(self, winner: str, losers: list[str], repo: Path | str = "") -> None:
        """Attempts of one task (attempts.py): the applied one beat the others. This is the local form of the
        group-relative reward: retrieval ranks a scaffold that won above one that lost. `repo`: the user's, as the
        attempts ran in worktrees that are gone."""
        key = _repo_key(repo)
        with self._writing():
            self._db.execute("UPDATE runs SET wins = wins + ?, repo = ? WHERE session_id = ?",
                             (len(losers), key, winner))
            self._db.executemany("UPDATE runs SET losses = losses + 1, repo = ? WHERE session_id = ?",
                                 [(key, loser) for loser in losers])

    def similar_successes(self, task: str, k: int = 2, *, repo: Path | str = "") -> list[PastRun]:
        """The k verified runs closest to `task` (BM25): this repository's first, then those that beat other
        attempts at their task above those that lost (`record_contest`), fewest turns on ties.

        A run of another repository is offered only when its task shares at least OTHER_REPO_MIN_SHARED
        distinctive words with this one: a scaffold for an unrelated task teaches the model the wrong plan.
        """
        words = _distinctive(task)
        if not words or k <= 0:
            return []
        here = _repo_key(repo)
        # Quoted terms OR-ed together: any shared word counts, and no user text is read as FTS syntax.
        query = " OR ".join(f'"{word}"' for word in words)
        rows = self._db.execute(
            "SELECT runs.task, runs.task_kind, runs.scaffold_json, runs.outcome, runs.turns, runs.repo "
            "FROM runs_fts JOIN runs ON runs.id = runs_fts.rowid "
            "WHERE runs_fts MATCH ? AND runs.outcome = 'verified' "
            "ORDER BY (runs.repo = ? AND ? != '') DESC, runs.wins - runs.losses DESC, bm25(runs_fts), runs.turns "
            "LIMIT ?",
            (query, here, here, k * 5),
        ).fetchall()
        found = [PastRun(task, kind, json.loads(scaffold), outcome, turns, past_repo)
                 for task, kind, scaffold, outcome, turns, past_repo in rows]
        return [run for run in found
                if (here and run.repo == here) or len(words & _distinctive(run.task)) >= OTHER_REPO_MIN_SHARED][:k]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _distinctive(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _COMMON}


def _repo_key(repo: Path | str) -> str:
    return str(Path(repo).resolve()) if str(repo) else ""
