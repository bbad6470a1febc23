"""Scaffold library and trajectories: real SQLite FTS5 retrieval, crash-tolerant JSONL."""

from __future__ import annotations

from pathlib import Path

from ornith_local.agent.events import RunStarted, ToolCalled
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.trajectory import Trajectory, list_sessions, new_session_id, read_events


def test_similar_verified_scaffolds_come_back_best_first(tmp_path: Path) -> None:
    library = ScaffoldLibrary(tmp_path / "lib.sqlite3")
    library.add(session_id="a", task="fix off-by-one in bulk discount tiers", task_kind="fix_bug",
                scaffold={"steps": ["a"]}, outcome="verified", turns=7)
    library.add(session_id="b", task="fix off-by-one in pagination", task_kind="fix_bug",
                scaffold={"steps": ["b"]}, outcome="verified", turns=5)
    library.add(session_id="c", task="bulk discount tiers are wrong", task_kind="fix_bug",
                scaffold={"steps": ["c"]}, outcome="failed", turns=20)
    library.add(session_id="d", task="add a CSV export", task_kind="feature",
                scaffold={"steps": ["d"]}, outcome="verified", turns=9)
    found = library.similar_successes("The bulk discount tiers have an off-by-one", k=2)
    assert [run.scaffold["steps"] for run in found] == [["a"], ["b"]]
    assert all(run.outcome == "verified" for run in found)
    assert library.similar_successes("", k=2) == []
    # FTS syntax in user text is treated as words, not as a query language.
    assert library.similar_successes('discount" OR * NEAR(', k=5)[0].scaffold["steps"] == ["a"]


def test_library_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite3"
    first = ScaffoldLibrary(path)
    first.add(session_id="a", task="rename a function", task_kind="refactor", scaffold={}, outcome="verified", turns=3)
    first.close()
    assert ScaffoldLibrary(path).count() == 1


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
