"""Past runs: a table with outcomes; Enter replays one, R resumes an interrupted one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ornith_local.agent.events import RunEnded
from ornith_local.agent.sessions import SessionSummary, summarize
from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.tui.render import EventRenderer
from ornith_local.tui.widgets.scaffold_panel import ScaffoldPanel
from ornith_local.tui.widgets.transcript import Transcript, markup

MAX_ROWS = 200
# DataTable cells are Rich renderables: named colours, which every theme maps.
OUTCOME_COLOUR = {"verified": "green", "flagged": "bold red", "failed": "red", "aborted": "yellow",
                  "interrupted": "yellow", "error": "red",
                  "unverified": "yellow"}


class SessionsScreen(Screen[tuple[str, Path] | None]):
    """Dismisses with ("resume", path) when you resume a run; replays open on top of it."""

    CSS_PATH = "sessions.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "replay", "Replay", priority=True),
        Binding("r", "resume", "Resume"),
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, paths: list[Path] | None = None) -> None:
        super().__init__()
        self.summaries: list[SessionSummary] = []
        self._paths = paths

    def compose(self) -> Any:
        with Vertical(id="sessions"):
            yield Static("Sessions", classes="screen-title")
            yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="sessions-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "started", "outcome", "turns", "task")
        paths = self._paths if self._paths is not None else list_sessions()[:MAX_ROWS]
        self.summaries = [summarize(path) for path in paths]
        for summary in self.summaries:
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.started)) if summary.started else "?"
            outcome = Text(summary.outcome, style=OUTCOME_COLOUR.get(summary.outcome, ""))
            task = summary.task.splitlines()[0][:80] if summary.task else ""
            table.add_row(summary.session_id, started, outcome, str(summary.turns), task, key=summary.session_id)
        hint = "Enter: replay · R: resume an interrupted run · Esc: back"
        self.query_one("#sessions-hint", Static).update(
            Content(hint if self.summaries else "No sessions yet: type a task to start one."))
        table.focus()

    def _selected(self) -> SessionSummary | None:
        table = self.query_one(DataTable)
        if not self.summaries or table.cursor_row < 0:
            return None
        return self.summaries[min(table.cursor_row, len(self.summaries) - 1)]

    def action_replay(self) -> None:
        summary = self._selected()
        if summary is not None:
            self.app.push_screen(ReplayScreen(summary.path))

    def action_resume(self) -> None:
        summary = self._selected()
        if summary is None:
            return
        if summary.outcome != "interrupted":
            self.notify(f"session {summary.session_id} finished ({summary.outcome}); only interrupted runs "
                        "can be resumed", severity="warning")
            return
        self.dismiss(("resume", summary.path))

    def action_close(self) -> None:
        self.dismiss(None)


class ReplayScreen(Screen[None]):
    """One past run drawn from its trajectory by the same renderer as a live run."""

    CSS_PATH = "sessions.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"), Binding("ctrl+o", "thinking", "Thinking"),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> Any:
        yield Static(markup("[b]Replay[/] $session", session=self.path.stem), classes="screen-title")
        with Horizontal(id="replay-main"):
            yield Transcript(id="replay-transcript")
            yield ScaffoldPanel(id="replay-scaffold")
        yield Footer()

    def on_mount(self) -> None:
        renderer = EventRenderer(self.query_one(Transcript), self.query_one(ScaffoldPanel), replay=True)
        ended = False
        for event in read_events(self.path):
            renderer.event(event)
            ended = ended or isinstance(event, RunEnded)
        if not ended:
            renderer.interrupted(self.path.stem)
        self.query_one(Transcript).focus()

    def action_thinking(self) -> None:
        self.query_one(Transcript).toggle_thinking()

    def action_close(self) -> None:
        self.dismiss(None)
