"""Scaffold library and trajectories: real SQLite FTS5 retrieval, crash-tolerant JSONL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ornith_local.agent.events import RunStarted, ToolCalled
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.trajectory import Trajectory, list_sessions, new_session_id, read_events


def test_similar_verified_scaffolds_come_back_best_first(tmp_path: Path) -> None:
    library = ScaffoldLibrary(tmp_path / "lib.sqlite3")
    repo = tmp_path / "shop"
    for session, task, outcome, turns in (("a", "fix off-by-one in bulk discount tiers", "verified", 7),
                                          ("b", "fix off-by-one in pagination", "verified", 5),
                                          ("c", "bulk discount tiers are wrong", "failed", 20),
                                          ("d", "add a CSV export", "verified", 9)):
        library.add(session_id=session, task=task, task_kind="fix_bug", scaffold={"steps": [session]},
                    outcome=outcome, turns=turns, repo=repo)
    found = library.similar_successes("The bulk discount tiers have an off-by-one", k=2, repo=repo)
    assert [run.scaffold["steps"] for run in found] == [["a"], ["b"]]
    assert all(run.outcome == "verified" for run in found)
    assert library.similar_successes("", k=2, repo=repo) == []
    # FTS syntax in user text is treated as words, not as a query language.
    assert library.similar_successes('discount" OR * NEAR(', k=5, repo=repo)[0].scaffold["steps"] == ["a"]


def test_this_repos_scaffolds_first_and_unrelated_ones_from_elsewhere_never(tmp_path: Path) -> None:
    library = ScaffoldLibrary(tmp_path / "lib.sqlite3")
    here, elsewhere = tmp_path / "invoicing", tmp_path / "blog"
    library.add(session_id="other-close", task="Invoice total crashes on an invoice with no lines",
                task_kind="fix_bug", scaffold={"steps": ["other-close"]}, outcome="verified", turns=3, repo=elsewhere)
    library.add(session_id="other-far", task="pagination crashes on the last page", task_kind="fix_bug",
                scaffold={"steps": ["other-far"]}, outcome="verified", turns=2, repo=elsewhere)
    library.add(session_id="here", task="average of an empty invoice", task_kind="fix_bug",
                scaffold={"steps": ["here"]}, outcome="verified", turns=9, repo=here)
    task = "Invoice.average_line_total crashes on an invoice with no lines; it should return zero"
    found = [run.scaffold["steps"][0] for run in library.similar_successes(task, k=3, repo=here)]
    # This repo's run leads though it matches fewer words; the unrelated run of another repo (one shared
    # word, "crashes") is not offered at all.
    assert found == ["here", "other-close"]
    assert library.similar_successes(task, k=3, repo=elsewhere)[0].repo == str(elsewhere.resolve())


def test_library_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite3"
    first = ScaffoldLibrary(path)
    first.add(session_id="a", task="rename a function", task_kind="refactor", scaffold={}, outcome="verified", turns=3)
    first.close()
    assert ScaffoldLibrary(path).count() == 1


def test_attempts_opening_a_new_library_at_once_all_record_their_run(tmp_path: Path) -> None:
    # `ornith run --attempts 4` opens the library from four threads at the same moment, on a first run a library
    # that does not exist yet. Each must get its run recorded, not "duplicate column" or "database is locked".
    errors: list[str] = []
    for round_ in range(80):
        path = tmp_path / f"lib{round_}.sqlite3"
        start = threading.Barrier(4)

        def attempt(number: int, path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                library = ScaffoldLibrary(path)
                library.add(session_id=f"a{number}", task="fix the bulk discount", task_kind="fix_bug",
                            scaffold={}, outcome="verified", turns=2)
                library.close()
            except sqlite3.Error as error:
                errors.append(str(error))

        threads = [threading.Thread(target=attempt, args=(number,)) for number in range(1, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert ScaffoldLibrary(path).count() == 4


def test_a_library_from_before_attempts_gains_their_columns_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:  # the first release's table: no repo, wins or losses
        old.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task TEXT NOT NULL, "
                    "task_kind TEXT NOT NULL, scaffold_json TEXT NOT NULL, outcome TEXT NOT NULL, "
                    "turns INTEGER NOT NULL, created REAL NOT NULL)")
        old.execute("INSERT INTO runs VALUES (1, 's1', 'fix the parser', 'fix_bug', '{}', 'verified', 3, 0)")
    library = ScaffoldLibrary(path)
    library.record_contest("s1", [], tmp_path)
    assert library.count() == 1
    library.close()


def test_trajectory_survives_a_torn_last_line(tmp_path: Path) -> None:
    session = new_session_id()
    with Trajectory(session, tmp_path) as trajectory:
        trajectory.record(RunStarted(task="fix it"))
        trajectory.record(ToolCalled(tool="read_file", arguments={"path": "a.py"}))
    with trajectory.path.open("a") as handle:
        handle.write('{"type": "tool_result", "output": "cut off by a cra')
    events = list(read_events(trajectory.path))
    assert events == [RunStarted(task="fix it"), ToolCalled(tool="read_file", arguments={"path": "a.py"})]
    assert list_sessions(tmp_path) == [trajectory.path]
