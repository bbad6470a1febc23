"""Pilot tests of a run in the TUI: a scripted model, everything else real (tools, sandbox, git, checks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Collapsible, ProgressBar
from tui_support import EDIT, REFLECTION, TWO_STEPS, call, fix_replies, make_app, scaffold, send, texts, wait_until

from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.tui.screens.approval import ApprovalScreen
from ornith_local.tui.widgets.scaffold_panel import ScaffoldPanel
from ornith_local.tui.widgets.transcript import ModelTurn, ToolCard
from tests.conftest import git

pytestmark = pytest.mark.anyio

FIXED = "if quantity >= minimum:"


def source(repo: Path) -> str:
    return (repo / "invoicing" / "discounts.py").read_text()


async def test_approve_an_edit_with_y_applies_it_and_the_run_reports(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.status.model is not None, "the model")
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval")
        screen = app.screen
        assert isinstance(screen, ApprovalScreen)
        await wait_until(pilot, lambda: "+        if quantity >= minimum:" in texts(screen), "the diff")
        shown = texts(screen)
        assert "Allow edit invoicing/discounts.py?" in shown
        assert "sandbox" in shown and app.status.sandbox in shown
        assert "-        if quantity > minimum:" in shown and "+        if quantity >= minimum:" in shown
        assert FIXED not in source(example_repo)  # nothing happens before the yes
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        assert FIXED in source(example_repo)
        transcript = texts(app.transcript)
        assert "▶ step 1/2: locate" in transcript and "▶ step 2/2: fix" in transcript
        assert "edited invoicing/discounts.py" in transcript
        assert "Checks" in transcript and "outcome" in transcript
        assert app.last_outcome == "verified"  # the example's suite decides (fewer failures than before)
        # What earned it: the tests that failed before and pass now, and the passing tests that run the change.
        assert "evidence: 2 failing before, passing after; changed lines covered by" in transcript


async def test_no_declines_the_edit_and_leaves_the_file_alone(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies())
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval")
        await pilot.press("n")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        assert FIXED not in source(example_repo)
        card = next(card for card in app.transcript.query(ToolCard) if card.tool == "edit_file")
        assert "declined by you" in texts(card)
        assert card.has_class("refused")


async def test_escape_on_the_approval_means_no(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies())
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        assert FIXED not in source(example_repo)


async def test_always_approves_the_rest_of_the_run_without_asking_again(example_repo: Path) -> None:
    second = {"path": "invoicing/discounts.py", "old_string": "return Decimal(\"0\")",
              "new_string": "return Decimal(\"0.00\")"}
    replies = [TWO_STEPS, call("step_done", summary="found"), REFLECTION, call("edit_file", **EDIT),
               call("edit_file", **second), call("step_done", summary="done")]
    app = make_app(example_repo, replies)
    asked = 0

    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix it")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval")
        asked += 1
        await pilot.press("a")
        while app.running:
            if isinstance(app.screen, ApprovalScreen):
                asked += 1
                await pilot.press("y")
            await pilot.pause(0.05)
        assert asked == 1
        assert FIXED in source(example_repo) and 'Decimal("0.00")' in source(example_repo)
        assert "approved for the rest of this run" in texts(app.transcript)


@pytest.mark.parametrize("mode", ["auto", "read-only"])
async def test_auto_and_read_only_modes_never_ask(example_repo: Path, mode: str) -> None:
    app = make_app(example_repo, fix_replies(), mode=mode)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen) or not app.running, "the run")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        assert not isinstance(app.screen, ApprovalScreen)
        assert (FIXED in source(example_repo)) == (mode == "auto")
        if mode == "read-only":  # the scaffold is clamped: the edit tool is taken out of every step
            assert "clamped" in texts(app.transcript)


async def test_thinking_is_folded_by_default_and_expands(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies(), mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        turn = next(turn for turn in app.transcript.query(ModelTurn) if turn.thinking.display)
        assert turn.thinking.collapsed
        assert "exactly 10 items miss" in str(turn.thinking_text.content)
        assert turn.thinking.title.startswith("Thought")
        await pilot.press("ctrl+o")
        assert not turn.thinking.collapsed
        await pilot.press("ctrl+o")
        assert turn.thinking.collapsed


async def test_tool_cards_show_the_call_the_result_and_fold_long_output(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies(), mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        read = next(card for card in app.transcript.query(ToolCard) if card.tool == "read_file")
        assert "read_file invoicing/discounts.py" in texts(read)
        assert read.has_class("ok")
        output = read.query_one(Collapsible)
        assert output.collapsed and output.title.startswith("full output")
        edit = next(card for card in app.transcript.query(ToolCard) if card.tool == "edit_file")
        assert "+        if quantity >= minimum:" in texts(edit)  # the diff, highlighted as a diff


async def test_scaffold_panel_tracks_steps_turns_and_replans(example_repo: Path) -> None:
    replies = [
        scaffold(("look", ["read_file"], 2, "replan"), kind="explain"),
        call("replan", reason="the plan misses the edit step"),
        call("replan", reason="the plan misses the edit step"),  # asked whether the plan really cannot work
        scaffold(("fix", ["edit_file"], 2, "abort")),
        call("edit_file", **EDIT), call("step_done", summary="fixed"),
        '{"verdict": "approve", "reason": "fine"}',
    ]
    app = make_app(example_repo, replies, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix it")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        panel = app.query_one("#scaffold", ScaffoldPanel)
        assert [step.name for step in panel.plan.steps] == ["fix"]
        assert panel.plan.steps[0].status == "done" and panel.plan.steps[0].turns == 2
        assert panel.plan.replans == ["the plan misses the edit step"]
        assert "Replan history" in str(panel.history.content) and panel.history.display
        assert panel.plan.turns == 4
        assert "turns 4/" in str(panel.budget.content)


async def test_status_bar_shows_model_context_sandbox_guard_and_mode(example_repo: Path) -> None:
    replies = [TWO_STEPS, call("run_tests"), call("step_done", summary="found"), REFLECTION,
               call("step_done", summary="nothing to do")]
    app = make_app(example_repo, replies, mode="auto")
    async with app.run_test(size=(160, 40)) as pilot:
        await send(pilot, "look around")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        status = app.status
        assert status.model is not None and status.model.backend == "scripted"
        assert status.context_used > 0
        assert status.sandbox not in ("", "?")
        assert status.guard == "refused" and status.refused == 1  # run_tests is outside the first step
        line = str(status.render())
        assert "ctx" in line and f"sandbox {status.sandbox}" in line and "1 refused" in line and "mode auto" in line


async def test_model_loading_shows_progress_then_the_model(example_repo: Path) -> None:
    import threading

    from ornith_local.llm.scripted import ScriptedBackend

    gate = threading.Event()

    def slow_factory(name: str | None) -> ScriptedBackend:
        gate.wait(WAIT)
        return ScriptedBackend([])

    WAIT = 30.0
    app = make_app(example_repo, factory=slow_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.query_one(ProgressBar).display
        assert "loading" in str(app.status.render())
        gate.set()
        await wait_until(pilot, lambda: app.status.model is not None, "the model")
        assert not app.query_one(ProgressBar).display
        assert "model ready: scripted" in texts(app.transcript)


async def test_a_model_that_cannot_load_says_why_in_one_line(example_repo: Path) -> None:
    def broken(name: str | None) -> object:
        raise FileNotFoundError("/models/missing.gguf: no such model file")

    app = make_app(example_repo, factory=broken)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "cannot load the model" in texts(app.transcript), "the error")
        assert "missing.gguf: no such model file" in texts(app.transcript)
        assert app.status.model is None


async def test_every_run_is_recorded_as_a_session(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies(), mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
    [path] = list_sessions()
    events = [event.kind for event in read_events(path)]
    assert events[0] == "start" and events[-1] == "end" and "checkpoint" in events


async def test_a_call_to_a_tool_that_does_not_exist_is_marked_in_the_turn(example_repo: Path) -> None:
    replies = [scaffold(("look", ["read_file"], 1, "abort"), kind="explain"), call("test_discounts", summary="ok")]
    app = make_app(example_repo, replies, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "look around")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        turn = next(iter(app.transcript.query(ModelTurn)))
        assert str(turn.calls.content) == "→ ✗ test_discounts"  # what a base model writes: not a tool
        assert "parse:" in str(turn.footer.content)


async def test_a_failed_model_switch_keeps_the_model_that_was_loaded(example_repo: Path) -> None:
    working = ScriptedBackend(fix_replies())

    def factory(name: str | None) -> object:
        if name == "missing-model":
            raise FileNotFoundError("missing-model: no such model file")
        return working

    app = make_app(example_repo, factory=factory, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.status.model is not None, "the first model")
        await send(pilot, "/model missing-model")
        await wait_until(pilot, lambda: "cannot load the model" in texts(app.transcript), "the error")
        assert "still using scripted" in texts(app.transcript) and "no model loaded" not in str(app.status.render())
        assert app.status.model is not None and app.options.model != "missing-model"
        await send(pilot, "fix the bulk discount")  # the next task runs on the model still loaded
        await wait_until(pilot, lambda: not app.running, "the run")
        assert app.last_outcome == "verified"


@pytest.mark.parametrize("columns", [80, 60])
async def test_a_narrow_terminal_keeps_model_mode_sandbox_and_guard_on_the_status_bar(
        example_repo: Path, columns: int) -> None:
    app = make_app(example_repo, fix_replies(), mode="auto")
    async with app.run_test(size=(columns, 24)) as pilot:
        await wait_until(pilot, lambda: app.status.model is not None, "the model")
        await pilot.pause()
        shown = str(app.status.render())
        assert all(part in shown for part in ("scripted", "sandbox ", "guard ", "mode auto")), shown
        assert len(shown) <= columns
    wide = make_app(example_repo, fix_replies(), mode="auto")
    async with wide.run_test(size=(200, 24)) as pilot:
        await wait_until(pilot, lambda: wide.status.model is not None, "the model")
        await pilot.pause()
        assert "tok/s" in str(wide.status.render()) and "ctx " in str(wide.status.render())


async def test_a_run_that_changed_nothing_on_a_green_suite_ends_unverified(example_repo: Path) -> None:
    for rel, old, new in (("invoicing/discounts.py", "quantity > minimum", "quantity >= minimum"),
                          ("invoicing/invoice.py", "        return round_cents(self.subtotal / len(self.lines))",
                           "        if not self.lines:\n            return round_cents(0)\n"
                           "        return round_cents(self.subtotal / len(self.lines))")):
        (example_repo / rel).write_text((example_repo / rel).read_text().replace(old, new))
    git(example_repo, "commit", "-qam", "a green suite")
    replies = [scaffold(("look", ["read_file"], 2, "abort"), kind="explain"),
               call("read_file", path="invoicing/money.py"), call("step_done", summary="nothing to change")]
    app = make_app(example_repo, replies, mode="auto")
    async with app.run_test(size=(160, 40)) as pilot:
        await send(pilot, "negative amounts should print the minus sign first")
        await wait_until(pilot, lambda: not app.running, "the end of the run")
        assert app.last_outcome == "unverified"
        transcript = texts(app.transcript)
        assert "unverified" in transcript and "nothing was changed" in transcript
