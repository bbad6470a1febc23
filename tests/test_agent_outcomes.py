"""Each outcome of a run, from the scripted model: `verified` only with the evidence, `unverified` saying what is
missing, and the final event carrying every check, the evidence and the judge's verdict."""

from __future__ import annotations

from pathlib import Path

from ornith_local.agent import events
from ornith_local.agent.sessions import export_training_data
from tests.loop_support import FakeVerifier, FakeWorkspace, call, make_loop, scaffold_json

FIX = scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort"))


def ended(seen: list[events.Event]) -> events.RunEnded:
    [end] = [event for event in seen if isinstance(event, events.RunEnded)]
    return end


def test_a_green_suite_with_an_empty_diff_is_never_verified(tmp_path: Path) -> None:
    """The first round's false "verified": nothing changed, the suite passed before and after, no judge ran."""
    run = make_loop(tmp_path, [FIX, call("read_file", path="a.py"), call("step_done", summary="nothing to do")],
                    workspace=FakeWorkspace(""))
    result = run.loop.run("fix the rounding bug")
    assert result.outcome == "unverified"
    assert "nothing was changed" in result.reason and result.judge is None
    assert result.evidence is not None and result.evidence.empty_diff


def test_a_change_no_test_showed_is_unverified_and_says_what_is_missing(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [FIX, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed")],
                    verifier=FakeVerifier(shown=False))
    result = run.loop.run("fix the rounding bug")
    assert result.outcome == "unverified" and "no test failed before the change" in result.reason
    assert result.judge is None  # the judge reviews only what the checks could not refute


def test_a_suite_that_ran_nothing_is_unverified_not_a_pass(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [FIX, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed")],
                    verifier=FakeVerifier(unrunnable=True))
    result = run.loop.run("fix it")
    assert result.outcome == "unverified" and "nothing checked the change: no test ran" in result.reason


def test_verified_needs_the_evidence_and_the_final_event_carries_all_of_it(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [FIX, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed")])
    result = run.loop.run("fix it")
    assert result.outcome == "verified"
    end = ended(run.seen)
    assert end.checks == [{"name": "tests", "command": "pytest", "passed": True, "summary": "1 passed"}]
    assert end.evidence is not None and end.evidence["fail_to_pass"] == ["tests/test_x.py::test_fixed"]
    assert end.evidence["missing"] == [] and end.judge == {"verdict": "approve", "reason": "scripted"}
    assert events.from_json(end.to_json()) == end


def test_only_verified_runs_are_exported(tmp_path: Path) -> None:
    runs = [make_loop(tmp_path / name, [FIX, call("edit_file", path="a.py", text="x"), call("step_done", summary="ok")],
                      verifier=verifier) for name, verifier in (("shown", FakeVerifier()),
                                                                ("not-shown", FakeVerifier(shown=False)))]
    assert [run.loop.run("fix a.py").outcome for run in runs] == ["verified", "unverified"]
    out = tmp_path / "train.jsonl"
    assert export_training_data([run.loop.deps.trajectory.path for run in runs], out) == (1, 1)
