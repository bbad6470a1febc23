"""The user's hook commands at the loop's events, with Claude Code's and Codex CLI's contract.

Each hook is a shell command (config/hooks.py) run in the run's own sandbox, in the repo, with one JSON object
on stdin: `session_id`, `transcript_path`, `cwd`, `hook_event_name`, and then per event: SessionStart `source`
("startup" or "resume"), UserPromptSubmit `prompt` (the task), PreToolUse `tool_name` / `tool_input`, PostToolUse
those and `tool_response`, Stop the run's `outcome` and `reason`. What it answers:

- exit 0: fine; a JSON object on stdout may still decide (`{"decision": "block", "reason": ...}`, or
  `{"hookSpecificOutput": {"permissionDecision": "deny", "permissionDecisionReason": ...}}`);
- exit 2: block: a PreToolUse hook refuses the call, its stderr is what the model reads; a UserPromptSubmit hook
  refuses the task before the model sees it; after a call, the stderr goes to the model beside the result;
- any other exit, a crash, a timeout: a note for the user, and the run goes on (fail open, as in both tools).

A hook never grants anything: an "allow" answer skips none of ornith's approvals. The loop calls a `Hooks`;
`NoHooks` is the default, `CommandHooks` the real one (built in session.py from the configuration).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from ornith_local.agent.events import Event, HookRan
from ornith_local.config.hooks import HookSettings, HookSpec, user_hooks_dir
from ornith_local.sandbox import CommandResult, Sandbox, SandboxError, with_read_only
from ornith_local.tools.base import ToolResult

Emit = Callable[[Event], None]
Status = Literal["ok", "blocked", "feedback", "error", "timeout"]

# The names Claude Code gives ornith's tools, so a matcher copied from its settings ("Edit|Write", "Bash") works.
CLAUDE_NAMES: dict[str, tuple[str, ...]] = {
    "edit_file": ("Edit", "MultiEdit"), "write_file": ("Write",), "run": ("Bash",), "read_file": ("Read",),
    "search": ("Grep", "Glob"), "list_dir": ("Glob", "LS"),
}
BLOCK_EXIT = 2
DETAIL_CHARS = 2000  # a hook's message as the model or the user reads it
RESPONSE_CHARS = 20_000  # the tool's output a PostToolUse hook gets


class Hooks(Protocol):
    def at_start(self, task: str, resumed: bool, emit: Emit) -> str | None:
        """Why a hook refuses the task (UserPromptSubmit), or None to start."""
        ...

    def before_tool(self, tool: str, arguments: Mapping[str, Any], emit: Emit) -> str | None:
        """Why a hook refuses this call, or None to let it run."""
        ...

    def after_tool(self, tool: str, arguments: Mapping[str, Any], result: ToolResult, emit: Emit) -> str | None:
        """What the hooks tell the model about the call's result, or None."""
        ...

    def at_end(self, outcome: str, reason: str, emit: Emit) -> None: ...


class NoHooks:
    """No hook configured: nothing runs."""

    def at_start(self, task: str, resumed: bool, emit: Emit) -> str | None:
        return None

    def before_tool(self, tool: str, arguments: Mapping[str, Any], emit: Emit) -> str | None:
        return None

    def after_tool(self, tool: str, arguments: Mapping[str, Any], result: ToolResult, emit: Emit) -> str | None:
        return None

    def at_end(self, outcome: str, reason: str, emit: Emit) -> None:
        return None


@dataclass(frozen=True)
class HookAnswer:
    status: Status
    detail: str = ""


class CommandHooks:
    """The configured hook commands, run one after another in the sandbox; the first block stops the rest."""

    def __init__(self, settings: HookSettings, sandbox: Sandbox, repo: Path, *, session_id: str,
                 transcript: Path | None = None, scripts: Sequence[Path] | None = None) -> None:
        # The user's own hook scripts (~/.config/ornith/hooks by default) are readable, never writable, in the
        # sandbox, which hides the rest of the home directory.
        try:
            self.sandbox = with_read_only(sandbox, [user_hooks_dir()] if scripts is None else scripts)
        except SandboxError:  # a folder the sandbox will not show (the home directory itself): hooks see the repo
            self.sandbox = sandbox
        self.settings, self.repo = settings, repo
        self.session_id, self.transcript = session_id, transcript

    def at_start(self, task: str, resumed: bool, emit: Emit) -> str | None:
        source = "resume" if resumed else "startup"
        for hook in self._matching("SessionStart", source):
            self._run(hook, "", {"source": source}, emit)
        if resumed:  # the task was submitted when the run first started
            return None
        for hook in self.settings.for_event("UserPromptSubmit"):
            if (answer := self._run(hook, "", {"prompt": task}, emit)).status == "blocked":
                return answer.detail
        return None

    def before_tool(self, tool: str, arguments: Mapping[str, Any], emit: Emit) -> str | None:
        for hook in self._matching("PreToolUse", tool):
            answer = self._run(hook, tool, {"tool_name": tool, "tool_input": dict(arguments)}, emit)
            if answer.status == "blocked":
                return answer.detail
        return None

    def after_tool(self, tool: str, arguments: Mapping[str, Any], result: ToolResult, emit: Emit) -> str | None:
        response = {"ok": result.ok, "title": result.title, "text": result.text[:RESPONSE_CHARS], "diff": result.diff}
        notes = [answer.detail for hook in self._matching("PostToolUse", tool)
                 if (answer := self._run(hook, tool, {"tool_name": tool, "tool_input": dict(arguments),
                                                      "tool_response": response}, emit)).status == "feedback"]
        return "\n".join(f"hook: {note}" for note in notes) or None

    def at_end(self, outcome: str, reason: str, emit: Emit) -> None:
        for hook in self.settings.for_event("Stop"):
            self._run(hook, "", {"outcome": outcome, "reason": reason, "stop_hook_active": False}, emit)

    def _matching(self, event: str, tool: str) -> list[HookSpec]:
        names = (tool, *CLAUDE_NAMES.get(tool, ()))
        return [hook for hook in self.settings.for_event(event) if hook.matches(names)]

    def _run(self, hook: HookSpec, tool: str, fields: dict[str, Any], emit: Emit) -> HookAnswer:
        payload = {"session_id": self.session_id, "transcript_path": str(self.transcript or ""),
                   "cwd": str(self.repo), "hook_event_name": hook.event, **fields}
        started = time.monotonic()
        exit_code = 0
        try:
            result = self.sandbox.run(hook.command, workspace=self.repo, timeout_s=hook.timeout_s,
                                      stdin=json.dumps(payload, default=str),
                                      env={"CLAUDE_PROJECT_DIR": str(self.repo)})
            exit_code = result.exit_code
            answer = answer_of(hook, result)
        except (SandboxError, OSError) as error:  # the hook could not even start: a note, never a crashed run
            answer = HookAnswer("error", f"could not run: {error}")
        emit(HookRan(hook_event=hook.event, command=hook.command, tool=tool, status=answer.status,
                     exit_code=exit_code, detail=answer.detail, duration_s=round(time.monotonic() - started, 3)))
        return answer


def answer_of(hook: HookSpec, result: CommandResult) -> HookAnswer:
    """What one finished hook command says, read as Claude Code reads it."""
    if result.timed_out:
        return HookAnswer("timeout", f"timed out after {hook.timeout_s:g} s; ignored")
    if result.exit_code == BLOCK_EXIT:
        return _decided(hook.event, _clip(result.stderr) or _clip(result.stdout) or "no reason given")
    if result.exit_code != 0:
        first = (_clip(result.stderr) or _clip(result.stdout)).splitlines()[:1]
        return HookAnswer("error", f"exit {result.exit_code}" + (f": {first[0]}" if first else ""))
    data = _json_object(result.stdout)
    specific = data.get("hookSpecificOutput")
    specific = specific if isinstance(specific, dict) else {}
    if specific.get("permissionDecision") == "deny" and hook.event == "PreToolUse":
        return _decided(hook.event, _text(specific.get("permissionDecisionReason"))
                        or _text(data.get("reason")) or "no reason given")
    if data.get("decision") == "block":
        return _decided(hook.event, _text(data.get("reason")) or "no reason given")
    if data.get("continue") is False:
        return _decided(hook.event, _text(data.get("stopReason")) or "no reason given")
    if context := _text(specific.get("additionalContext")):
        return HookAnswer("feedback", context) if hook.event == "PostToolUse" else HookAnswer("ok", context)
    return HookAnswer("ok")


def _decided(event: str, reason: str) -> HookAnswer:
    """A block: the call (or the task) is refused before it runs; after a call, the reason goes to the model; at
    the start and the end, the user reads it (a finished run does not go on, unlike Claude Code's Stop)."""
    if event in ("PreToolUse", "UserPromptSubmit"):
        return HookAnswer("blocked", reason)
    return HookAnswer("feedback", reason)


def _json_object(stdout: str) -> dict[str, Any]:
    text = stdout.strip()
    if not text.startswith("{"):
        return {}  # plain output is fine and means nothing
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str:
    return _clip(value) if isinstance(value, str) else ""


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + " […]"
