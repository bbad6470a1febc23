"""The clean agent loop with a scripted model: every path a real run can take, no quirk switched on.

The scripts hold only the model's real turns (plans, tool calls); the assertions are about outcomes, the
calls that reached the tools, the trajectory and the KV-cache invariant (each prompt extends the last).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ornith_local.agent import events
from ornith_local.agent.sessions import export_training_data, last_conversation, resume_state
from ornith_local.guard.approvals import Approvals
from ornith_local.llm.backend import BackendError, Completion, GenerateOptions, GenerationStats, Message
from ornith_local.llm.backend import ToolCall as ServerCall
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.tools.base import CallPreview
from tests.loop_support import DIFF, FakeVerifier, FakeWorkspace, call, make_loop, scaffold_json

LOOK_THEN_FIX = scaffold_json(("locate", ["read_file", "search"], 3, "replan"), ("fix", ["edit_file"], 3, "retry"))


def test_a_plan_runs_step_by_step_and_the_checks_verify_it(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        LOOK_THEN_FIX,
        call("read_file", path="invoicing/discounts.py"), call("step_done", summary="the comparison is off by one"),
        call("edit_file", path="invoicing/discounts.py", text=">="), call("step_done", summary="fixed"),
    ])
    result = run.loop.run("Fix the bulk discount off-by-one")
    assert result.outcome == "verified" and result.reason == "the checks pass and show the problem fixed"
    assert [(name, step.status) for name, step in result.steps] == [("locate", "done"), ("fix", "done")]
    assert run.tools["edit_file"].calls == [{"path": "invoicing/discounts.py", "text": ">="}]
    assert run.loop.deps.workspace.checkpoints == 1  # type: ignore[attr-defined]
    assert result.turns == 4 and result.judge == {"verdict": "approve", "reason": "scripted"}
    kinds = run.kinds()
    assert kinds[0] == "start" and kinds[-1] == "end" and "quirk" not in kinds
    assert {"propose", "scaffold", "step_start", "tool_call", "tool_result", "checks", "judge"} <= set(kinds)
    # What the UI saw is what the trajectory kept (Stage 1's request and reply are only kept).
    assert [event.kind for event in run.seen] == [kind for kind in kinds if kind != "propose"]
    assert run.loop.deps.library is not None and run.loop.deps.library.count() == 1


def test_every_prompt_of_a_run_extends_the_one_before(tmp_path: Path) -> None:
    # The KV-cache invariant, across steps and a replan (the new plan is proposed inside the conversation).
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "replan")), call("read_file", path="a.py"),
        call("replan", reason="it needs an edit step"),
        scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")), call("read_file", path="b.py"),
        call("edit_file", path="a.py", text="x"), call("step_done", summary="done"),
    ])
    assert run.loop.run("fix it").outcome == "verified"
    prompts = [c.messages for c in run.backend.calls]
    assert prompts[1][0] == prompts[0][0]  # the first plan's own prompt shares the system prefix only
    for earlier, later in itertools.pairwise(prompts[1:]):
        assert later[: len(earlier)] == earlier
    planning = prompts[3][-1]
    assert planning.content.startswith("Plan how to do this task") and "it needs an edit step" in planning.content


def test_the_checks_not_the_model_decide(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")),
                               call("step_done", summary="all fixed, trust me")], verifier=FakeVerifier(passed=False))
    result = run.loop.run("fix it")
    assert result.outcome == "failed" and result.reason == "the checks fail"


def test_a_changed_test_setup_flags_a_green_run(tmp_path: Path) -> None:
    # A git-ignored conftest.py rewrote every report to "passed": no diff shows it, the checks are green.
    workspace = FakeWorkspace(DIFF, setup_changes=("conftest.py (new)",))
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok")],
                    workspace=workspace)
    result = run.loop.run("fix it")
    assert result.outcome == "flagged" and "test_setup_changed" in result.reason
    control = make_loop(tmp_path / "control", [scaffold_json(("fix", ["edit_file"], 2, "abort")),
                                               call("step_done", summary="ok")])
    assert control.loop.run("fix it").outcome == "verified"


def test_a_replan_goes_back_to_stage_one_with_what_happened(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "replan")), call("replan", reason="the bug is in invoice.py"),
        scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="done"),
    ])
    result = run.loop.run("fix it")
    assert len(result.scaffolds) == 2 and result.outcome == "verified"
    assert "the bug is in invoice.py" in run.backend.calls[2].messages[-1].content
    replanned = [event for event in run.events() if isinstance(event, events.Replanned)]
    assert [event.reason for event in replanned] == ["the bug is in invoice.py"]
    # The trajectory holds the final plan's whole conversation (resume and export read it from there).
    replayed = last_conversation(run.events())
    assert replayed[0]["role"] == "system" and any("New plan" in message["content"] for message in replayed)


def test_the_same_plan_again_is_a_new_plan_in_the_clean_loop(tmp_path: Path) -> None:
    plan = scaffold_json(("look", ["read_file"], 3, "replan"), ("fix", ["edit_file"], 3, "abort"))
    run = make_loop(tmp_path, [
        plan, call("read_file", path="a.py"), call("replan", reason="found it"),
        plan, call("read_file", path="a.py"), call("step_done", summary="seen"),
        call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ])
    result = run.loop.run("fix a.py")
    assert [name for name, _ in result.steps] == ["look", "look", "fix"]
    assert len(run.tools["read_file"].calls) == 2 and result.outcome == "verified"


def test_when_the_replans_are_used_the_run_fails_and_says_why(tmp_path: Path) -> None:
    plan = scaffold_json(("look", ["read_file"], 3, "replan"), ("fix", ["edit_file"], 3, "abort"))
    run = make_loop(tmp_path, [plan, call("replan", reason="a"), plan, call("replan", reason="b")],
                    verifier=FakeVerifier(passed=False), max_replans=1)
    result = run.loop.run("fix a.py")
    assert result.outcome == "failed" and len(result.scaffolds) == 2
    assert "replans are used" in result.reason
    end = run.events()[-1]
    assert isinstance(end, events.RunEnded) and "replans are used" in end.reason


def test_a_malformed_call_is_answered_with_the_parser_problem(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort")),
        '<tool_call>{"name": "read_file", "arguments": {"pth": "a.py"}}</tool_call>', call("step_done", summary="ok"),
    ])
    run.loop.run("look")
    feedback = run.backend.calls[2].messages[-1]
    assert feedback.role == "user" and "read_file" in feedback.content and "path" in feedback.content
    assert run.tools["read_file"].calls == []


def test_turns_without_a_call_end_the_step_and_an_aborted_run_says_why(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [scaffold_json(("look", ["read_file"], 10, "abort")), "It is fine.", "Fine.", "Yes."],
                    verifier=FakeVerifier(passed=False))
    result = run.loop.run("look")
    assert result.outcome == "aborted" and result.turns == 3
    assert result.reason == "step 'look' failed (no usable tool call in several turns) and its plan says abort"
    end = run.events()[-1]
    assert isinstance(end, events.RunEnded) and end.reason == result.reason


def test_fenced_json_is_no_call_in_the_clean_loop(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 2, "abort")),
        '```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```', call("step_done", summary="ok"),
    ])
    run.loop.run("fix it")
    assert run.tools["read_file"].calls == []
    assert "<tool_call>" in run.backend.calls[2].messages[-1].content  # the feedback shows the call format


def test_a_steps_turn_budget_holds(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 2, "abort")),
        call("read_file", path="a.py"), call("read_file", path="b.py"), call("read_file", path="c.py"),
    ], verifier=FakeVerifier(passed=False))
    result = run.loop.run("look")
    assert [c["path"] for c in run.tools["read_file"].calls] == ["a.py", "b.py"]
    assert result.steps[0][1].summary == "turn budget of 2 spent" and result.outcome == "aborted"


def test_the_runs_turn_budget_holds_across_steps(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort"), ("fix", ["edit_file"], 3, "abort")),
        call("read_file", path="a.py"), call("step_done", summary="seen"), call("edit_file", path="a.py", text="x"),
    ], verifier=FakeVerifier(passed=False), max_turns=2)
    result = run.loop.run("fix a.py")
    assert result.turns == 2 and run.tools["edit_file"].calls == []
    assert result.outcome == "failed" and "budget is spent" in result.reason


def test_a_write_to_a_test_file_is_refused_and_flags_the_run(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 3, "abort")),
        call("edit_file", path="tests/test_discounts.py", text="assert True"), call("step_done", summary="pass"),
    ])
    result = run.loop.run("make the tests pass")
    assert run.tools["edit_file"].calls == [] and result.outcome == "flagged"
    assert [finding.rule for finding in result.findings] == ["protected_write"]
    assert "protected_write" in result.reason


def test_a_tool_outside_the_step_is_refused_but_not_gaming(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort")),
        call("edit_file", path="invoicing/discounts.py", text="x"), call("step_done", summary="ok"),
    ])
    result = run.loop.run("look")
    assert run.tools["edit_file"].calls == [] and result.outcome == "verified"
    assert [finding.rule for finding in result.findings] == ["tool_outside_step"]


def test_the_judge_can_veto_a_verified_run(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok")],
                    judge_verdict="veto")
    result = run.loop.run("fix it")
    assert result.outcome == "failed" and result.reason == "the judge vetoed the diff: scripted"


def test_the_fixed_planner_skips_stage_one_and_a_replan_goes_on_to_the_next_step(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        call("replan", reason="bulk_discount_rate compares with > instead of >="),
        call("step_done", summary="changed"), call("step_done", summary="verified"),
    ], scaffold_mode="fixed")
    result = run.loop.run("fix it")
    assert [(name, step.status) for name, step in result.steps] == [
        ("understand", "replan"), ("change", "done"), ("verify", "done")]
    assert all(c.options.json_schema is None for c in run.backend.calls)
    assert len(result.scaffolds) == 1 and result.outcome == "verified" and "replan" not in run.kinds()


def test_library_examples_of_this_repo_reach_the_proposal(tmp_path: Path) -> None:
    repo = str(tmp_path / "shop")
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok")],
                    repo=repo)
    library = run.loop.deps.library
    assert library is not None
    library.add(session_id="old", task="fix the discount tiers bug", task_kind="fix_bug",
                scaffold={"steps": [{"name": "remembered-step"}]}, outcome="verified", turns=3, repo=repo)
    library.add(session_id="elsewhere", task="fix the discount bug", task_kind="fix_bug",
                scaffold={"steps": [{"name": "other-repo-step"}]}, outcome="verified", turns=1,
                repo=str(tmp_path / "other"))
    assert [past.repo for past in library.similar_successes("fix the discount bug", repo=repo)] == [
        str(Path(repo).resolve())]
    run.loop.run("fix the discount bug")
    prompt = run.backend.calls[0].messages[-1].content
    assert "remembered-step" in prompt and "other-repo-step" not in prompt


@pytest.mark.parametrize("answer", ["no", "always"])
def test_ask_mode_asks_with_the_tools_preview(tmp_path: Path, answer: str) -> None:
    asked: list[CallPreview] = []

    def ask(tool: str, preview: CallPreview, tier: str) -> str:
        asked.append(preview)
        return answer

    run = make_loop(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 4, "abort")),
        call("edit_file", path="a.py", text="1"), call("edit_file", path="b.py", text="2"),
        call("step_done", summary="ok"),
    ], approvals=Approvals.for_mode("ask", ask, "landlock"))
    run.loop.run("fix")
    assert all(preview.text and preview.title for preview in asked)
    if answer == "no":
        assert run.tools["edit_file"].calls == [] and len(asked) == 2
        assert "refused: the user declined this call" in run.backend.calls[2].messages[-1].content
    else:
        assert len(run.tools["edit_file"].calls) == 2 and len(asked) == 1


class Crash(Exception):
    pass


def crash(messages: Sequence[Message]) -> str:
    raise Crash("power cut")


def test_after_a_crash_the_run_resumes_at_the_unfinished_step(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        LOOK_THEN_FIX, call("read_file", path="a.py"), call("step_done", summary="found it"),
        call("edit_file", path="a.py", text="x"), crash,
    ])
    with pytest.raises(Crash):
        run.loop.run("fix a.py")
    run.loop.deps.trajectory.close()
    state = resume_state(run.loop.deps.trajectory.path)
    assert (state.task, state.finished_steps, state.turns) == ("fix a.py", ["locate"], 3)

    resumed = make_loop(tmp_path, [call("step_done", summary="fixed")])
    result = resumed.loop.run(state.task, resume=state)
    assert [name for name, _ in result.steps] == ["fix"] and result.outcome == "verified" and result.turns == 4
    seen = resumed.backend.calls[0].messages  # the earlier conversation, then the restarted step
    assert any("read_file ok: a.py" in message.content for message in seen)
    assert seen[-1].content.startswith("Step 2/2: fix")
    with pytest.raises(ValueError, match="already finished"):
        resume_state(resumed.loop.deps.trajectory.path)


def parsed_by_server(call_id: str, name: str, **arguments: Any) -> Completion:
    return Completion("", "stop", GenerationStats(), reasoning=f"about to call {name}",
                      tool_calls=[ServerCall(call_id, name, json.dumps(arguments))])


def test_calls_a_server_parsed_are_run_resumed_and_exported_in_their_structured_form(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [
        LOOK_THEN_FIX, parsed_by_server("s1", "read_file", path="a.py"),
        parsed_by_server("s2", "step_done", summary="found it"), crash,
    ])
    with pytest.raises(Crash):
        run.loop.run("fix a.py")
    assert run.tools["read_file"].calls == [{"path": "a.py"}]
    run.loop.deps.trajectory.close()
    resumed = make_loop(tmp_path, [parsed_by_server("s3", "edit_file", path="a.py", text="x"),
                                   parsed_by_server("s4", "step_done", summary="fixed")])
    result = resumed.loop.run("fix a.py", resume=resume_state(run.loop.deps.trajectory.path))
    assert result.outcome == "verified" and resumed.tools["edit_file"].calls == [{"path": "a.py", "text": "x"}]
    seen = resumed.backend.calls[1].messages  # the resumed history, as the server's template will render it
    read = next(m for m in seen if m.tool_calls and m.tool_calls[0]["id"] == "s1")
    assert read.reasoning == "about to call read_file" and read.tool_calls[0]["function"]["name"] == "read_file"
    assert [m.tool_call_id for m in seen if m.role == "tool"] == ["s1", "s2", "s3"]
    out = tmp_path / "train.jsonl"
    assert export_training_data([resumed.loop.deps.trajectory.path], out) == (1, 0)
    exported = json.loads(out.read_text())["messages"]
    ids = ["s1", "s2", "s3", "s4"]  # the whole conversation, the part before the crash included
    assert [m["tool_calls"][0]["id"] for m in exported if m.get("tool_calls")] == ids
    assert [m["tool_call_id"] for m in exported if m["role"] == "tool"] == ids


def test_export_writes_only_verified_unflagged_runs_as_chat_data(tmp_path: Path) -> None:
    good = make_loop(tmp_path / "good", [
        scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")),
        "Looking first." + call("read_file", path="a.py"), call("step_done", summary="ok"),
    ])
    good.loop.run("fix a.py")
    bad = make_loop(tmp_path / "bad", [
        scaffold_json(("fix", ["edit_file"], 3, "abort")),
        call("edit_file", path="tests/test_a.py", text="assert True"), call("step_done", summary="ok"),
    ])
    assert bad.loop.run("make tests pass").outcome == "flagged"
    out = tmp_path / "train.jsonl"
    paths = [good.loop.deps.trajectory.path, bad.loop.deps.trajectory.path]
    assert export_training_data(paths, out) == (1, 1)
    example = json.loads(out.read_text())
    assert [message["role"] for message in example["messages"]][:2] == ["system", "user"]
    assistant = next(m for m in example["messages"] if m.get("tool_calls"))
    assert assistant["content"] == "Looking first."
    call_entry = assistant["tool_calls"][0]
    assert call_entry["function"] == {"name": "read_file", "arguments": json.dumps({"path": "a.py"})}
    reply = example["messages"][example["messages"].index(assistant) + 1]
    assert reply == {"role": "tool", "tool_call_id": call_entry["id"], "content": "read_file ok: a.py"}
    assert {tool["function"]["name"] for tool in example["tools"]} >= {"read_file", "step_done", "replan"}


@pytest.mark.parametrize(("reply", "why"), [
    ('{"task_kind": "fix_bug", "goal": "x", "steps": [', "not valid JSON"),
    (json.dumps({**json.loads(scaffold_json(("check", ["read_file"], 3, "replan"))), "task_kind": "fix_bug"}),
     "no step may edit a file"),
])
def test_an_unusable_plan_falls_back_to_the_fixed_one(tmp_path: Path, reply: str, why: str) -> None:
    run = make_loop(tmp_path, [reply, call("step_done", summary="a"), call("step_done", summary="b"),
                               call("step_done", summary="c")])
    result = run.loop.run("fix it")
    assert [name for name, _ in result.steps] == ["understand", "change", "verify"]
    chosen = next(event for event in run.events() if isinstance(event, events.ScaffoldChosen))
    assert chosen.fallback is not None and why in chosen.fallback


def test_stage_one_shares_the_runs_system_and_tools_prefix(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok")])
    run.loop.run("fix it")
    propose, first_turn = run.backend.calls[0], run.backend.calls[1]
    assert propose.options.tools == first_turn.options.tools and propose.options.tools
    assert propose.messages[0] == first_turn.messages[0]


@pytest.mark.parametrize("max_turns", [8, 16, 30])
def test_the_planning_example_budgets_the_runs_own_turns(tmp_path: Path, max_turns: int) -> None:
    # A 1.5B model copied the example's numbers into every plan: the example budgets the run's own turns.
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok")],
                    max_turns=max_turns)
    run.loop.run("fix it")
    request = run.backend.calls[0].messages[-1].content
    example = json.loads(request.split("a good scaffold is:\n", 1)[1].split("\n", 1)[0])
    assert example["max_total_turns"] == max_turns
    assert sum(step["turn_budget"] for step in example["steps"]) == max_turns
    assert "keep" not in example["context"]  # the grammar no longer asks for a field nothing read


def test_a_failed_model_call_ends_the_run_as_an_error_not_a_crash(tmp_path: Path) -> None:
    def overflow(messages: Sequence[Message]) -> str:
        raise BackendError("the prompt (4228 tokens) does not fit in the context (4096)")

    run = make_loop(tmp_path, [scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")), overflow])
    result = run.loop.run("fix a.py")
    assert result.outcome == "error" and result.error is not None and "does not fit" in result.error
    assert run.kinds()[-1] == "end" and result.turns == 0  # the failed call was no turn


def test_events_round_trip_through_json() -> None:
    event = events.ToolCalled(step="fix", tool="edit_file", arguments={"path": "a.py"}, findings=[])
    assert events.from_json(event.to_json()) == event
    assert events.from_json({"type": "loop_broken", "tool": "read_file"}) is None  # an old type: skipped
    assert events.from_json({"type": "step_end"}) is None  # a required field missing: not usable


def test_the_quirks_are_off_unless_asked_for(tmp_path: Path) -> None:
    run = make_loop(tmp_path, [scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok")])
    run.loop.run("fix it")
    start = run.events()[0]
    assert isinstance(start, events.RunStarted) and start.quirks == []


def test_compaction_counts_the_tool_definitions_in_the_prompt() -> None:
    from ornith_local.agent.context import Conversation
    from ornith_local.agent.scaffold import ContextPolicy

    backend = ScriptedBackend(["ok"], context=200)  # room for 160 - 20 tokens before compaction
    conversation = Conversation(backend, ContextPolicy(summarize_after_turns=2))
    conversation.add(Message("user", "task"))
    for index in range(3):
        conversation.add(Message("tool", f"result {index} " + "word " * 25, name="read_file"))
    tools = ({"type": "function", "function": {"name": "read_file", "description": "a tool " * 30}},)
    assert conversation.tokens() < 140  # the messages alone would fit
    conversation.reply(GenerateOptions(max_tokens=20, tools=tools))
    assert conversation.compactions == 1
    assert backend.calls[0].messages[1].content.startswith("[earlier result, summarised]")


def test_compaction_cuts_long_replies_when_observations_are_not_enough() -> None:
    from ornith_local.agent.context import Conversation
    from ornith_local.agent.scaffold import ContextPolicy

    backend = ScriptedBackend(["ok"], context=400)
    conversation = Conversation(backend, ContextPolicy())
    conversation.add(Message("system", "be careful"))
    conversation.add(Message("user", "plan this " + "please " * 150))  # a long planning request
    conversation.add(Message("assistant", "ramble " * 150))  # a long reply of a base model
    conversation.add(Message("user", "Step 1/1: fix."))
    conversation.reply(GenerateOptions(max_tokens=20))
    sent = backend.calls[0].messages
    assert sum(backend.count_tokens(message.content) + 4 for message in sent) <= 400 * 0.8 - 20
    assert sent[0].content == "be careful" and sent[-1].content == "Step 1/1: fix."


def test_a_compaction_leaves_room_so_the_next_turns_reuse_the_cache() -> None:
    from ornith_local.agent.context import Conversation
    from ornith_local.agent.scaffold import ContextPolicy

    # Every compaction rewrites early messages, so the whole prompt is evaluated again. Compacting only just under
    # the budget made the next turn compact again, turn after turn.
    backend = ScriptedBackend(["ok"] * 40, context=4000)
    conversation = Conversation(backend, ContextPolicy(summarize_after_turns=6))
    conversation.add(Message("user", "task"))
    compacted_on: list[int] = []
    for turn in range(40):
        conversation.add(Message("tool", f"result {turn} " + "word " * 150, name="read_file"))
        before = conversation.compactions
        conversation.reply(GenerateOptions(max_tokens=20))
        if conversation.compactions > before:
            compacted_on.append(turn)
    assert len(compacted_on) >= 2 and all(later - earlier >= 3 for earlier, later in itertools.pairwise(compacted_on))
    assert conversation.messages[-2].content == "result 39 " + "word " * 150  # the newest result stays whole


def test_plans_carried_across_replans_are_cut_before_the_task_or_the_latest_turns() -> None:
    from ornith_local.agent.context import Conversation
    from ornith_local.agent.scaffold import ContextPolicy

    # Self mode carries the conversation across replans: each replan adds a long planning request and a plan.
    backend = ScriptedBackend(["ok"] * 40, context=4000)
    conversation = Conversation(backend, ContextPolicy(summarize_after_turns=6))
    conversation.add(Message("system", "be careful"))
    conversation.add(Message("user", "Task: fix the pager. " + "map " * 100))
    compacted_on: list[int] = []
    for turn in range(24):
        if turn % 4 == 0:
            conversation.add(Message("user", "Write the plan as JSON. " + "schema " * 200))
            conversation.add(Message("assistant", '{"steps": [' + '"step", ' * 150 + "]}"))
        conversation.add(Message("tool", f"result {turn} " + "word " * 40, name="run_tests"))
        before = conversation.compactions
        conversation.reply(GenerateOptions(max_tokens=20))
        if conversation.compactions > before:
            compacted_on.append(turn)
    assert compacted_on and all(later - earlier >= 3 for earlier, later in itertools.pairwise(compacted_on))
    assert conversation.messages[0].content == "be careful"
    assert conversation.messages[1].content == "Task: fix the pager. " + "map " * 100
    assert conversation.messages[-2].content == "result 23 " + "word " * 40
