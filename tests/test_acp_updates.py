"""What an editor is shown of a run: each ornith event as ACP updates, the streamed text's channels, the
permission question and its answer. Pure functions, against the SDK's own schema types."""

from __future__ import annotations

from typing import Any

from acp import text_block
from acp.helpers import embedded_text_resource, resource_block
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AllowedOutcome,
    DeniedOutcome,
    FileEditToolCallContent,
    RequestPermissionResponse,
    ToolCallProgress,
    ToolCallStart,
    UserMessageChunk,
)

from ornith_local.acp.agent import prompt_text
from ornith_local.acp.permission import answer_of, permission_call
from ornith_local.acp.updates import Progress, TextSplitter, diff_contents, split_model_text, updates_for
from ornith_local.agent import events
from ornith_local.tools.base import CallPreview

SCAFFOLD = events.ScaffoldChosen(scaffold={"steps": [{"name": "look", "intent": "read the code"},
                                                     {"name": "fix", "intent": "change it"}]})
DIFF = ("--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def f(x):\n-    return x > 1\n+    return x >= 1\n")


def run_through(*sequence: events.Event, replay: bool = False) -> tuple[list[Any], Progress]:
    progress, shown = Progress("s1", "/repo"), []
    for event in sequence:
        updates, progress = updates_for(event, progress, replay=replay)
        shown += updates
    return shown, progress


def test_the_scaffold_is_the_plan_and_steps_move_it_along() -> None:
    shown, _ = run_through(SCAFFOLD, events.StepStarted(step="look", index=1, total=2),
                           events.StepEnded(step="look", status="done"),
                           events.StepStarted(step="fix", index=2, total=2),
                           events.StepEnded(step="fix", status="failed", summary="tests still fail"))
    assert all(isinstance(update, AgentPlanUpdate) for update in shown)
    assert [(e.content, e.status) for e in shown[0].entries] == [("look: read the code", "pending"),
                                                                 ("fix: change it", "pending")]
    assert [e.status for e in shown[1].entries] == ["in_progress", "pending"]
    assert [e.status for e in shown[3].entries] == ["completed", "in_progress"]
    assert shown[4].entries[1].status == "completed" and "failed: tests still fail" in shown[4].entries[1].content


def test_a_resumed_run_marks_its_finished_steps() -> None:
    shown, _ = run_through(SCAFFOLD, events.Resumed(finished_steps=["look"]))
    assert [e.status for e in shown[-1].entries] == ["completed", "pending"]


def test_a_tool_call_opens_a_card_and_its_result_closes_it_with_a_native_diff() -> None:
    shown, progress = run_through(
        events.ToolCalled(tool="edit_file", arguments={"path": "app.py", "old_string": ">", "new_string": ">="}),
        events.ToolFinished(tool="edit_file", ok=True, title="edited app.py (+1 -1)", diff=DIFF))
    start, end = shown
    assert isinstance(start, ToolCallStart) and start.status == "in_progress" and start.kind == "edit"
    assert start.locations[0].path == "app.py" and start.raw_input["old_string"] == ">"
    assert isinstance(end, ToolCallProgress) and end.tool_call_id == start.tool_call_id
    assert end.status == "completed" and end.title == "edited app.py (+1 -1)"
    assert end.content[0].path == "app.py"
    assert end.content[0].old_text == "def f(x):\n    return x > 1\n"
    assert end.content[0].new_text == "def f(x):\n    return x >= 1\n"
    assert progress.open_call is None and progress.calls == 1


def test_a_failed_tool_shows_its_output_and_each_call_has_its_own_id() -> None:
    shown, _ = run_through(events.ToolCalled(tool="run", arguments={"command": "make"}),
                           events.ToolFinished(tool="run", ok=False, title="exit 2", text="make: *** no rule"),
                           events.ToolCalled(tool="search", arguments={"query": "def f"}))
    assert shown[0].kind == "execute" and shown[0].title == "run make"
    assert shown[1].status == "failed" and shown[1].content[0].content.text == "make: *** no rule"
    assert shown[2].kind == "search" and shown[2].tool_call_id != shown[0].tool_call_id
    (next_prompt, *_), _ = updates_for(events.ToolCalled(tool="run", arguments={}), Progress(prefix="2."))
    assert next_prompt.tool_call_id != shown[0].tool_call_id  # a later prompt's cards never update this one's


def test_a_refused_call_fails_at_once_and_a_declined_one_when_declined() -> None:
    shown, progress = run_through(events.ToolCalled(tool="edit_file", arguments={"path": "tests/test_a.py"},
                                                    findings=[{"detail": "tests are protected"}]))
    assert shown[0].status == "failed" and "tests are protected" in shown[0].content[0].content.text
    assert progress.open_call is None
    shown, progress = run_through(events.ToolCalled(tool="run", arguments={"command": "rm -rf build"}),
                                  events.Approval(tool="run", answer="no"))
    assert shown[1].status == "failed" and "declined" in shown[1].content[0].content.text
    assert progress.open_call is None


def test_a_hook_that_blocks_a_call_fails_its_card_and_other_hooks_are_thoughts() -> None:
    shown, progress = run_through(
        events.ToolCalled(tool="run", arguments={"command": "git push"}),
        events.HookRan(hook_event="PreToolUse", command="./no-push.sh", tool="run", status="blocked",
                       detail="no pushing"),
        events.HookRan(hook_event="Stop", command="notify-send done"))
    assert shown[1].status == "failed"
    assert "refused by hook `./no-push.sh`: no pushing" in shown[1].content[0].content.text
    assert isinstance(shown[2], AgentThoughtChunk) and "hook Stop `notify-send done`: ok" in shown[2].content.text
    assert progress.open_call is None


def test_a_call_that_never_finishes_is_closed_when_the_next_starts_or_the_run_ends() -> None:
    shown, _ = run_through(events.ToolCalled(tool="nope", arguments={}), events.ToolCalled(tool="read_file",
                                                                                          arguments={"path": "a"}))
    assert isinstance(shown[1], ToolCallProgress) and shown[1].status == "failed"
    shown, _ = run_through(events.ToolCalled(tool="read_file", arguments={"path": "a"}),
                           events.RunEnded(outcome="aborted", reason="turn budget spent"))
    assert shown[1].status == "failed" and isinstance(shown[2], AgentMessageChunk)


def test_the_run_ends_with_its_outcome_reason_and_how_to_undo() -> None:
    shown, _ = run_through(events.RunEnded(outcome="unverified", reason="no test showed the problem",
                                           files_changed=["app.py"]))
    text = shown[0].content.text
    assert "Outcome: unverified (no test showed the problem)" in text
    assert "Files changed: app.py" in text and "ornith undo --session s1 --repo /repo" in text


def test_checks_the_review_and_replans_are_told_and_quirks_are_thoughts() -> None:
    shown, _ = run_through(
        events.ChecksRan(checks=[{"command": "pytest", "passed": True, "summary": "12 passed"}]),
        events.Judged(verdict="veto", reason="special-cases the input"),
        events.Replanned(reason="the step failed"),
        events.QuirkApplied(quirk="reflect", detail="asked what is left"),
        events.Reproduction(path="tests/test_new.py", detail="fails before the fix"))
    assert "✓ pytest: 12 passed" in shown[0].content.text
    assert "veto: special-cases the input" in shown[1].content.text
    assert "Replanning: the step failed" in shown[2].content.text
    assert isinstance(shown[3], AgentThoughtChunk) and isinstance(shown[4], AgentThoughtChunk)


def test_unstreamed_writing_is_said_once_per_plan() -> None:
    writing = events.Writing(what="the plan", tokens=3)
    shown, _ = run_through(writing, events.Writing(what="the plan", tokens=9), SCAFFOLD, writing)
    thoughts = [update.content.text for update in shown if isinstance(update, AgentThoughtChunk)]
    assert thoughts == ["Writing the plan…\n", "Writing the plan…\n"]  # the first plan, then a new one


def test_quiet_events_show_nothing_and_live_model_turns_are_already_streamed() -> None:
    for event in (events.RunStarted(task="t"), events.ModelTurn(text="hello"), events.Prefilling(evaluated=1, total=9),
                  events.Checkpointed(id="c"), events.Compacted(),
                  events.MessageAdded(role="user", content="x"), events.Baseline(), events.Proposed()):
        assert run_through(event)[0] == []


def test_a_replayed_session_shows_the_task_and_the_model_text_without_call_markup() -> None:
    reply = '<think>where?</think>Looking.<tool_call>{"name": "x"}</tool_call>'
    shown, _ = run_through(events.RunStarted(task="fix it"), events.ModelTurn(text=reply), replay=True)
    assert isinstance(shown[0], UserMessageChunk) and shown[0].content.text == "fix it"
    assert isinstance(shown[1], AgentThoughtChunk) and shown[1].content.text == "where?"
    assert isinstance(shown[2], AgentMessageChunk) and shown[2].content.text == "Looking."
    assert len(shown) == 3


def test_streamed_text_splits_reasoning_and_hides_calls_even_when_tags_arrive_in_pieces() -> None:
    splitter = TextSplitter()
    out = []
    for piece in ["Hi <th", "ink>hmm</thi", "nk> ok <tool_", "call>{\"a\": 1}</tool_call> done <", "b>"]:
        out += splitter.feed(piece)
    out += splitter.flush()
    joined: dict[str, str] = {}
    for channel, text in out:
        joined[channel] = joined.get(channel, "") + text
    assert joined == {"message": "Hi  ok  done <b>", "thought": "hmm"}
    assert split_model_text("plain") == [("message", "plain")]


def test_a_new_file_diff_has_no_old_text() -> None:
    diff = "--- a/new.py\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
    (content,) = diff_contents(diff)
    assert content.path == "new.py" and content.old_text is None and content.new_text == "a = 1\nb = 2\n"


def test_the_permission_request_carries_the_preview_and_the_answer_maps_back() -> None:
    asked = permission_call("call-3", "edit_file", CallPreview("diff", DIFF, "edit app.py"), "landlock")
    assert asked.tool_call_id == "call-3" and asked.kind == "edit" and asked.title == "edit app.py"
    assert isinstance(asked.content[0], FileEditToolCallContent)
    command = permission_call("call-4", "run", CallPreview("command", "make test", "run `make test`"), "?")
    assert command.content[0].content.text == "make test" and len(command.content) == 1

    def picked(option: str) -> RequestPermissionResponse:
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=option))

    assert [answer_of(picked(option)) for option in ("allow", "always", "reject", "unknown")] == [
        "yes", "always", "no", "no"]
    assert answer_of(RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))) == "no"


def test_the_task_is_the_prompts_text_and_attached_files() -> None:
    blocks = [text_block("Fix this:"), resource_block(embedded_text_resource("file:///r/a.py", "x = 1"))]
    assert prompt_text(blocks) == "Fix this:\nfile:///r/a.py:\nx = 1"
    assert prompt_text([]) == ""
