"""`ornith` with no subcommand: the Textual app.

The app owns no agent logic. A task goes to a thread worker that calls `open_run()` like the headless
CLI; the runtime's events come back through a `RunBridge` queue that a timer drains into the
transcript, the scaffold panel and the status bar, so the UI stays responsive while the model works.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.logging import TextualHandler
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import Worker

from ornith_local.tools.listing import list_files
from ornith_local.tui.bridge import ApprovalRequest, AskItem, DoneItem, EventItem, RunBridge, TextItem
from ornith_local.tui.commands import CommandRouter
from ornith_local.tui.history import InputHistory, history_path
from ornith_local.tui.interrupt import kill_sandboxed_commands
from ornith_local.tui.modelinfo import describe
from ornith_local.tui.render import EventRenderer
from ornith_local.tui.screens.approval import ApprovalScreen
from ornith_local.tui.session import BackendFactory, ModelSlot, RunSpec, TuiOptions, execute_run, sandbox_tier
from ornith_local.tui.widgets.scaffold_panel import ScaffoldPanel
from ornith_local.tui.widgets.status_bar import StatusBar
from ornith_local.tui.widgets.task_input import Composer, TaskInput
from ornith_local.tui.widgets.transcript import Notice, Transcript, UserEntry, markup

HERE = Path(__file__).parent
PUMP_INTERVAL_S = 1 / 30
QUIT_WINDOW_S = 2.0
SHUTDOWN_WAIT_S = 5.0
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class OrnithApp(App[int]):
    """Type a task, watch the scaffold and the run, approve edits, undo."""

    TITLE = "ornith"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        HERE / "app.tcss", HERE / "widgets" / "transcript.tcss", HERE / "widgets" / "scaffold_panel.tcss",
        HERE / "widgets" / "status_bar.tcss", HERE / "widgets" / "task_input.tcss",
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "interrupt", "Interrupt", priority=True, show=False),
        Binding("escape", "interrupt", "Interrupt / quit", show=False),
        Binding("ctrl+b", "toggle_scaffold", "Scaffold"),
        Binding("ctrl+o", "toggle_thinking", "Thinking"),
        Binding("ctrl+s", "sessions", "Sessions"),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        Binding("f1", "help", "Help"),
    ]

    def __init__(self, options: TuiOptions, backend_factory: BackendFactory, *,
                 history: InputHistory | None = None, load_on_start: bool = True) -> None:
        super().__init__()
        self.options = options
        self.slot = ModelSlot(backend_factory, options.model)
        self.history = history if history is not None else InputHistory(history_path())
        self.load_on_start = load_on_start
        self.commands_router = CommandRouter(self)
        self.bridge: RunBridge | None = None
        self.renderer: EventRenderer | None = None
        self.run_worker_handle: Worker[None] | None = None
        self.approval_screen: ApprovalScreen | None = None
        self.last_outcome: str | None = None
        self._files: list[str] | None = None
        self._pump_timer: Timer | None = None
        self._run_started = 0.0
        self._last_press = 0.0
        # ornith's log lines (llama.cpp's included) go to Textual's log, never onto the screen.
        self._log_handler = TextualHandler(stderr=False, stdout=False)

    # --- layout ----------------------------------------------------------------------------------

    def compose(self) -> Any:
        yield Header(icon="◆")
        with Horizontal(id="main"):
            yield Transcript(id="transcript")
            yield ScaffoldPanel(id="scaffold")
        yield Static("", id="activity")
        yield ProgressBar(id="progress", show_eta=False)
        yield Composer(self.history, self.repo_files)
        yield StatusBar(id="status")
        yield Footer()

    @property
    def transcript(self) -> Transcript:
        return self.query_one("#transcript", Transcript)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def panel(self) -> ScaffoldPanel:
        return self.query_one("#scaffold", ScaffoldPanel)

    @property
    def running(self) -> bool:
        return self.bridge is not None

    def on_mount(self) -> None:
        logging.getLogger("ornith").addHandler(self._log_handler)
        self.sub_title = str(self.options.repo)
        self.status.mode = self.options.mode
        self.status.scaffold_mode = self.options.scaffold_mode
        self.status.attempts = self.options.attempts
        self.query_one("#activity").display = False
        self.query_one(ProgressBar).display = False
        self._pump_timer = self.set_interval(PUMP_INTERVAL_S, self.pump, pause=True)
        self.query_one(TaskInput).focus()
        self.transcript.add(Notice(markup(
            "[b]ornith[/] in $repo — type a task, [b]/help[/] for commands, [b]Ctrl+P[/] for the palette.",
            repo=self.options.repo.name or str(self.options.repo)), "dim"))
        if self.load_on_start:
            self.load_model(self.options.model, switch=False)

    def on_unmount(self) -> None:
        logging.getLogger("ornith").removeHandler(self._log_handler)

    def repo_files(self) -> Sequence[str]:
        if self._files is None:
            try:
                self._files = list_files(self.options.repo)
            except OSError:
                self._files = []
        return self._files

    # --- the model -------------------------------------------------------------------------------

    def load_model(self, name: str | None, switch: bool = True) -> None:
        """Load `name` in a worker; `switch=False` only makes sure some model is loaded (at start)."""
        self.status.model = None
        self.status.loading_label = f"loading {name or 'the configured model'}…"
        self.show_progress(None, f"loading {name or 'the model'}…")
        self._load_worker(name, switch)

    @work(thread=True, exclusive=True, group="model")
    def _load_worker(self, name: str | None, switch: bool) -> None:
        from ornith_local.session import SetupError

        if not self.status.sandbox:
            self.call_from_thread(setattr, self.status, "sandbox", sandbox_tier(self.options))
        try:
            backend = self.slot.load(name) if switch else self.slot.ensure()
        except SetupError as error:
            self.call_from_thread(self._model_failed, str(error))
            return
        self.call_from_thread(self._model_ready, backend)

    def _model_ready(self, backend: Any) -> None:
        self.hide_progress()
        info = describe(backend)
        self.status.model = info
        self.status.loading_label = ""
        self.transcript.add(Notice(Content(f"model ready: {info.name} {info.quantisation} · {info.backend}"
                                           f"{' · GPU ' + info.gpu_layers if info.gpu_layers else ''} · "
                                           f"n_ctx {info.n_ctx}"), "dim"))

    def _model_failed(self, error: str) -> None:
        self.hide_progress()
        kept = self.slot.backend
        if kept is not None:  # a failed switch: the model that was loaded is still the one in use
            self.options.model = self.slot.name
            self.status.model = describe(kept)
            self.status.loading_label = ""
            self.transcript.add(Notice(markup("[$error]cannot load the model:[/] $error — still using $kept",
                                              error=error, kept=self.status.model.name), "error"))
            return
        self.status.loading_label = "no model loaded (/model)"
        self.transcript.add(Notice(markup("[$error]cannot load the model:[/] $error — pick one with /model, or "
                                          "pull one: ornith models pull NAME", error=error), "error"))

    def show_progress(self, fraction: float | None, label: str) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None if fraction is None else 100, progress=0 if fraction is None else fraction * 100)
        activity = self.query_one("#activity", Static)
        activity.display = True
        activity.update(Content(label))

    def hide_progress(self) -> None:
        self.query_one(ProgressBar).display = False
        if not self.running:
            self.query_one("#activity").display = False

    # --- tasks -----------------------------------------------------------------------------------

    def on_task_input_submitted(self, message: TaskInput.Submitted) -> None:
        text = message.text.strip()
        if self.commands_router.handle(text):
            return
        if text.startswith("//"):
            text = text[1:]
        self.start_task(text)

    def start_task(self, task: str, spec: RunSpec | None = None) -> None:
        if self.running:
            self.notify("a run is in progress: wait for it, or press Esc to interrupt it", severity="warning")
            return
        if spec is None and not self.commands_router.ensure_git(task):
            return
        spec = spec or RunSpec(task, self.options.repo, self.options.mode, self.options.scaffold_mode)
        self.transcript.add(UserEntry(task))
        self.bridge = bridge = RunBridge()
        self.renderer = EventRenderer(self.transcript, self.panel, self.status)
        self.renderer.phase = "loading the model" if self.slot.backend is None else "starting"
        self._run_started = time.monotonic()
        self.query_one("#activity").display = True
        if self._pump_timer is not None:
            self._pump_timer.resume()
        self.run_worker_handle = self._run_worker(spec, bridge)

    @work(thread=True, group="run")
    def _run_worker(self, spec: RunSpec, bridge: RunBridge) -> None:
        execute_run(spec, self.options, self.slot, bridge)

    def pump(self) -> None:
        """Move what the run's thread queued onto the screen (a few dozen times a second)."""
        bridge, renderer = self.bridge, self.renderer
        if bridge is None or renderer is None:
            return
        for item in bridge.drain():
            if isinstance(item, TextItem):
                renderer.text(item.text)
            elif isinstance(item, EventItem):
                renderer.event(item.event)
            elif isinstance(item, AskItem):
                self.ask(item.request)
            elif isinstance(item, DoneItem):
                self.run_done(item)
                return
        self.update_activity()

    def update_activity(self) -> None:
        bridge, renderer = self.bridge, self.renderer
        if bridge is None or renderer is None:
            return
        elapsed = time.monotonic() - self._run_started
        spin = SPINNER[int(elapsed * 10) % len(SPINNER)]
        detail = ""
        pieces = bridge.turn_pieces
        if (prefill := renderer.prefill) is not None:
            detail = f" · reading the prompt: {prefill.evaluated:,}/{prefill.total:,} tokens"
        elif renderer.phase == "generating" and pieces:
            seconds = time.monotonic() - bridge.turn_started
            rate = f" · {pieces / seconds:.1f} tok/s" if seconds > 0.5 else ""
            detail = f" · {pieces} tokens{rate}"
        elif (writing := renderer.writing) is not None:
            detail = f" · {writing.counted}"
        stopping = " · interrupting…" if bridge.interrupted else " · Esc to interrupt"
        self.query_one("#activity", Static).update(
            Content(f"{spin} {renderer.phase or 'working'}{detail} · {elapsed:.0f} s{stopping}"))

    def ask(self, request: ApprovalRequest) -> None:
        self.approval_screen = ApprovalScreen(request, self.options.repo)
        self.push_screen(self.approval_screen, lambda answer: setattr(self, "approval_screen", None))

    def run_done(self, item: DoneItem) -> None:
        renderer = self.renderer
        if item.interrupted and renderer is not None:
            renderer.interrupted(item.session_id)
        elif item.error and renderer is not None:
            self.transcript.add(Notice(markup("[$error]the run stopped:[/] $error", error=item.error), "error"))
            if renderer.panel is not None:
                renderer.panel.finish("error")
        self.last_outcome = "interrupted" if item.interrupted else item.outcome or "error"
        self.bridge = None
        self._files = None  # the run may have created files: list them afresh for @completion
        if self._pump_timer is not None:
            self._pump_timer.pause()
        self.query_one("#activity").display = False
        if self.slot.backend is not None and self.status.model is None:
            self._model_ready(self.slot.backend)

    # --- interrupt and quit ----------------------------------------------------------------------

    async def action_interrupt(self) -> None:
        """First press stops the run cleanly; a second press (or a press while idle, twice) quits."""
        now = time.monotonic()
        bridge = self.bridge
        if bridge is not None and not bridge.interrupted:
            bridge.interrupt()
            kill_sandboxed_commands()
            if self.approval_screen is not None and self.approval_screen.is_active:
                self.approval_screen.dismiss("no")
            self._last_press = now
            self.update_activity()
            self.notify("interrupting the run… press again to quit", timeout=QUIT_WINDOW_S)
            return
        if now - self._last_press <= QUIT_WINDOW_S or bridge is not None:
            await self.action_quit()
            return
        self._last_press = now
        self.notify("press Ctrl+C again to quit", timeout=QUIT_WINDOW_S)

    async def action_quit(self) -> None:
        if self.bridge is not None:
            self.bridge.interrupt()
            kill_sandboxed_commands()
        worker = self.run_worker_handle
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        while worker is not None and not worker.is_finished and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.exit(0)

    # --- small actions ---------------------------------------------------------------------------

    def action_toggle_scaffold(self) -> None:
        self.panel.display = not self.panel.display

    def action_toggle_thinking(self) -> None:
        self.transcript.toggle_thinking()

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_clear(self) -> None:
        self.transcript.clear()

    def action_sessions(self) -> None:
        self.commands_router.run("sessions", "")

    def action_help(self) -> None:
        self.commands_router.run("help", "")

    def action_scroll_transcript(self, direction: int) -> None:
        if direction < 0:
            self.transcript.scroll_page_up()
        else:
            self.transcript.scroll_page_down()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from self.commands_router.palette()
        yield from super().get_system_commands(screen)
