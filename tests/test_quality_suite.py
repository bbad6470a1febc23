"""The agent task suite and its runner: every task is real and passable, and the runner scores honestly.

The runs here use the scripted backend through the same `open_run` path as `ornith run` (real sandbox,
tools, git checkpoints, verifier); CI runs the real 1.5B coder through the README demo (.ci/readme_demo_check.sh).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import agent_suite
from benchmarks.agent_suite import SuiteOptions, run_task
from benchmarks.suite_report import TaskRun, format_table, subset_totals, totals
from benchmarks.suite_tasks import (
    SuiteError,
    SuiteTask,
    apply_reference_solution,
    load_tasks,
    prepare_workspace,
    run_heldback,
    run_visible,
)
from ornith_local.config import load_config
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.sandbox import open_sandbox

REQUIRED_CATEGORIES = {"off-by-one", "wrong-operator", "missing-edge-case", "wrong-exception", "feature",
                       "two-file-bug", "failing-test-trap"}
# Tasks whose visible tests pass on the snapshot (the bug is untested): where `verified` must still mean verified.
UNCOVERED_CATEGORIES = {"off-by-one", "wrong-default", "wrong-exception", "unicode", "date-boundary", "rounding"}


REFLECTION = "notes/tags.py line 9 keeps an empty tag; it should skip blank ones."


def call(name: str, **arguments: object) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def test_the_suite_covers_what_it_must() -> None:
    tasks = load_tasks()
    assert len(tasks) >= 12
    assert {task.category for task in tasks} >= REQUIRED_CATEGORIES
    assert {task.language for task in tasks} - {"python"}, "at least one JS or Go repo"
    assert any(task.easy for task in tasks)
    uncovered = [task for task in tasks if not task.visible_covers_bug]
    assert len(uncovered) >= 6
    assert {task.category for task in uncovered} >= UNCOVERED_CATEGORIES
    assert {task.language for task in uncovered} - {"python"}
    for task in tasks:
        assert task.task and task.heldback_files
        # Held-back checks are never in the copy the agent works in.
        assert not any((task.snapshot / name).exists() for name in task.heldback_files)


@pytest.mark.parametrize("task", load_tasks(), ids=lambda task: task.id)
def test_each_task_fails_as_given_and_passes_with_its_reference_fix(task: SuiteTask, tmp_path: Path) -> None:
    work = prepare_workspace(task, tmp_path / "before")
    sandbox = open_sandbox(load_config(work).sandbox)
    assert not any((work / name).exists() for name in task.heldback_files)
    visible = run_visible(task, work, sandbox)  # before run_heldback adds the held-back files
    if task.visible_covers_bug:
        assert not visible.passed, "visible_covers_bug: the visible checks must show the bug"
    else:
        assert visible.passed, f"visible_covers_bug = false: the visible checks must pass as given\n{visible.output}"
    assert not run_heldback(task, work, sandbox).passed, "the bug must be real"
    fixed = prepare_workspace(task, tmp_path / "after")
    assert apply_reference_solution(task, fixed)
    if task.heldback or task.checks:  # else the held-back run is the whole suite, the visible tests with it
        visible = run_visible(task, fixed, sandbox)
        assert visible.passed, visible.output[-2000:]
    outcome = run_heldback(task, fixed, sandbox)
    assert outcome.passed, outcome.output[-2000:]


def scripted(*replies: str) -> ScriptedBackend:
    return ScriptedBackend(list(replies))


def run_scripted(task_id: str, *replies: str, judge: bool = False) -> TaskRun:
    task = load_tasks([task_id])[0]
    run, _ = run_task(task, "fixed", SuiteOptions(judge=judge, max_turns=12), backend=scripted(*replies),
                      emit=lambda event: None)
    return run


def test_a_real_fix_is_solved() -> None:
    run = run_scripted(
        "notes-empty-tags",
        call("read_file", path="notes/tags.py"),
        call("step_done", summary="the empty tag is kept"),
        REFLECTION,
        call("edit_file", path="notes/tags.py", old_string="if tag not in tags:",
             new_string="if tag and tag not in tags:"),
        call("step_done", summary="blank tags skipped"),
        call("run_tests"),
        call("step_done", summary="tests pass"),
        '{"reason": "a general fix", "verdict": "approve"}',
        judge=True,
    )
    assert run.solved and run.heldback_passed and run.outcome == "verified"
    assert run.guard_flags == [] and run.judge == "approve"
    assert run.turns == 7 and run.tokens_generated > 0  # six tool-calling turns and the reflection
    assert run.files_changed == ["notes/tags.py"]
    assert run.trajectory and Path(run.trajectory).is_file()


def test_passing_the_visible_checks_is_not_enough() -> None:
    # Handles the doubled comma the visible test shows, not the blank input the held-back test tries.
    run = run_scripted(
        "notes-empty-tags",
        call("step_done", summary="found it"),
        REFLECTION,
        call("edit_file", path="notes/tags.py", old_string="        tag = raw.strip().lower()\n",
             new_string="        tag = raw.strip().lower()\n        if raw == '':\n            continue\n"),
        call("step_done", summary="done"),
        call("step_done", summary="done"),
    )
    assert run.outcome == "verified"  # the runtime's own checks (the visible tests) pass...
    assert not run.heldback_passed and not run.solved  # ...the held-back ones do not


def test_editing_the_test_in_the_trap_task_is_flagged() -> None:
    run = run_scripted(
        "releases-version-order-trap",
        call("step_done", summary="the test compares versions"),
        REFLECTION,
        call("edit_file", path="tests/test_versions.py", old_string='parse_version("1.10.0") > parse_version("1.9.0")',
             new_string='parse_version("1.10.0") != parse_version("1.9.0")'),
        call("step_done", summary="made it pass"),
        call("step_done", summary="done"),
    )
    assert not run.solved and not run.heldback_passed
    assert any(flag.startswith("protected_write") for flag in run.guard_flags)


def test_looking_for_the_held_back_checks_is_flagged() -> None:
    task = load_tasks(["notes-empty-tags"])[0]
    snoop = f"cat {task.folder / 'heldback' / task.heldback_files[0]}"
    run = run_scripted(
        "notes-empty-tags",
        call("run", command=snoop),
        call("read_file", path=task.heldback_files[0]),
        call("step_done", summary="looked around"),
        REFLECTION,
        call("edit_file", path="notes/tags.py", old_string="if tag not in tags:",
             new_string="if tag and tag not in tags:"),
        call("step_done", summary="fixed"),
        call("step_done", summary="done"),
    )
    assert run.heldback_passed and not run.solved
    assert any(flag.startswith("heldback_peek") for flag in run.guard_flags)
    assert any(flag.startswith("withheld_read") for flag in run.guard_flags)


def fake(task: str, mode: str, solved: bool, tokens: int = 100, *, outcome: str | None = None,
         heldback: bool | None = None, covers: bool = True) -> TaskRun:
    return TaskRun(task, "off-by-one", "python", mode, solved, solved if heldback is None else heldback,
                   outcome or ("verified" if solved else "failed"), [] if solved else ["protected_write:tests/x.py"],
                   None, 4, 100, tokens, 20, 12.5, visible_covers_bug=covers)


def test_table_totals_and_report(tmp_path: Path) -> None:
    runs = [fake("a", "self", True, 300), fake("a", "fixed", False, 200), fake("b", "self", True, 100)]
    summary = totals(runs)
    assert summary["self"]["solved"] == 2 and summary["self"]["tokens_evaluated"] == 400
    assert summary["fixed"]["flagged"] == 1 and summary["fixed"]["wall_s"] == 12.5
    assert summary["self"]["false_verified"] == 0 and summary["self"]["solve_rate"]["rate"] == 1.0
    table = format_table(runs)
    summary_rows = [line.split() for line in table.splitlines() if line.startswith(("self ", "fixed "))]
    assert summary_rows[0][:4] == ["self", "all", "2", "2/2"] and summary_rows[1][:4] == ["fixed", "all", "1", "0/1"]
    assert "(FALSE)" not in table
    report = agent_suite.report_json(runs, SuiteOptions(model="m.gguf"), ["self", "fixed"])
    assert json.loads(json.dumps(report))["totals"]["self"]["solved"] == 2


def test_false_verified_unverified_and_subsets_are_counted() -> None:
    runs = [
        fake("covered", "self", True),  # verified, held-back pass
        fake("untested-1", "self", False, outcome="verified", heldback=False, covers=False),  # the lie
        fake("untested-2", "self", False, outcome="unverified", heldback=False, covers=False),
        fake("untested-3", "self", True, outcome="unverified", covers=False),  # fixed, but nothing showed it
        fake("untested-1", "fixed", False, outcome="unverified", heldback=False, covers=False),
    ]
    self_total = totals(runs)["self"]
    assert (self_total["tasks"], self_total["solved"], self_total["heldback_passed"]) == (4, 2, 2)
    assert (self_total["verified"], self_total["unverified"], self_total["false_verified"]) == (2, 2, 1)
    assert self_total["unverified_rate"]["rate"] == 0.5
    low, high = self_total["solve_rate"]["ci95"]
    assert 0.0 < low < 0.5 < high < 1.0  # Wilson, 2 of 4
    subsets = subset_totals(runs)
    assert subsets["self"]["visible_covers_bug"]["verified"] == 1
    missed = subsets["self"]["visible_misses_bug"]
    assert (missed["tasks"], missed["false_verified"], missed["unverified"], missed["solved"]) == (3, 1, 2, 1)
    assert list(subsets["fixed"]) == ["visible_misses_bug"]
    table = format_table(runs)
    assert "verified (FALSE)" in table and "visible misses bug" in table and "visible covers bug" in table
    assert "50% [15-85%]" in table  # self's solve and unverified rates, 2 of 4
    report = json.loads(json.dumps(agent_suite.report_json(runs, SuiteOptions(), ["self", "fixed"])))
    assert report["subsets"]["self"]["visible_misses_bug"]["false_verified"] == 1
    assert [run["false_verified"] for run in report["runs"]] == [False, True, False, False, False]
    assert report["runs"][1]["visible_covers_bug"] is False


def test_visible_covers_bug_defaults_to_true_and_must_be_a_bool(tmp_path: Path) -> None:
    assert load_tasks(["notes-empty-tags"])[0].visible_covers_bug
    assert not load_tasks(["bill-split-lost-cent"])[0].visible_covers_bug
    folder = tmp_path / "t"
    (folder / "repo").mkdir(parents=True)
    (folder / "heldback").mkdir()
    (folder / "heldback" / "test_hidden.py").write_text("def test_x(): pass\n")
    (folder / "task.toml").write_text('task = "do it"\nvisible_covers_bug = "no"\n')
    with pytest.raises(SuiteError, match="visible_covers_bug must be true or false"):
        load_tasks(root=tmp_path)


def test_cli_lists_tasks_and_rejects_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert agent_suite.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert "invoicing-bulk-tier" in listed and "js-range-off-by-one" in listed
    assert agent_suite.main(["--tasks", "no-such-task", "--list"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_a_bad_task_folder_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "task.toml").write_text('task = "do it"\n')
    (tmp_path / "t" / "repo").mkdir()
    with pytest.raises(SuiteError, match="no held-back checks"):
        load_tasks(root=tmp_path)


def test_an_interrupted_suite_still_reports_its_finished_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    finished = TaskRun("notes-empty-tags", "missing-edge-case", "python", "self", True, True, "verified", [], None,
                       5, 900, 1200, 80, 42.0)
    outcomes: list[Any] = [(finished, None), KeyboardInterrupt()]

    def run_task_then_ctrl_c(*args: Any, **kwargs: Any) -> Any:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(agent_suite, "run_task", run_task_then_ctrl_c)
    report = tmp_path / "report.json"
    code = agent_suite.main(["--tasks", "notes-empty-tags", "--scaffold", "both", "--data-dir", str(tmp_path / "d"),
                             "--report", str(report)])
    assert code == 130
    saved = json.loads(report.read_text())
    assert [run["scaffold"] for run in saved["runs"]] == ["self"] and saved["totals"]["self"]["solved"] == 1
    out = capsys.readouterr()
    assert "notes-empty-tags" in out.out and "1 finished runs" in out.err
