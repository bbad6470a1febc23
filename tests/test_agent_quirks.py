"""Each model crutch on its own: switched on alone, it changes the run the way its trajectories asked for.

Each test would fail with the quirk off (the loop tests show the clean behaviour of the same scripts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ornith_local.agent import events
from ornith_local.agent.quirks import CATALOG, QuirkError, Quirks, UnstuckSampling
from ornith_local.llm.backend import GenerateOptions
from ornith_local.models.catalog import load_catalog
from ornith_local.session import quirks_for
from tests.loop_support import FakeVerifier, call, make_loop, scaffold_json

REFLECTION = "Line 21 of invoicing/discounts.py: > should be >=."


def only(name: str) -> Quirks:
    return Quirks.from_table(load_catalog()["qwen2.5-coder-1.5b"].quirks, only=[name])


def applied(run: object, name: str) -> list[events.QuirkApplied]:
    return [e for e in run.events() if isinstance(e, events.QuirkApplied) and e.quirk == name]  # type: ignore[attr-defined]


def test_reflection_asks_what_must_change_between_looking_and_editing(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("locate", ["read_file"], 3, "replan"), ("fix", ["edit_file"], 3, "retry")),
        call("read_file", path="a.py"), call("step_done", summary="seen"), REFLECTION,
        call("edit_file", path="a.py", text=">="), call("step_done", summary="fixed"),
    ], quirks=only("reflection"))
    result = run.loop.run("fix it")
    assert result.outcome == "verified" and result.turns == 5
    edit_turn = run.backend.calls[4].messages
    assert edit_turn[-3].content.startswith("Before the next step") and edit_turn[-2].content == REFLECTION
    turns = [e for e in run.events() if isinstance(e, events.ModelTurn)]
    assert [turn.reflection for turn in turns] == [False, False, True, False, False]


def test_a_questioned_replan_lets_the_step_go_on(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 2, "replan"), ("fix", ["edit_file"], 2, "abort")),
        call("read_file", path="a.py"), call("replan", reason="line 3 compares with >"),
        call("step_done", summary="line 3 compares with >"),  # on the step's last turn: one more turn for it
        call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ], quirks=only("questioned_replan"))
    result = run.loop.run("fix a.py")
    assert [(name, step.status, step.turns) for name, step in result.steps] == [("look", "done", 3),
                                                                               ("fix", "done", 2)]
    assert len(result.scaffolds) == 1 and result.outcome == "verified" and len(applied(run, "questioned_replan")) == 1


def test_an_edit_in_a_looking_step_ends_it_without_running(tmp_path: Path) -> None:
    edit = call("edit_file", path="a.py", text=">=")
    run = make_loop(tmp_path, [
        scaffold_json(("locate", ["read_file"], 4, "replan"), ("fix", ["edit_file"], 3, "retry")),
        call("read_file", path="a.py"), edit, edit, call("step_done", summary="fixed"),
    ], quirks=only("step_ahead"))
    result = run.loop.run("fix it")
    assert [(name, step.status) for name, step in result.steps] == [("locate", "done"), ("fix", "done")]
    assert len(run.tools["edit_file"].calls) == 1 and result.findings == [] and result.outcome == "verified"


def test_the_repeat_breaker_answers_a_repeated_call_and_ends_the_step_on_the_third(tmp_path: Path) -> None:
    same = call("read_file", path="a.py")
    run = make_loop(tmp_path, [scaffold_json(("look", ["read_file"], 6, "abort")), same, same, same, same],
                    quirks=only("repeat_breaker"), verifier=FakeVerifier(passed=False))
    result = run.loop.run("look at a.py")
    assert len(run.tools["read_file"].calls) == 1 and len(applied(run, "repeat_breaker")) == 3
    assert result.steps[0][1].summary == "the same calls again, with nothing changed in between"


def test_a_call_repeated_after_an_edit_runs_again(tmp_path: Path) -> None:
    read = call("read_file", path="a.py")
    run = make_loop(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 6, "abort")),
        read, call("edit_file", path="a.py", text="x"), read, read, call("step_done", summary="ok"),
    ], quirks=only("repeat_breaker"))
    run.loop.run("fix a.py")
    assert len(run.tools["read_file"].calls) == 2 and len(applied(run, "repeat_breaker")) == 1


def test_unstuck_sampling_warms_only_a_stuck_turn() -> None:
    # The quirk's whole behaviour is a sampling change, so this one test looks at the options it returns.
    quirk, options = UnstuckSampling(), GenerateOptions(max_tokens=10, temperature=0.0, seed=7)

    class State:
        stuck, run_turn = False, 4

    assert quirk.before_turn(State(), options) == options  # type: ignore[arg-type]
    State.stuck = True
    warmer = quirk.before_turn(State(), options)  # type: ignore[arg-type]
    assert (warmer.temperature or 0) > 0 and warmer.seed != options.seed


def test_loose_calls_are_understood(tmp_path: Path) -> None:
    # Qwen2.5-Coder 1.5B writes its calls as ```json {"name", "arguments"}``` instead of <tool_call> tags.
    run = make_loop(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 4, "abort")),
        '```json\n{\n  "name": "read_file",\n  "arguments": {"path": "a.py"}\n}\n```',
        'I will finish. {"name": "step_done", "summary": "read it"}',  # arguments flattened, as the model did
    ], quirks=only("loose_calls"))
    result = run.loop.run("fix it")
    assert run.tools["read_file"].calls == [{"path": "a.py"}] and result.steps[0][1].summary == "read it"


def test_text_after_a_call_is_not_kept(tmp_path: Path) -> None:
    made_up = "\n\nStep 2/2: fix. change it\nTools in this step: edit_file, step_done, replan."
    run = make_loop(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")),
        call("read_file", path="b.py") + made_up, call("step_done", summary="read"),
    ], quirks=only("drop_text_after_call"))
    run.loop.run("fix a.py")
    replies = [message.content for message in run.backend.calls[2].messages if message.role == "assistant"]
    assert replies[-1] == call("read_file", path="b.py")


def test_the_budget_nag_says_one_turn_is_left(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort")), call("read_file", path="a.py"),
        call("read_file", path="b.py"), call("step_done", summary="ok"),
    ], quirks=only("budget_nag"))
    run.loop.run("look")
    assert run.backend.calls[3].messages[-1].content == "(1 turns left in this step.)"


def test_the_same_plan_goes_on_and_is_no_new_plan(tmp_path: Path) -> None:
    # After a looking step it goes on with the next step; an editing step runs again. With one replan allowed,
    # two replans that each came back to the same plan would otherwise end the run.
    plan = scaffold_json(("look", ["read_file"], 3, "replan"), ("fix", ["read_file", "edit_file"], 3, "abort"))
    run = make_loop(tmp_path, [
        plan, call("read_file", path="a.py"), call("replan", reason="line 3 compares with >"),
        plan, call("edit_file", path="a.py", text="x"), call("replan", reason="the edit did not fix it"),
        plan, call("edit_file", path="a.py", text="y"), call("step_done", summary="fixed"),
    ], quirks=only("same_plan_goes_on"), max_replans=1)
    result = run.loop.run("fix a.py")
    assert [(name, step.status) for name, step in result.steps] == [
        ("look", "replan"), ("fix", "replan"), ("fix", "done")]
    assert len(run.tools["read_file"].calls) == 1 and len(run.tools["edit_file"].calls) == 2
    assert result.outcome == "verified" and len(applied(run, "same_plan_goes_on")) == 2


def test_only_the_weak_models_get_quirks_and_every_quirk_is_in_the_catalog() -> None:
    with_quirks = {name for name, entry in load_catalog().items() if entry.quirks}
    assert with_quirks == {"qwen2.5-coder-1.5b", "gemma3-270m"}
    assert quirks_for("qwen2.5-coder-1.5b").names == list(CATALOG)
    assert quirks_for("ornith-1.0-9b").names == [] and quirks_for("/models/unknown.gguf").names == []


def test_a_quirks_table_with_a_typo_is_one_clear_error() -> None:
    with pytest.raises(QuirkError, match="unknown quirk"):
        Quirks.from_table({"reflektion": True})
    with pytest.raises(QuirkError, match="unknown setting"):
        Quirks.from_table({"reflection": {"promt": "x"}})
