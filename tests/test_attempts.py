"""Attempts: N rollouts of one task in their own git worktrees, the verifier's pick applied to the user's tree.

A real git repo (the bundled invoicing example) with a real failing test, the real sandbox and verifier; the
model side is scripted: one attempt changes nothing, the other fixes the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ornith_local.agent.events import AttemptsRanked, Baseline, Event, RunStarted
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.trajectory import read_events, sessions_dir
from ornith_local.attempts import Attempt, rank, run_attempts
from ornith_local.config import load_config
from ornith_local.llm.backend import Completion, Message
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.session import RunRequest
from tests.conftest import git
from tests.test_cli_run import EDIT, ORNITH, TASK, ScriptedServer, call, run_cli, scaffold_pieces

SOURCE = "invoicing/discounts.py"
PLAN = "".join(scaffold_pieces())


def user_files(repo: Path) -> dict[str, bytes]:
    skip = {".git", "__pycache__", ".pytest_cache"}
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and not skip & set(p.parts)}


def with_user_changes(repo: Path) -> dict[str, bytes]:
    """An untracked note and an uncommitted edit: both must reach the attempts and survive undo byte for byte."""
    (repo / "notes.txt").write_bytes(b"my own notes\r\nkeep me\n")
    readme = next(p for p in sorted(repo.iterdir()) if p.is_file() and p.suffix in (".md", ".toml", ".cfg"))
    readme.write_bytes(readme.read_bytes() + b"\n# local edit, not committed\n")
    return user_files(repo)


def request(repo: Path, **options: object) -> RunRequest:
    options = {"mode": "auto", **options}
    return RunRequest(task=TASK, repo=repo, config=load_config(repo), use_judge=False, use_library=False,
                      **options)  # type: ignore[arg-type]


Replies = list[str | Callable[[Sequence[Message]], str] | Completion]


def gives_up() -> Replies:
    return [PLAN, call("step_done", summary="nothing to change")]


def fixes(check: Callable[[], None] = lambda: None) -> Replies:
    def done(_: Sequence[Message]) -> str:
        check()  # the edit is made in the worktree by now
        return call("step_done", summary="changed > to >=")

    return [PLAN, call("edit_file", **EDIT), done]


def collect() -> tuple[list[tuple[int | None, Event]], Callable[[int | None, Event], None]]:
    seen: list[tuple[int | None, Event]] = []
    return seen, lambda number, event: seen.append((number, event))


def test_the_verified_attempt_is_applied_and_undo_restores_the_users_tree_exactly(example_repo: Path) -> None:
    before = with_user_changes(example_repo)

    def untouched() -> None:
        assert user_files(example_repo) == before  # the attempts work in worktrees, never in the user's tree

    seen, emit = collect()
    done = run_attempts(request(example_repo), 2, emit=emit,
                        backends=[ScriptedBackend(gives_up()), ScriptedBackend(fixes(untouched))])
    assert done.chosen == 2 and done.result is not None and done.result.outcome == "verified"
    outcomes = {attempt.number: attempt.outcome for attempt in done.attempts}
    assert outcomes[2] == "verified" and outcomes[1] != "verified"
    after = user_files(example_repo)
    assert {name for name in after if after[name] != before.get(name)} == {SOURCE}
    assert after[SOURCE] == before[SOURCE].replace(b"quantity > minimum", b"quantity >= minimum")
    assert {number for number, _ in seen if number is not None} == {1, 2}  # every event carries its attempt
    assert git(example_repo, "worktree", "list").strip().count("\n") == 0  # the worktrees are gone
    ranked = [event for event in read_events(sessions_dir() / f"{done.session_id}.jsonl")
              if isinstance(event, AttemptsRanked)]
    assert ranked and ranked[0].chosen == 2

    undone = subprocess.run([str(ORNITH), "undo", "--session", done.session_id, "--repo", str(example_repo), "--yes"],
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert undone.returncode == 0, undone.stderr
    assert user_files(example_repo) == before

    applied = subprocess.run([str(ORNITH), "attempts", "apply", done.session_id, "2", "--repo", str(example_repo)],
                             capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert applied.returncode == 0, applied.stderr
    assert user_files(example_repo) == after  # kept after the worktrees are gone


def test_first_policy_stops_at_the_first_verified_attempt(example_repo: Path) -> None:
    backend = ScriptedBackend(fixes() + gives_up())  # one backend: the attempts run one after another
    seen, emit = collect()
    done = run_attempts(request(example_repo), 2, emit=emit, policy="first", backends=[backend])
    assert done.chosen == 1
    assert [a.outcome for a in done.attempts] == ["verified", "aborted"]
    assert len(backend.replies) == 2  # the second attempt never asked the model
    assert {number for number, _ in seen if number is not None} == {1}


def attempt(number: int, outcome: str, diff: str, judge: str | None = None) -> Attempt:
    return Attempt(number, f"s-a{number}", outcome, "", judge, diff, "", (), "", f"c{number}")


def test_ranking_never_picks_a_flagged_attempt_and_prefers_verified_then_approval_then_the_smaller_diff() -> None:
    assert [a.number for a in rank([attempt(1, "flagged", "+x"), attempt(2, "unverified", "+y" * 50)])] == [2]
    assert rank([attempt(1, "unverified", "+a"), attempt(2, "verified", "+b" * 99)])[0].number == 2
    assert rank([attempt(1, "verified", "+a", "veto"), attempt(2, "verified", "+b" * 9, "approve")])[0].number == 2
    assert rank([attempt(1, "verified", "+a" * 9), attempt(2, "verified", "+a")])[0].number == 2
    assert rank([attempt(1, "verified", ""), attempt(2, "error", "+a")]) == []  # no change, or no run: nothing


def test_the_library_ranks_a_scaffold_that_beat_another_attempt_above_the_one_that_lost(tmp_path: Path) -> None:
    library = ScaffoldLibrary(tmp_path / "library.sqlite3")
    task = "Fix the bulk discount threshold in the invoicing module"
    for session, steps in (("s-a1", ["look", "change"]), ("s-a2", ["change"])):
        library.add(session_id=session, task=task, task_kind="fix_bug", scaffold={"steps": steps},
                    outcome="verified", turns=3, repo=tmp_path)
    library.record_contest("s-a2", ["s-a1"], tmp_path)
    found = library.similar_successes(task, k=2, repo=tmp_path)
    assert [run.scaffold["steps"] for run in found] == [["change"], ["look", "change"]]
    library.record_contest("s-a1", ["s-a2"], tmp_path)
    library.record_contest("s-a1", ["s-a2"], tmp_path)  # now it has beaten the other more often than it lost
    assert library.similar_successes(task, k=1, repo=tmp_path)[0].scaffold["steps"] == ["look", "change"]
    library.close()


class _Requests(list[dict[str, Any]]):
    def __init__(self, seen: threading.local) -> None:
        super().__init__()
        self.seen = seen

    def append(self, request: dict[str, Any]) -> None:
        self.seen.seed = request.get("seed", 0)  # the handler's thread asks for its reply next
        super().append(request)


class PerAttemptServer(ScriptedServer):
    """Each attempt its own script, told apart by the sampling seed (the run's seed + attempt - 1): the attempts
    ask the endpoint at the same time, each through its own client."""

    def __init__(self, scripts: dict[int, list[str]]) -> None:
        super().__init__([])
        self.scripts = scripts
        self.seen = threading.local()
        self.requests = _Requests(self.seen)

    @property  # type: ignore[override]
    def replies(self) -> list[str]:
        return self.scripts[getattr(self.seen, "seed", 0)]

    @replies.setter
    def replies(self, value: list[str]) -> None:
        pass


def test_the_cli_runs_attempts_and_tags_each_json_line(example_repo: Path) -> None:
    served = PerAttemptServer({0: [str(r) for r in gives_up()], 1: [PLAN, call("edit_file", **EDIT),
                                                                   call("step_done", summary="changed > to >=")]})
    done = run_cli(served, example_repo, "--attempts", "2", "--json")
    assert "Traceback" not in done.stderr, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    starts = [line["attempt"] for line in lines if line["event"] == "start"]
    assert sorted(starts) == [1, 2]
    ranked = next(line for line in lines if line["event"] == "attempts")
    assert ranked["chosen"] == 2 and ranked["attempt"] is None
    assert lines[-1]["event"] == "summary" and lines[-1]["outcome"] == "verified" and lines[-1]["attempt"] == 2
    assert done.returncode == 0
    assert "quantity >= minimum" in (example_repo / SOURCE).read_text()
    assert (Path(os.environ["ORNITH_DATA_DIR"]) / "sessions" / f"{lines[-1]['session_id']}.jsonl").exists()


def test_the_agent_suite_judges_the_attempt_the_runtime_applied() -> None:
    """`agent_suite.py --attempts 2`: the held-back checks run on the tree the ranking chose."""
    from benchmarks.agent_suite import SuiteOptions, load_tasks, run_task
    from benchmarks.suite_report import format_table

    task = load_tasks(["notes-empty-tags"])[0]
    fix = [call("read_file", path="notes/tags.py"), call("step_done", summary="the empty tag is kept"),
           "notes/tags.py line 9 keeps an empty tag; it should skip blank ones.",
           call("edit_file", path="notes/tags.py", old_string="if tag not in tags:",
                new_string="if tag and tag not in tags:"),
           call("step_done", summary="blank tags skipped"), call("run_tests"), call("step_done", summary="tests pass")]
    give_up = [call("read_file", path="notes/tags.py"), call("step_done", summary="looked"), "Nothing to change.",
               call("step_done", summary="no change"), call("step_done", summary="done")]
    backend = ScriptedBackend([*give_up, *fix])
    run, _ = run_task(task, "fixed", SuiteOptions(judge=False, max_turns=12, attempts=2), backend=backend,
                      emit=lambda event: None)
    assert run.outcome == "verified" and run.heldback_passed and run.solved, (run.error, run.steps)
    assert run.files_changed == ["notes/tags.py"] and run.trajectory and "-a2-" in run.trajectory
    assert len(run.attempts) == 2 and run.attempts[1] == "verified" and run.attempts[0] != "verified"
    assert f"notes-empty-tags (fixed) attempts: 1 {run.attempts[0]}; 2 verified" in format_table([run])


def test_an_attempt_runs_the_tests_in_the_users_git_ignored_virtualenv(example_repo: Path) -> None:
    # A worktree is made from git, so the project's .venv (git-ignored) is not in it: the attempt's tests must
    # still run with that venv, where the project's dependencies are (here one that only the venv has).
    (example_repo / ".gitignore").write_text(".venv/\n")
    (example_repo / "tests" / "test_rates.py").write_text(
        "from house_rates import RATE\n\n\ndef test_the_house_rate():\n    assert RATE == 3\n")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-q", "-m", "a test that needs the venv")
    subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=example_repo, check=True, timeout=300)
    subprocess.run([str(example_repo / ".venv/bin/python"), "-m", "pip", "install", "-q", "pytest"],
                   cwd=example_repo, check=True, capture_output=True, timeout=600)
    site = next((example_repo / ".venv").glob("lib/python*/site-packages"))
    (site / "house_rates.py").write_text("RATE = 3\n")

    seen, emit = collect()
    done = run_attempts(request(example_repo), 1, emit=emit, backends=[ScriptedBackend(fixes())])
    assert done.result is not None and done.result.outcome == "verified", done.result
    started = next(event for _, event in seen if isinstance(event, RunStarted))
    assert f"of {example_repo}" in started.tests and ".venv" in started.tests
    failing_before = next(event for _, event in seen if isinstance(event, Baseline)).failing
    assert failing_before and not any("house_rate" in test for test in failing_before)  # the venv's import worked
    assert not any("house_rate" in test for test in done.result.checks[0].details["failing"])


def test_an_approval_prompt_says_which_attempt_asks(example_repo: Path) -> None:
    asked: list[str] = []

    def ask(tool: str, preview: Any, tier: str) -> str:
        asked.append(f"{tool} | {preview.title}")
        return "yes"

    done = run_attempts(request(example_repo, mode="ask"), 2, emit=lambda number, event: None, ask=ask,
                        backends=[ScriptedBackend(gives_up()), ScriptedBackend(fixes())])
    assert done.chosen == 2
    edits = [line for line in asked if line.startswith("edit_file")]
    assert edits and all(line.startswith(f"edit_file | attempt 2: edit {SOURCE}") for line in edits), asked
