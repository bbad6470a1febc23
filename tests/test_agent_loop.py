"""The runtime's state machine with a scripted model: every path a real run can take."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ornith_local.agent import prompts
from ornith_local.agent.deps import AgentDeps, AgentOptions, CheckResult
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.loop import Runtime
from ornith_local.agent.scaffold import Permissions, Scaffold, clamp
from ornith_local.agent.trajectory import Trajectory, read_events
from ornith_local.llm.backend import BackendError, GenerateOptions, Message
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.tools.base import ToolResult, schema


@dataclass
class NoteTool:
    """A unit-test tool: records its calls."""

    name: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    description: str = "test tool"
    parameters: dict[str, Any] = field(
        default_factory=lambda: schema({"path": {"type": "string"}, "text": {"type": "string"}}, ["path"]))

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        self.calls.append(dict(args))
        return ToolResult(ok=True, text=f"{self.name} ok: {args['path']}", title=self.name)


@dataclass
class FakeWorkspace:
    diff_text: str = ""
    checkpoints: int = 0

    def ensure_checkpoint(self) -> None:
        self.checkpoints += 1

    def diff(self) -> str:
        return self.diff_text

    def changed_files(self) -> list[str]:
        return ["invoicing/discounts.py"] if self.diff_text else []

    def test_literals(self) -> set[str]:
        return set()


@dataclass
class FakeVerifier:
    passed: bool = True
    extra_seen: list[Sequence[str]] = field(default_factory=list)

    def baseline(self) -> list[str] | None:
        return None

    def verify(self, extra_checks: Sequence[str]) -> list[CheckResult]:
        self.extra_seen.append(tuple(extra_checks))
        return [CheckResult("tests", "pytest", self.passed, "1 passed" if self.passed else "1 failed")]


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


def replan(reason: str) -> list[str]:
    """A replan in self mode: the runtime asks once whether the plan really cannot work; the model insists."""
    return [call("replan", reason=reason)] * 2


def scaffold_json(*steps: tuple[str, list[str], int, str], max_total_turns: int = 20) -> str:
    # A plan without an editing step is only valid for a task that changes nothing (Stage 1 rejects the rest).
    edits = any("edit_file" in tools for _, tools, _, _ in steps)
    return json.dumps({
        "task_kind": "fix_bug" if edits else "explain", "goal": "fix it", "acceptance_checks": [],
        "context": {"keep": ["task"], "summarize_after_turns": 4}, "max_total_turns": max_total_turns,
        "steps": [{"name": n, "intent": n, "tools": t, "turn_budget": b, "exit_condition": "done", "on_failure": f}
                  for n, t, b, f in steps],
    })


REFLECTION = "Line 21 of invoicing/discounts.py: > should be >=."
DIFF = ("diff --git a/invoicing/discounts.py b/invoicing/discounts.py\n--- a/invoicing/discounts.py\n"
        "+++ b/invoicing/discounts.py\n@@ -1 +1 @@\n"
        "-        if quantity > minimum:\n+        if quantity >= minimum:\n")


def make_runtime(tmp_path: Path, replies: list[Any], *, verifier: FakeVerifier | None = None,
                 workspace: FakeWorkspace | None = None, judge_verdict: str = "approve",
                 **option_overrides: Any) -> tuple[Runtime, ScriptedBackend, dict[str, NoteTool]]:
    tools = {name: NoteTool(name) for name in ["read_file", "search", "edit_file"]}
    backend = ScriptedBackend(list(replies))
    options = AgentOptions(mode="auto", tool_call_format="hermes", **option_overrides)
    permissions = Permissions(tools=frozenset(tools), mode="auto", max_turns=options.max_turns)

    def do_clamp(scaffold: Scaffold) -> tuple[Scaffold, tuple[str, ...]]:
        result = clamp(scaffold, permissions)
        return result.scaffold, result.notes

    deps = AgentDeps(
        backend=backend, tools=dict(tools), workspace=workspace or FakeWorkspace(DIFF),
        verifier=verifier or FakeVerifier(), trajectory=Trajectory("test-session", tmp_path / "sessions"),
        repo_map=lambda task: "invoicing/discounts.py: bulk_discount_rate(quantity)", clamp=do_clamp,
        judge=lambda task, diff: {"verdict": judge_verdict, "reason": "scripted"},
        library=ScaffoldLibrary(tmp_path / "lib.sqlite3"),
    )
    return Runtime(deps, options), backend, tools


def events(runtime: Runtime) -> list[str]:
    return [event.type for event in read_events(runtime.deps.trajectory.path)]


def test_happy_path_two_steps_verified(tmp_path: Path) -> None:
    runtime, backend, tools = make_runtime(tmp_path, [
        scaffold_json(("locate", ["read_file", "search"], 3, "replan"), ("fix", ["edit_file"], 3, "retry")),
        call("read_file", path="invoicing/discounts.py"),
        call("step_done", summary="the comparison is off by one"),
        REFLECTION,
        call("edit_file", path="invoicing/discounts.py", text=">="),
        call("step_done", summary="fixed"),
    ])
    result = runtime.run("Fix the bulk discount off-by-one")
    assert result.outcome == "verified"
    assert [(name, step.status) for name, step in result.steps] == [("locate", "done"), ("fix", "done")]
    assert tools["edit_file"].calls == [{"path": "invoicing/discounts.py", "text": ">="}]
    assert runtime.deps.workspace.checkpoints == 1  # type: ignore[attr-defined]
    assert result.turns == 5  # four tool-calling turns and the reflection between looking and editing
    assert result.judge == {"verdict": "approve", "reason": "scripted"}
    reflection = backend.calls[3]
    assert reflection.messages[-1].content == prompts.REFLECT and reflection.options.json_schema is None
    assert backend.calls[4].messages[-2].content == REFLECTION  # the answer stays in the conversation
    kinds = events(runtime)
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert {"propose", "scaffold", "step_start", "tool_call", "tool_result", "checks", "judge"} <= set(kinds)
    # Stage 1 ran under the scaffold grammar; step turns offered the tools.
    assert backend.calls[0].options.json_schema is not None
    assert backend.calls[1].options.tools
    assert runtime.deps.library is not None and runtime.deps.library.count() == 1


def test_checks_not_the_model_decide(tmp_path: Path) -> None:
    runtime, _, _ = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 2, "abort")),
        call("step_done", summary="all fixed, trust me"),
    ], verifier=FakeVerifier(passed=False))
    assert runtime.run("fix it").outcome == "failed"


def test_replan_returns_to_stage_one_with_what_happened(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "replan")),
        *replan("the bug is in invoice.py, not discounts.py"),
        scaffold_json(("fix", ["edit_file"], 2, "abort")),
        call("step_done", summary="done"),
    ])
    result = runtime.run("fix it")
    assert len(result.scaffolds) == 2
    second_prompt = backend.calls[3].messages[-1].content  # propose, replan, replan again, propose
    assert "the bug is in invoice.py" in second_prompt
    assert "replan" in events(runtime) and "replan_questioned" in events(runtime)


def test_a_replan_is_proposed_inside_the_conversation_so_the_cache_carries_on(tmp_path: Path) -> None:
    new_plan = scaffold_json(("fix", ["edit_file"], 2, "abort"))
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "replan")), call("read_file", path="a.py"),
        *replan("it needs an edit step"), new_plan, call("step_done", summary="done"),
    ])
    runtime.run("fix it")
    last_turn, proposal, next_turn = backend.calls[3].messages, backend.calls[4].messages, backend.calls[5].messages
    assert proposal[: len(last_turn)] == last_turn  # the step conversation, then the planning request
    assert proposal[-1].role == "user" and proposal[-1].content.startswith("Plan how to do this task")
    assert "it needs an edit step" in proposal[-1].content
    # The step after it continues from the request and the scaffold the model wrote: an append-only prompt.
    assert next_turn[: len(proposal)] == proposal and next_turn[len(proposal)].content == new_plan
    assert backend.calls[4].options.json_schema is not None


def test_identical_calls_are_not_repeated_forever(tmp_path: Path) -> None:
    same = call("read_file", path="a.py")
    runtime, backend, tools = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 5, "abort")), same, same, same, same, call("step_done", summary="ok"),
    ])
    result = runtime.run("look at a.py")
    # Nothing changed between the calls, so the first result stands: the repeats are answered, not run, and
    # the third repeat ends the step.
    assert len(tools["read_file"].calls) == 1
    assert events(runtime).count("loop_broken") == 3
    last_tool_message = [m for m in backend.calls[4].messages if m.role == "tool"][-1]
    assert "exact call" in last_tool_message.content
    assert result.steps[0][1].status == "failed" and "same calls" in result.steps[0][1].summary


def test_a_call_repeated_after_an_edit_runs_again(tmp_path: Path) -> None:
    read = call("read_file", path="a.py")
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 6, "abort")),
        read, call("edit_file", path="a.py", text="x"), read, read, call("step_done", summary="ok"),
    ])
    runtime.run("fix a.py")
    assert len(tools["read_file"].calls) == 2  # before and after the edit; the third read repeats the second
    assert events(runtime).count("loop_broken") == 1


def test_a_new_step_may_look_again(tmp_path: Path) -> None:
    # A 1.5B model re-read the file at the start of its editing step, then made the right edit; refusing
    # that read made it give up. Repeats are refused within a step only.
    read = call("read_file", path="a.py")
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort"), ("fix", ["read_file", "edit_file"], 3, "abort")),
        read, call("step_done", summary="seen"), REFLECTION, read, call("edit_file", path="a.py", text="x"),
        call("step_done", summary="ok"),
    ])
    runtime.run("fix a.py")
    assert len(tools["read_file"].calls) == 2 and len(tools["edit_file"].calls) == 1
    assert "loop_broken" not in events(runtime)


def test_no_reflection_between_steps_that_only_look_or_only_edit(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 2, "abort"), ("again", ["edit_file"], 2, "abort")),
        call("step_done", summary="a"), call("step_done", summary="b"),
    ])
    result = runtime.run("fix it")
    assert result.turns == 2 and all(c.messages[-1].content != prompts.REFLECT for c in backend.calls)


def test_malformed_call_is_answered_with_the_parser_problem(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort")),
        '<tool_call>{"name": "read_file", "arguments": {"pth": "a.py"}}</tool_call>',
        call("step_done", summary="ok"),
    ])
    runtime.run("look")
    feedback = backend.calls[2].messages[-1]
    assert feedback.role == "user"
    assert "read_file" in feedback.content and "path" in feedback.content


def test_no_tool_calls_end_the_step_and_budgets_hold(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 10, "abort")), "I think it is fine.", "Still fine.", "Yes.",
    ], verifier=FakeVerifier(passed=False))
    result = runtime.run("look")
    assert result.steps[0][1].status == "failed"
    assert result.outcome == "aborted"  # on_failure=abort, and the checks did not pass
    assert result.turns == 3
    assert len(backend.calls) == 4  # propose + three idle turns, then the step was ended


def test_step_turn_budget_is_enforced(tmp_path: Path) -> None:
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 2, "abort")),
        call("read_file", path="a.py"), call("read_file", path="b.py"), call("read_file", path="c.py"),
    ], verifier=FakeVerifier(passed=False))
    result = runtime.run("look")
    assert len(tools["read_file"].calls) == 2
    assert result.steps[0][1].summary == "turn budget of 2 spent"


def test_write_to_a_test_file_is_refused_and_flags_the_run(tmp_path: Path) -> None:
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 3, "abort")),
        call("edit_file", path="tests/test_discounts.py", text="assert True"),
        call("step_done", summary="tests pass now"),
    ])
    result = runtime.run("make the tests pass")
    assert tools["edit_file"].calls == []
    assert result.outcome == "flagged"
    assert [finding.rule for finding in result.findings] == ["protected_write"]


def test_tool_outside_the_step_is_refused_but_not_gaming(tmp_path: Path) -> None:
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "abort")),
        call("edit_file", path="invoicing/discounts.py", text="x"),
        call("step_done", summary="ok"),
    ])
    result = runtime.run("look")
    assert tools["edit_file"].calls == []
    assert result.outcome == "verified"
    assert [finding.rule for finding in result.findings] == ["tool_outside_step"]


def test_an_edit_in_a_looking_step_moves_on_to_the_editing_step(tmp_path: Path) -> None:
    edit = call("edit_file", path="invoicing/discounts.py", text=">=")
    runtime, backend, tools = make_runtime(tmp_path, [
        scaffold_json(("locate", ["read_file"], 4, "replan"), ("fix", ["edit_file"], 3, "retry")),
        call("read_file", path="invoicing/discounts.py"), edit,  # too early: the step is done, the edit not run
        REFLECTION, edit, call("step_done", summary="fixed"),
    ])
    result = runtime.run("fix the discount")
    assert [(name, step.status) for name, step in result.steps] == [("locate", "done"), ("fix", "done")]
    assert len(tools["edit_file"].calls) == 1 and result.findings == [] and result.outcome == "verified"
    assert "step_ahead" in events(runtime) and "replan" not in events(runtime)
    assert backend.calls[3].messages[-1].content == prompts.REFLECT  # what to change, said before changing it


def test_judge_can_veto_a_verified_run(tmp_path: Path) -> None:
    runtime, _, _ = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok"),
    ], judge_verdict="veto")
    assert runtime.run("fix it").outcome == "failed"


def test_fixed_scaffold_skips_stage_one(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        call("step_done", summary="understood"), REFLECTION, call("step_done", summary="changed"),
        call("step_done", summary="verified"),
    ], scaffold_mode="fixed")
    result = runtime.run("fix it")
    assert [name for name, _ in result.steps] == ["understand", "change", "verify"]
    assert all(c.options.json_schema is None for c in backend.calls)


def test_library_examples_reach_the_proposal(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok"),
    ])
    assert runtime.deps.library is not None
    runtime.deps.library.add(session_id="old", task="fix the discount tiers bug", task_kind="fix_bug",
                             scaffold={"steps": [{"name": "remembered-step"}]}, outcome="verified", turns=3)
    runtime.run("fix the discount bug")
    assert "remembered-step" in backend.calls[0].messages[-1].content


@pytest.mark.parametrize("answer", ["no", "always"])
def test_ask_mode_approvals(tmp_path: Path, answer: str) -> None:
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 4, "abort")),
        call("edit_file", path="a.py", text="1"), call("edit_file", path="b.py", text="2"),
        call("step_done", summary="ok"),
    ], needs_approval=frozenset({"edit_file"}))
    asked: list[str] = []

    def approve(tool: str, arguments: dict[str, Any]) -> Any:
        asked.append(arguments["path"])
        return answer

    runtime.deps.approve = approve
    runtime.run("fix")
    if answer == "no":
        assert tools["edit_file"].calls == [] and asked == ["a.py", "b.py"]
    else:
        assert len(tools["edit_file"].calls) == 2 and asked == ["a.py"]


def test_messages_only_grow_between_turns(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 4, "abort")),
        call("read_file", path="a.py"), call("read_file", path="b.py"), call("step_done", summary="ok"),
    ])
    runtime.run("look")
    turns: list[list[Message]] = [c.messages for c in backend.calls[1:]]
    for earlier, later in itertools.pairwise(turns):
        assert later[: len(earlier)] == earlier  # append-only: the KV cache can be reused


class Crash(Exception):
    pass


def crash(messages: Sequence[Message]) -> str:
    raise Crash("power cut")


def test_crash_then_resume_continues_from_the_unfinished_step(tmp_path: Path) -> None:
    from ornith_local.agent.sessions import resume_state

    two_steps = scaffold_json(("locate", ["read_file"], 3, "abort"), ("fix", ["edit_file"], 3, "abort"))
    runtime, _, _ = make_runtime(tmp_path, [
        two_steps, call("read_file", path="a.py"), call("step_done", summary="found it"), REFLECTION,
        call("edit_file", path="a.py", text="x"), crash,
    ])
    with pytest.raises(Crash):
        runtime.run("fix a.py")
    runtime.deps.trajectory.close()
    state = resume_state(runtime.deps.trajectory.path)
    assert state.task == "fix a.py"
    assert state.finished_steps == ["locate"]
    assert state.turns == 4

    resumed, backend, _ = make_runtime(tmp_path, [call("step_done", summary="fixed")])
    result = resumed.run(state.task, resume=state)
    assert [name for name, _ in result.steps] == ["fix"]
    assert result.outcome == "verified"
    assert result.turns == 5
    # The model saw the earlier conversation, then the restarted step.
    seen = backend.calls[0].messages
    assert any("read_file ok: a.py" in message.content for message in seen)
    assert seen[-1].content.startswith("Step 2/2: fix")
    with pytest.raises(ValueError, match="already finished"):
        resume_state(resumed.deps.trajectory.path)


def test_export_writes_only_verified_unflagged_runs_as_chat_data(tmp_path: Path) -> None:
    from ornith_local.agent.sessions import export_training_data

    good, _, _ = make_runtime(tmp_path / "good", [
        scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")),
        "Looking first." + call("read_file", path="a.py"), call("step_done", summary="ok"),
    ])
    good.run("fix a.py")
    bad, _, _ = make_runtime(tmp_path / "bad", [
        scaffold_json(("fix", ["edit_file"], 3, "abort")),
        call("edit_file", path="tests/test_a.py", text="assert True"), call("step_done", summary="ok"),
    ])
    assert bad.run("make tests pass").outcome == "flagged"
    out = tmp_path / "train.jsonl"
    exported, skipped = export_training_data([good.deps.trajectory.path, bad.deps.trajectory.path], out)
    assert (exported, skipped) == (1, 1)
    example = json.loads(out.read_text())
    roles = [message["role"] for message in example["messages"]]
    assert roles[:2] == ["system", "user"]
    assistant = next(m for m in example["messages"] if m.get("tool_calls"))
    assert assistant["content"] == "Looking first."
    call_entry = assistant["tool_calls"][0]
    assert call_entry["function"] == {"name": "read_file", "arguments": json.dumps({"path": "a.py"})}
    reply = example["messages"][example["messages"].index(assistant) + 1]
    assert reply == {"role": "tool", "tool_call_id": call_entry["id"], "content": "read_file ok: a.py"}
    assert {tool["function"]["name"] for tool in example["tools"]} >= {"read_file", "step_done"}


def test_unusable_scaffold_falls_back_to_the_fixed_one(tmp_path: Path) -> None:
    runtime, _, _ = make_runtime(tmp_path, [
        '{"task_kind": "fix_bug", "goal": "x", "steps": [',  # cut off
        call("step_done", summary="a"), REFLECTION, call("step_done", summary="b"), call("step_done", summary="c"),
    ])
    result = runtime.run("fix it")
    assert [name for name, _ in result.steps] == ["understand", "change", "verify"]
    assert "scaffold_fallback" in events(runtime)


def test_a_fix_plan_that_never_edits_falls_back_to_the_fixed_one(tmp_path: Path) -> None:
    # Seen with a 1.5B model: a "fix_bug" scaffold of checking steps only, which can never change a file.
    checking_only = json.loads(scaffold_json(("check", ["read_file"], 3, "replan")))
    checking_only["task_kind"] = "fix_bug"
    runtime, _, _ = make_runtime(tmp_path, [
        json.dumps(checking_only),
        call("step_done", summary="a"), REFLECTION, call("step_done", summary="b"), call("step_done", summary="c"),
    ])
    result = runtime.run("fix it")
    assert [name for name, _ in result.steps] == ["understand", "change", "verify"]
    fallback = next(event for event in read_events(runtime.deps.trajectory.path) if event.type == "scaffold_fallback")
    assert "no step may edit a file" in fallback.data["reason"]


def test_calls_written_as_fenced_json_are_understood(tmp_path: Path) -> None:
    # Qwen2.5-Coder 1.5B writes its calls as ```json {"name", "arguments"}``` instead of <tool_call> tags.
    runtime, _, tools = make_runtime(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 4, "abort")),
        '```json\n{\n  "name": "read_file",\n  "arguments": {"path": "a.py"}\n}\n```',
        'I will finish. {"name": "step_done", "summary": "read it"}',  # arguments flattened, as the model did
    ])
    result = runtime.run("fix it")
    assert tools["read_file"].calls == [{"path": "a.py"}]
    assert result.steps[0][1].status == "done" and result.steps[0][1].summary == "read it"
    assert events(runtime).count("loose_tool_call") == 2


def test_json_that_names_no_tool_is_still_no_call(tmp_path: Path) -> None:
    runtime, backend, tools = make_runtime(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 2, "abort")),
        '```json\n{"name": "Ada", "age": 36}\n```', call("step_done", summary="ok"),
    ])
    runtime.run("fix it")
    assert tools["read_file"].calls == [] and "loose_tool_call" not in events(runtime)
    assert "<tool_call>" in backend.calls[2].messages[-1].content  # the feedback shows the call format


def test_stage_one_shares_the_runs_system_and_tools_prefix(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok"),
    ])
    runtime.run("fix it")
    propose, first_turn = backend.calls[0], backend.calls[1]
    assert propose.options.tools == first_turn.options.tools and propose.options.tools
    assert propose.messages[0] == first_turn.messages[0]  # the same system message: the KV cache carries over


def test_in_fixed_mode_a_replan_goes_on_to_the_next_step(tmp_path: Path) -> None:
    # A 1.5B model called replan to report what it had found; the fixed plan is the only plan, so rerunning it
    # from the first step only repeated the same reads. The runtime moves on with the reason as the summary.
    runtime, _, _ = make_runtime(tmp_path, [
        call("replan", reason="bulk_discount_rate compares with > instead of >="), REFLECTION,
        call("step_done", summary="changed"), call("step_done", summary="verified"),
    ], scaffold_mode="fixed")
    result = runtime.run("fix it")
    assert [(name, step.status) for name, step in result.steps] == [
        ("understand", "replan"), ("change", "done"), ("verify", "done")]
    assert result.steps[0][1].summary == "bulk_discount_rate compares with > instead of >="
    assert len(result.scaffolds) == 1 and "replan_as_next_step" in events(runtime)
    assert result.outcome == "verified"


def test_the_same_plan_after_a_replan_goes_on_after_the_step_that_replanned(tmp_path: Path) -> None:
    # A 1.5B model called replan to say what it had found, proposed the same plan and redid the same reads
    # until its budget ran out. The same plan now continues with the next step.
    plan = scaffold_json(("look", ["read_file"], 3, "replan"), ("fix", ["edit_file"], 3, "abort"))
    runtime, _, tools = make_runtime(tmp_path, [
        plan, call("read_file", path="a.py"), *replan("line 3 compares with >"),
        plan, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ])
    result = runtime.run("fix a.py")
    assert [(name, step.status) for name, step in result.steps] == [("look", "replan"), ("fix", "done")]
    assert len(tools["read_file"].calls) == 1 and len(tools["edit_file"].calls) == 1
    assert "same_plan" in events(runtime) and result.outcome == "verified"


def test_the_same_plan_reruns_an_editing_step_that_replanned(tmp_path: Path) -> None:
    # "The edit did not fix the issue" from the editing step: the same plan gives that step another go.
    plan = scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort"), ("check", ["read_file"], 2, "abort"))
    runtime, _, tools = make_runtime(tmp_path, [
        plan, call("edit_file", path="a.py", text="x"), *replan("the edit did not fix it"),
        plan, call("edit_file", path="a.py", text="y"), call("step_done", summary="fixed"),
        call("step_done", summary="checked"),
    ])
    result = runtime.run("fix a.py")
    assert [name for name, _ in result.steps] == ["fix", "fix", "check"]
    assert len(tools["edit_file"].calls) == 2


def test_the_same_plan_reruns_a_step_that_ran_out_of_turns(tmp_path: Path) -> None:
    plan = scaffold_json(("look", ["read_file"], 3, "abort"), ("fix", ["read_file", "edit_file"], 2, "replan"))
    runtime, _, tools = make_runtime(tmp_path, [
        plan, call("step_done", summary="seen"), REFLECTION, call("read_file", path="a.py"),
        call("read_file", path="b.py"),
        plan, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ])
    result = runtime.run("fix a.py")
    assert [(name, step.status) for name, step in result.steps] == [
        ("look", "done"), ("fix", "failed"), ("fix", "done")]
    assert len(tools["edit_file"].calls) == 1


def test_after_a_replan_the_conversation_goes_on_with_the_new_plan(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "replan")),
        call("read_file", path="invoicing/discounts.py"),
        *replan("the bug is a comparison; it needs an edit step"),
        scaffold_json(("fix", ["read_file", "edit_file"], 2, "abort")),
        call("step_done", summary="done"),
    ])
    result = runtime.run("fix it")
    assert len(result.scaffolds) == 2
    first_turn_after = backend.calls[5].messages  # propose, 3 turns, propose again, then this turn
    assert [message.role for message in first_turn_after].count("system") == 1
    assert any(message.role == "tool" and "read_file ok" in message.content for message in first_turn_after)
    new_plan = next(message.content for message in first_turn_after if message.content.startswith("What happened"))
    assert "it needs an edit step" in new_plan and "New plan" in new_plan
    # The trajectory still holds the final scaffold's whole conversation (resume and export read it from there).
    from ornith_local.agent.sessions import last_conversation

    replayed = last_conversation(list(read_events(runtime.deps.trajectory.path)))
    assert replayed[0]["role"] == "system" and any("read_file ok" in message["content"] for message in replayed)


def test_after_a_repeat_the_next_turn_samples_warmer(tmp_path: Path) -> None:
    read = call("read_file", path="a.py")
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 4, "abort")), read, read, call("step_done", summary="ok"),
    ], temperature=0.0)
    runtime.run("look")
    turns = [c.options for c in backend.calls[1:4]]
    assert [options.temperature for options in turns] == [0.0, 0.0, 0.8]
    assert turns[2].seed != turns[0].seed


def test_a_replan_in_self_mode_is_questioned_once_and_the_step_goes_on(tmp_path: Path) -> None:
    # A 1.5B model ended nearly every step with replan to report what it had found; each cost a whole Stage 1.
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 3, "replan"), ("fix", ["read_file", "edit_file"], 3, "abort")),
        call("read_file", path="a.py"), call("replan", reason="line 3 compares with >"),
        call("step_done", summary="line 3 compares with >"), REFLECTION,
        call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ])
    result = runtime.run("fix a.py")
    assert [(name, step.status) for name, step in result.steps] == [("look", "done"), ("fix", "done")]
    assert len(result.scaffolds) == 1 and result.outcome == "verified"
    answers = [message for message in backend.calls[3].messages if message.name == "replan"]
    assert [(message.role, message.content) for message in answers] == [("tool", prompts.CONFIRM_REPLAN)]
    assert events(runtime).count("replan_questioned") == 1 and "replan" not in events(runtime)


def test_the_same_plan_again_does_not_use_up_the_replans(tmp_path: Path) -> None:
    # With one replan allowed, two replans that each came back to the same plan used to end the run.
    plan = scaffold_json(("look", ["read_file"], 3, "replan"), ("fix", ["read_file", "edit_file"], 3, "abort"))
    runtime, _, tools = make_runtime(tmp_path, [
        plan, *replan("found it"), plan,
        call("edit_file", path="a.py", text="x"), *replan("the edit did not fix it"), plan,
        call("edit_file", path="a.py", text="y"), call("step_done", summary="fixed"),
    ], max_replans=1)
    result = runtime.run("fix a.py")
    assert [(name, step.status) for name, step in result.steps] == [
        ("look", "replan"), ("fix", "replan"), ("fix", "done")]
    assert len(result.scaffolds) == 3 and events(runtime).count("same_plan") == 2
    assert len(tools["edit_file"].calls) == 2 and result.outcome == "verified"


def test_text_a_model_writes_after_its_call_is_not_kept(tmp_path: Path) -> None:
    # Seen with Qwen2.5-Coder 1.5B: after its call it wrote the next step's instructions itself.
    made_up = "\n\nStep 2/2: fix. change it\nTools in this step: edit_file, step_done, replan."
    runtime, backend, tools = make_runtime(tmp_path, [
        scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")),
        '```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```' + made_up,
        call("read_file", path="b.py") + made_up, call("step_done", summary="read"),
    ])
    runtime.run("fix a.py")
    assert [c["path"] for c in tools["read_file"].calls] == ["a.py", "b.py"]
    replies = [message.content for message in backend.calls[3].messages if message.role == "assistant"][-2:]
    assert replies == ['```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```',
                       call("read_file", path="b.py")]


@pytest.mark.parametrize("max_turns", [8, 16, 30])
def test_the_planning_example_budgets_the_runs_own_turns(tmp_path: Path, max_turns: int) -> None:
    # A 1.5B model copied the example's numbers into every plan: a 12-turn example gave 12-turn plans in a
    # 16-turn run, and the self-scaffolded runs stopped with turns the fixed scaffold still had.
    runtime, backend, _ = make_runtime(tmp_path, [
        scaffold_json(("fix", ["edit_file"], 2, "abort")), call("step_done", summary="ok"),
    ], max_turns=max_turns)
    runtime.run("fix it")
    request = backend.calls[0].messages[-1].content
    example = json.loads(request.split("a good scaffold is:\n", 1)[1].split("\n", 1)[0])
    assert example["max_total_turns"] == max_turns
    assert sum(step["turn_budget"] for step in example["steps"]) == max_turns
    assert f"at most {max_turns} turns" in request


def test_a_replan_questioned_on_the_last_turn_of_a_step_gets_its_answer(tmp_path: Path) -> None:
    runtime, _, _ = make_runtime(tmp_path, [
        scaffold_json(("look", ["read_file"], 2, "replan"), ("fix", ["read_file", "edit_file"], 2, "abort")),
        call("read_file", path="a.py"), call("replan", reason="found it"), call("step_done", summary="line 3"),
        REFLECTION, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ])
    result = runtime.run("fix a.py")
    assert [(name, step.status, step.turns) for name, step in result.steps] == [
        ("look", "done", 3), ("fix", "done", 2)]


def test_the_same_plan_goes_on_after_a_looking_step_that_ran_out_of_turns(tmp_path: Path) -> None:
    # Trajectory of a 1.5B model: its "find" step ran out of turns three times, each time the same plan came back
    # and the step ran again, redoing the same reads.
    plan = scaffold_json(("look", ["read_file"], 2, "replan"), ("fix", ["read_file", "edit_file"], 2, "abort"))
    runtime, _, tools = make_runtime(tmp_path, [
        plan, call("read_file", path="a.py"), call("read_file", path="b.py"),
        plan, call("edit_file", path="a.py", text="x"), call("step_done", summary="fixed"),
    ])
    result = runtime.run("fix a.py")
    assert [(name, step.status) for name, step in result.steps] == [("look", "failed"), ("fix", "done")]
    assert len(tools["read_file"].calls) == 2 and result.outcome == "verified"


def test_a_failed_model_call_ends_the_run_as_an_error_not_a_crash(tmp_path: Path) -> None:
    # Seen with the tiny model in a 4K context: a prompt that still did not fit after compaction raised out of
    # `ornith run` as a traceback.
    def overflow(messages: Sequence[Message]) -> str:
        raise BackendError("the prompt (4228 tokens) does not fit in the context (4096); compact the conversation")

    runtime, _, _ = make_runtime(tmp_path, [scaffold_json(("fix", ["read_file", "edit_file"], 3, "abort")), overflow])
    result = runtime.run("fix a.py")
    assert result.outcome == "error" and result.error is not None and "does not fit" in result.error
    assert events(runtime)[-1] == "end" and result.turns == 0  # the failed call was no turn


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
