"""`ornith acp`: ornith as an Agent Client Protocol agent, for editors that run external agents (Zed, JetBrains).

One ACP session is one ornith session: its id is the trajectory's, so `ornith sessions show ID` and
`ornith undo --session ID` work on what the editor did, and `session/load` replays it. Each prompt is one run
built by `open_run()`, in a worker thread: the loop is synchronous. The hand-off between that thread and the
protocol is the TUI's (`RunBridge`, `execute_run`): the same queue of events, streamed text and approval
requests, the same interrupt, so the editor's cancel stops a run the way Esc does in the TUI.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, Agent, Client, RequestError
from acp.helpers import SessionUpdate
from acp.schema import (
    AgentCapabilities,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    SessionMode,
    SessionModeState,
    SetSessionModeResponse,
)
from acp.schema import Implementation as AcpImplementation

from ornith_local import __version__
from ornith_local.acp.permission import OPTIONS, answer_of, permission_call
from ornith_local.acp.updates import Progress, TextSplitter, message, text_updates, updates_for
from ornith_local.agent.events import ModelTurn
from ornith_local.agent.sessions import ResumeState, SessionNotFound, find_session, resume_state, same_repo, summarize
from ornith_local.agent.trajectory import new_session_id, read_events
from ornith_local.config import ConfigError, load_config
from ornith_local.guard.approvals import Answer
from ornith_local.models.choice import choose_model
from ornith_local.models.gguf import ModelFileError
from ornith_local.models.local import resolve_model_path
from ornith_local.models.tiny import TinyModelUnavailable
from ornith_local.sandbox.terminal import strip_controls_deep
from ornith_local.session import SetupError, ensure_git_repo
from ornith_local.tui.bridge import AskItem, DoneItem, EventItem, Item, RunBridge, TextItem
from ornith_local.tui.interrupt import kill_sandboxed_commands
from ornith_local.tui.session import Mode, ModelSlot, RunSpec, TuiOptions, default_backend_factory, execute_run

DRAIN_EVERY_S = 0.05  # how often the run's queue is read: a model's tokens arrive in small batches
MODES: dict[Mode, tuple[str, str]] = {
    "ask": ("Ask", "edits and commands wait for your approval"),
    "auto": ("Auto", "edits and commands run without asking, commands in the sandbox"),
    "read-only": ("Read-only", "reads and searches; changes nothing"),
}
INVALID_PARAMS = -32602


def refuse(reason: str) -> RequestError:
    """A request ornith cannot serve, as a JSON-RPC error whose message is the one line a person reads."""
    return RequestError(INVALID_PARAMS, reason.strip().splitlines()[0] if reason.strip() else "invalid request")


@dataclass(frozen=True)
class AcpDefaults:
    """What `ornith acp` was started with; each session's repo config fills in the rest."""

    model: str | None = None
    endpoint: str | None = None
    mode: Mode | None = None


@dataclass
class AcpSession:
    session_id: str
    repo: Path
    options: TuiOptions
    slot: ModelSlot
    resume: ResumeState | None = None  # a loaded session that was interrupted: the next prompt picks it up
    bridge: RunBridge | None = None  # the prompt in progress
    prompts: int = 0
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def modes(self) -> SessionModeState:
        return SessionModeState(current_mode_id=self.options.mode, available_modes=[
            SessionMode(id=mode, name=name, description=description) for mode, (name, description) in MODES.items()])


def prompt_text(blocks: list[Any]) -> str:
    """The task from a prompt's content: its text, and the text of any file the editor attached."""
    parts = []
    for block in blocks:
        if getattr(block, "type", "") == "text":
            parts.append(block.text)
        elif getattr(block, "type", "") == "resource" and hasattr(block.resource, "text"):
            parts.append(f"\n{block.resource.uri}:\n{block.resource.text}")
        elif getattr(block, "type", "") == "resource_link":
            parts.append(f" {block.uri}")
    return "".join(parts).strip()


class OrnithAgent(Agent):
    def __init__(self, defaults: AcpDefaults) -> None:
        self.defaults = defaults
        self.sessions: dict[str, AcpSession] = {}
        self._conn: Client | None = None

    def on_connect(self, conn: Client) -> None:
        self._conn = conn

    @property
    def conn(self) -> Client:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    async def initialize(self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None,
                         **kwargs: Any) -> InitializeResponse:
        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(load_session=True,
                                                 prompt_capabilities=PromptCapabilities(embedded_context=True)),
            agent_info=AcpImplementation(name="ornith", title="Ornith (local)", version=__version__),
        )

    async def new_session(self, cwd: str, additional_directories: list[str] | None = None,
                          mcp_servers: list[Any] | None = None, **kwargs: Any) -> NewSessionResponse:
        # The editor's MCP servers are not attached: ornith's tools come from its own configuration.
        session = self._open(cwd, new_session_id())
        return NewSessionResponse(session_id=session.session_id, modes=session.modes())

    async def load_session(self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None,
                           additional_directories: list[str] | None = None, **kwargs: Any) -> LoadSessionResponse:
        try:
            path = find_session(session_id)
        except SessionNotFound as error:
            raise refuse(str(error)) from None
        if path.stem != session_id:  # the editor keeps the id it asked for: a prefix would not find it again
            raise refuse(f"no session '{session_id}' (did you mean {path.stem}?)")
        recorded = summarize(path).repo
        if recorded and not same_repo(recorded, Path(cwd)):
            raise refuse(f"session {path.stem} was recorded in {recorded}, not in {cwd}")
        session = self._open(cwd, path.stem)
        progress = Progress(session.session_id, str(session.repo))
        for event in read_events(path):
            updates, progress = updates_for(strip_controls_deep(event), progress, replay=True)
            await self._send(session, updates)
        try:
            session.resume = resume_state(path)
        except ValueError:  # it finished: the next prompt is a new task in the same session
            session.resume = None
        return LoadSessionResponse(modes=session.modes())

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> SetSessionModeResponse:
        session = self._session(session_id)
        mode = next((mode for mode in MODES if mode == mode_id), None)
        if mode is None:
            raise refuse(f"unknown mode '{mode_id}' (one of: {', '.join(MODES)})")
        session.options = replace(session.options, mode=mode)  # the next prompt runs in it
        return SetSessionModeResponse()

    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> PromptResponse:
        session = self._session(session_id)
        if session.bridge is not None:
            raise refuse("a prompt is already running in this session; cancel it first")
        resume, session.resume = session.resume, None
        task = resume.task if resume is not None else prompt_text(prompt)
        if not task:
            await self._send(session, [message("The prompt is empty: say what to do.")])
            return PromptResponse(stop_reason="end_turn")
        if resume is not None:
            await self._send(session, [message(f"Resuming the interrupted task: {task}\n\n")])
        bridge = RunBridge()
        session.bridge, session.cancelled = bridge, asyncio.Event()
        spec = RunSpec(task=task, repo=session.repo, mode=session.options.mode,
                       scaffold_mode=session.options.scaffold_mode, resume=resume, session_id=session.session_id)
        threading.Thread(target=execute_run, args=(spec, session.options, session.slot, bridge),
                         name=f"ornith-run-{session_id}", daemon=True).start()
        try:
            done = await self._follow(session, bridge)
        finally:
            session.bridge = None
        if done.interrupted:
            return PromptResponse(stop_reason="cancelled")
        if done.error:
            await self._send(session, [message(f"\n\nornith: {done.error}\n")])
        return PromptResponse(stop_reason="end_turn")

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        session = self.sessions.get(session_id)
        if session is None or session.bridge is None:
            return
        session.bridge.interrupt()  # the run's next callback unwinds it; a pending approval is answered no
        session.cancelled.set()
        kill_sandboxed_commands()  # a command it waits on returns at once instead of at its timeout

    async def close_session(self, session_id: str, **kwargs: Any) -> None:
        await self.cancel(session_id)
        self.sessions.pop(session_id, None)

    async def authenticate(self, method_id: str, **kwargs: Any) -> None:
        return None  # a local agent: nothing to sign in to, and no auth methods are offered

    # Not offered in the capabilities: a client that asks anyway gets "method not found".
    async def list_sessions(self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any) -> Any:
        raise RequestError.method_not_found("session/list")

    async def fork_session(self, session_id: str, cwd: str, additional_directories: list[str] | None = None,
                           mcp_servers: list[Any] | None = None, **kwargs: Any) -> Any:
        raise RequestError.method_not_found("session/fork")

    async def resume_session(self, session_id: str, cwd: str, additional_directories: list[str] | None = None,
                             mcp_servers: list[Any] | None = None, **kwargs: Any) -> Any:
        raise RequestError.method_not_found("session/resume")

    async def set_config_option(self, config_id: str, session_id: str, value: str | bool, **kwargs: Any) -> None:
        raise RequestError.method_not_found("session/set_config_option")

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(method)

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    def stop_all(self) -> None:
        """The editor went away: every run still going unwinds (its trajectory closes, resumable)."""
        for session in self.sessions.values():
            if session.bridge is not None:
                session.bridge.interrupt()
        kill_sandboxed_commands()

    # --- the run --------------------------------------------------------------------------------------------

    async def _follow(self, session: AcpSession, bridge: RunBridge) -> DoneItem:
        """Relay the run's queue to the editor until the run's thread is done."""
        session.prompts += 1
        progress = Progress(session.session_id, str(session.repo), prefix=f"{session.prompts}.")
        splitter = TextSplitter()
        while True:
            for item in bridge.drain():
                if isinstance(item, DoneItem):
                    await self._send(session, [update for channel, text in splitter.flush()
                                              for update in text_updates(channel, text)])
                    return item
                progress, splitter = await self._relay(session, item, progress, splitter)
            await asyncio.sleep(DRAIN_EVERY_S)

    async def _relay(self, session: AcpSession, item: Item, progress: Progress,
                     splitter: TextSplitter) -> tuple[Progress, TextSplitter]:
        updates: list[SessionUpdate] = []
        if isinstance(item, TextItem):
            updates = [update for channel, text in splitter.feed(item.text)
                       for update in text_updates(channel, text)]
        elif isinstance(item, EventItem):
            if isinstance(item.event, ModelTurn):  # the turn is over: what it held back is shown, the next starts
                updates = [update for channel, text in splitter.flush() for update in text_updates(channel, text)]
                splitter = TextSplitter()
            more, progress = updates_for(item.event, progress)
            updates += more
        elif isinstance(item, AskItem):
            await self._send(session, updates)
            item.request.answer(await self._ask(session, progress, item))
        await self._send(session, updates)
        return progress, splitter

    async def _ask(self, session: AcpSession, progress: Progress, item: AskItem) -> Answer:
        """The editor's answer to one approval; a cancel while it is asked, or a client that cannot ask, is no."""
        request = item.request
        call_id = progress.open_call or progress.next_call_id()  # the loop always announces a call first
        asking = asyncio.ensure_future(self.conn.request_permission(
            session_id=session.session_id, options=OPTIONS,
            tool_call=permission_call(call_id, request.tool, request.preview, request.sandbox_tier)))
        cancelled = asyncio.ensure_future(session.cancelled.wait())
        await asyncio.wait({asking, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        cancelled.cancel()
        if not asking.done():
            asking.cancel()
            return "no"
        if asking.exception() is not None:
            return "no"
        return answer_of(asking.result())

    async def _send(self, session: AcpSession, updates: list[SessionUpdate]) -> None:
        for update in updates:
            await self.conn.session_update(session_id=session.session_id, update=update)

    # --- sessions -------------------------------------------------------------------------------------------

    def _session(self, session_id: str) -> AcpSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise refuse(f"no session '{session_id}' in this agent (start one with session/new)")
        return session

    def _open(self, cwd: str, session_id: str) -> AcpSession:
        """A session on the repo at `cwd`, with the model the configuration names; refused in one line when the
        repo or the model is not there, before any prompt."""
        repo = Path(cwd).expanduser()
        if not repo.is_absolute() or not repo.is_dir():
            raise refuse(f"{cwd}: not a directory (the session's cwd must be an absolute path)")
        repo = repo.resolve()
        try:
            ensure_git_repo(repo, lambda: False)
            config = load_config(repo)
        except (SetupError, ConfigError) as error:
            raise refuse(str(error)) from None
        endpoint = self.defaults.endpoint or config.model.endpoint
        pick = choose_model(replace(config.model, endpoint=endpoint), self.defaults.model)
        if pick.name and not endpoint:
            try:
                resolve_model_path(pick.name)
            except (LookupError, FileNotFoundError, ModelFileError, TinyModelUnavailable) as error:
                raise refuse(str(error).strip("'\"")) from None
        options = TuiOptions(repo=repo, config=config, mode=self.defaults.mode or config.agent.mode,
                             scaffold_mode=config.agent.scaffold, model=pick.name, endpoint=self.defaults.endpoint)
        session = AcpSession(session_id, repo, options, ModelSlot(default_backend_factory(options), pick.name))
        self.sessions[session_id] = session
        return session

