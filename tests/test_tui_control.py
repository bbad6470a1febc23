"""Pilot tests: interrupting a run, quitting, resuming, and the sessions screen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from textual.widgets import DataTable, ProgressBar, Static
from tui_support import (
    EDIT,
    REFLECTION,
    TWO_STEPS,
    GatedBackend,
    call,
    fix_replies,
    make_app,
    notes_shown,
    scaffold,
    send,
    texts,
    wait_until,
)

from ornith_local.agent.sessions import summarize
from ornith_local.agent.trajectory import list_sessions
from ornith_local.llm.backend import Completion, GenerateOptions, Message, OnText, PrefillProgress
from ornith_local.tui.screens.approval import ApprovalScreen
from ornith_local.tui.screens.sessions import ReplayScreen, SessionsScreen
from ornith_local.tui.widgets.transcript import ModelTurn

pytestmark = pytest.mark.anyio

LONG_TURN = "<think>Reading the tiers one by one to see where ten items land</think>" + call(
    "read_file", path="invoicing/discounts.py")


def interrupted_replies() -> list[object]:
    return [TWO_STEPS, LONG_TURN]


async def test_ctrl_c_interrupts_generation_cleanly_and_the_run_can_be_resumed(example_repo: Path) -> None:
    backend = GatedBackend([TWO_STEPS, LONG_TURN], hold_at_call=1)
    app = make_app(example_repo, backend=backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, backend.holding.is_set, "the model to stream")
        await wait_until(pilot, lambda: bool(app.transcript.query(ModelTurn)), "the streamed turn")
        assert app.query_one("#activity").display
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.running, "the run to stop")
        assert app.is_running  # one press interrupts; it does not quit
        assert app.last_outcome == "interrupted"
        assert "interrupted." in texts(app.transcript)
        assert app.panel.plan.outcome == "interrupted"
    [path] = list_sessions()
    assert summarize(path).outcome == "interrupted"  # no end event: `ornith sessions resume` picks it up


async def test_escape_also_interrupts_and_a_second_press_quits(example_repo: Path) -> None:
    backend = GatedBackend([TWO_STEPS, LONG_TURN], hold_at_call=1)
    app = make_app(example_repo, backend=backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, backend.holding.is_set, "the model to stream")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.running, "the run to stop")
        assert app.is_running and app.last_outcome == "interrupted"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.is_running, "the app to quit")
    assert app.return_code == 0
    assert not app.running


async def test_ctrl_c_during_an_approval_stops_the_run_without_the_edit(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies())
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval")
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.running, "the run to stop")
        assert not isinstance(app.screen, ApprovalScreen)
        assert app.last_outcome == "interrupted"
    assert "if quantity >= minimum:" not in (example_repo / "invoicing" / "discounts.py").read_text()


async def test_idle_ctrl_c_warns_first_and_quits_on_the_second_press(example_repo: Path) -> None:
    app = make_app(example_repo, [])
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running
        assert "again to quit" in await notes_shown(pilot)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running, "the app to quit")


async def test_sessions_screen_lists_runs_replays_one_and_resumes_an_interrupted_one(example_repo: Path) -> None:
    # First an interrupted run, then a finished one: two sessions with different outcomes.
    replies = [TWO_STEPS, LONG_TURN, call("step_done", summary="found it"), REFLECTION, call("edit_file", **EDIT),
               call("step_done", summary="fixed"), '{"verdict": "approve", "reason": "ok"}']
    backend = GatedBackend(replies, hold_at_call=1)
    app = make_app(example_repo, backend=backend, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, backend.holding.is_set, "the model to stream")
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.running, "the run to stop")
        backend.hold_at_call = None
        backend.replies.insert(0, LONG_TURN)  # the interrupted turn is asked again on resume

        await send(pilot, "/sessions")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert "interrupted" in str(table.get_row_at(0)[2])

        await pilot.press("enter")  # replay
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay")
        replay = texts(app.screen)
        assert "fix the bulk discount" in replay and "▶ step 1/2: locate" in replay and "interrupted." in replay
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "back to sessions")

        await pilot.press("r")  # resume the interrupted run
        await wait_until(pilot, lambda: not isinstance(app.screen, SessionsScreen), "the main screen")
        assert "resuming" in texts(app.transcript)
        await wait_until(pilot, lambda: not app.running, "the resumed run to end")
        shown = app.last_outcome
    [path] = list_sessions()  # resumed in place: the same session, now finished
    assert summarize(path).outcome == shown and shown != "interrupted"  # what the TUI said is what was recorded
    assert "if quantity >= minimum:" in (example_repo / "invoicing" / "discounts.py").read_text()


async def test_a_finished_run_cannot_be_resumed(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies(), mode="auto")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: not app.running, "the run")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert "only interrupted runs" in await notes_shown(pilot)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SessionsScreen), "the main screen")


async def test_a_second_task_while_running_is_refused_politely(example_repo: Path) -> None:
    backend = GatedBackend([TWO_STEPS, LONG_TURN], hold_at_call=1)
    app = make_app(example_repo, backend=backend)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, backend.holding.is_set, "the model to stream")
        await send(pilot, "another task")
        await pilot.pause()
        assert "a run is in progress" in await notes_shown(pilot)
        backend.release.set()
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.running, "the run to stop")


async def test_ctrl_c_kills_a_running_sandboxed_command(example_repo: Path) -> None:
    import time

    replies = [scaffold(("work", ["run"], 3, "abort"), kind="other"), call("run", command="sleep 120")]
    app = make_app(example_repo, replies, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "wait for a long command")
        await wait_until(pilot, lambda: "sleep 120" in texts(app.transcript), "the command to start")
        await pilot.pause(1.0)  # let the sandbox start it
        started = time.monotonic()
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.running, "the run to stop")
        assert time.monotonic() - started < 60  # far less than the command's 120 s: it was killed
        assert app.last_outcome == "interrupted", texts(app.transcript)


async def test_pulling_a_model_shows_download_progress_then_loads_it(example_repo: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from ornith_local.llm.scripted import ScriptedBackend
    from ornith_local.models.catalog import load_catalog
    from ornith_local.models.download import PullResult
    from ornith_local.tui import commands
    from ornith_local.tui.screens.info import ConfirmScreen

    entry = load_catalog()["qwen2.5-coder-1.5b"]
    staging = entry.local_path.parent / ".download"
    halfway, finish = threading.Event(), threading.Event()

    def fake_pull(entry_: object, **kwargs: object) -> PullResult:  # writes like a download would, no network
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "part.incomplete").write_bytes(b"x" * ((entry.size_bytes or 2_000_000) // 2))
        halfway.set()
        finish.wait(30)
        entry.local_path.write_bytes(b"GGUF")
        return PullResult(entry.local_path, "0" * 64, True)

    loaded: list[str | None] = []

    def factory(name: str | None) -> ScriptedBackend:
        loaded.append(name)
        return ScriptedBackend([])

    monkeypatch.setattr(commands, "pull", fake_pull)
    app = make_app(example_repo, factory=factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.status.model is not None, "the first model")
        await send(pilot, "/model qwen2.5-coder-1.5b")
        assert isinstance(app.screen, ConfirmScreen) and "not downloaded" in texts(app.screen)
        await pilot.press("y")
        await wait_until(pilot, halfway.is_set, "the download to start")
        bar = app.query_one(ProgressBar)
        await wait_until(pilot, lambda: bar.display and bar.total == 100 and (bar.progress or 0) >= 40,
                         "determinate progress")
        assert "pulling qwen2.5-coder-1.5b" in str(app.query_one("#activity", Static).content)
        finish.set()
        await wait_until(pilot, lambda: "qwen2.5-coder-1.5b" in loaded and app.status.model is not None, "load")
        assert "pulled qwen2.5-coder-1.5b" in texts(app.transcript)
        assert not bar.display


class SlowReader(GatedBackend):
    """A model whose first prompt takes seconds to read: it reports progress and waits halfway until released."""

    def __init__(self, replies: list[object]) -> None:
        super().__init__(replies)  # type: ignore[arg-type]
        self.on_prefill: Callable[[PrefillProgress], None] | None = None
        self.halfway = threading.Event()

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        if not self.calls and self.on_prefill is not None:
            started = time.monotonic() - 1.5
            self.on_prefill(PrefillProgress(1024, 4096, time.monotonic() - started))
            self.halfway.set()
            while not self.release.wait(0.05):  # the run's callback is where an interrupt lands
                self.on_prefill(PrefillProgress(2048, 4096, time.monotonic() - started))
            self.on_prefill(PrefillProgress(4096, 4096, time.monotonic() - started))
        return super().chat(messages, options, on_text)


def activity(app: object) -> str:
    return str(app.query_one("#activity", Static).render())  # type: ignore[attr-defined]


def slow_reader() -> tuple[SlowReader, threading.Event]:
    backend = SlowReader(fix_replies())
    return backend, backend.halfway


def slow_planner() -> tuple[GatedBackend, threading.Event]:
    backend = GatedBackend(fix_replies(), hold_at_call=0)  # the scaffold's JSON: one token, then the model is slow
    return backend, backend.holding


@pytest.mark.parametrize(("slow_model", "shown"), [
    (slow_reader, "reading the prompt: 1,024/4,096 tokens"),
    (slow_planner, "writing the scaffold · 1 token ·"),
], ids=["prompt read", "plan written"])
async def test_slow_silent_work_shows_its_progress_in_the_activity_line(
        example_repo: Path, slow_model: Callable[[], tuple[GatedBackend, threading.Event]], shown: str) -> None:
    backend, slowed = slow_model()
    app = make_app(example_repo, backend=backend, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, slowed.is_set, "the model to be slow")
        await wait_until(pilot, lambda: shown in activity(app), "the progress")
        backend.release.set()
        await wait_until(pilot, lambda: not app.running, "the run to finish")
        assert app.last_outcome == "verified"


async def test_ctrl_c_while_a_long_prompt_is_read_stops_the_run(example_repo: Path) -> None:
    backend = SlowReader(fix_replies())
    app = make_app(example_repo, backend=backend, mode="auto")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, backend.halfway.is_set, "the prompt to be half read")
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.running, "the run to stop")
        assert app.last_outcome == "interrupted" and len(backend.calls) == 0  # stopped before a token
