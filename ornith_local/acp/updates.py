"""What an editor sees of a run: ornith's events as ACP `session/update` notifications.

`updates_for(event, progress)` is a pure function: the event and what the editor was shown so far in, the updates
and the new progress out. The plan is re-sent whole on every change (an ACP plan update replaces the list), and a
tool call keeps one id from its start to its end, because ToolFinished does not repeat which call it ends.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from acp import helpers
from acp.helpers import SessionUpdate, ToolCallContentVariant
from acp.schema import (
    ContentToolCallContent,
    FileEditToolCallContent,
    PlanEntry,
    ToolCallLocation,
    ToolKind,
)

from ornith_local.agent import events

MAX_TOOL_TEXT = 4000  # a tool's output in the editor's card: enough to read, bounded for a huge listing
Status = Literal["pending", "in_progress", "completed"]
ToolContent = ToolCallContentVariant

TOOL_KINDS: dict[str, ToolKind] = {
    "read_file": "read", "list_dir": "read", "repo_map": "read", "git_diff": "read", "search": "search",
    "edit_file": "edit", "write_file": "edit", "run": "execute", "run_tests": "execute",
    "step_done": "think", "replan": "think",
}


@dataclass(frozen=True)
class PlanItem:
    name: str
    text: str
    status: Status = "pending"


@dataclass(frozen=True)
class Progress:
    """What the editor was shown so far: the plan, the call still open, how many calls had an id. `prefix` keeps
    the ids of one prompt's calls apart from another's in the same session (the editor keys its cards by id)."""

    session_id: str = ""
    repo: str = ""
    plan: tuple[PlanItem, ...] = ()
    open_call: str | None = None
    calls: int = 0
    prefix: str = ""
    writing: str = ""  # what the model is writing unstreamed (the plan, the review), once said

    def next_call_id(self) -> str:
        return f"call-{self.prefix}{self.calls + 1}"


def tool_kind(tool: str) -> ToolKind:
    return TOOL_KINDS.get(tool, "other")


def call_title(tool: str, arguments: dict[str, Any]) -> str:
    """One line for the editor's tool card: the tool and what it acts on."""
    for key in ("path", "command", "query", "pattern"):
        value = arguments.get(key)
        if isinstance(value, str) and value:
            return f"{tool} {value}"[:160]
    shown = json.dumps(arguments)
    return tool if shown == "{}" else f"{tool} {shown}"[:160]


def diff_contents(diff: str) -> list[FileEditToolCallContent]:
    """A unified diff as ACP diff content, one per file: the old and new side of its hunks (oldText None for a
    new file), so the editor renders the change natively instead of as diff text."""
    files: list[tuple[str, list[str], list[str], bool]] = []
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[4:].strip()
            files.append((path[2:] if path.startswith("b/") else path, [], [], True))
        elif line.startswith("--- ") or not files:
            continue
        elif line.startswith("@@"):
            old_span = line.split()[1] if len(line.split()) > 1 else "-0,0"
            path, old, new, created = files[-1]
            files[-1] = (path, old, new, created and old_span in ("-0,0", "-0"))
        elif line.startswith("\\"):
            continue  # "\ No newline at end of file"
        else:
            _, old, new, _ = files[-1]
            if line[:1] in (" ", "-"):
                old.append(line[1:])
            if line[:1] in (" ", "+"):
                new.append(line[1:])
    return [helpers.tool_diff_content(path, "\n".join(new) + "\n", None if created else "\n".join(old) + "\n")
            for path, old, new, created in files]


def text_content(text: str) -> ContentToolCallContent:
    if len(text) > MAX_TOOL_TEXT:
        text = text[:MAX_TOOL_TEXT] + f"\n… ({len(text) - MAX_TOOL_TEXT} more characters)"
    return helpers.tool_content(helpers.text_block(text))


def plan_update(plan: tuple[PlanItem, ...]) -> SessionUpdate:
    return helpers.update_plan(PlanEntry(content=item.text, priority="medium", status=item.status) for item in plan)


def _set_status(plan: tuple[PlanItem, ...], name: str, status: Status, note: str = "") -> tuple[PlanItem, ...]:
    """The first step called `name` not yet completed gets `status` (a plan may repeat a step's name)."""
    items = list(plan)
    for index, item in enumerate(items):
        if item.name == name and item.status != "completed":
            items[index] = replace(item, status=status, text=item.text + note)
            break
    return tuple(items)


def _close_open_call(progress: Progress, why: str) -> tuple[list[SessionUpdate], Progress]:
    """A call that never finished (an unknown tool, a run that stopped): failed, so no card spins forever."""
    if progress.open_call is None:
        return [], progress
    update = helpers.update_tool_call(progress.open_call, status="failed", content=[text_content(why)])
    return [update], replace(progress, open_call=None)


def message(text: str) -> SessionUpdate:
    return helpers.update_agent_message_text(text)


def updates_for(event: events.Event, progress: Progress, *, replay: bool = False) -> tuple[list[SessionUpdate],
                                                                                        Progress]:
    """The updates that show `event`; `replay`: a stored session read back, whose model text was not streamed."""
    match event:
        case events.RunStarted() if replay:
            return [helpers.update_user_message_text(event.task)], progress
        case events.Writing() if event.what != progress.writing:  # a minute of planning is not a silent minute
            return [helpers.update_agent_thought_text(f"Writing {event.what}…\n")], replace(progress,
                                                                                          writing=event.what)
        case events.ScaffoldChosen():
            steps = event.scaffold.get("steps", [])
            plan = tuple(PlanItem(str(step.get("name", "")), f"{step.get('name', '')}: {step.get('intent', '')}")
                         for step in steps)
            return [plan_update(plan)], replace(progress, plan=plan, writing="")
        case events.Resumed():
            plan = progress.plan
            for name in event.finished_steps:
                plan = _set_status(plan, name, "completed")
            return [plan_update(plan)], replace(progress, plan=plan)
        case events.StepStarted():
            plan = _set_status(progress.plan, event.step, "in_progress")
            return [plan_update(plan)], replace(progress, plan=plan)
        case events.StepEnded():
            closed, progress = _close_open_call(progress, "the step ended before this call finished")
            note = "" if event.status == "done" else f" ({event.status}: {event.summary})"
            plan = _set_status(progress.plan, event.step, "completed", note)
            return [*closed, plan_update(plan)], replace(progress, plan=plan)
        case events.ModelTurn() if replay:
            shown = [update for kind, text in split_model_text(event.text) for update in text_updates(kind, text)]
            return shown, progress
        case events.ToolCalled():
            closed, progress = _close_open_call(progress, "no result came back")
            call_id = progress.next_call_id()
            path = event.arguments.get("path")
            locations = [ToolCallLocation(path=path)] if isinstance(path, str) and path else None
            refused = "; ".join(str(finding.get("detail", "")) for finding in event.findings)
            start = helpers.start_tool_call(
                call_id, call_title(event.tool, event.arguments), kind=tool_kind(event.tool),
                status="failed" if refused else "in_progress", raw_input=event.arguments, locations=locations,
                content=[text_content(f"refused: {refused}")] if refused else None)
            return [*closed, start], replace(progress, calls=progress.calls + 1,
                                             open_call=None if refused else call_id)
        case events.Approval() if event.answer == "no":
            return _close_open_call(progress, "you declined this call")
        case events.ToolFinished() if progress.open_call is not None:
            content: list[ToolContent] = [*diff_contents(event.diff)] if event.diff else []
            if not content:
                content = [text_content(event.text or event.title)]
            update = helpers.update_tool_call(progress.open_call, status="completed" if event.ok else "failed",
                                              title=event.title or None, content=content)
            return [update], replace(progress, open_call=None)
        case events.HookRan() if event.status == "blocked" and progress.open_call is not None:
            return _close_open_call(progress, f"refused by hook `{event.command}`: {event.detail}")
        case events.HookRan():
            detail = f": {event.detail}" if event.detail else ""
            return [helpers.update_agent_thought_text(f"hook {event.hook_event} `{event.command}`: "
                                                      f"{event.status}{detail}\n")], progress
        case events.Replanned():
            return [message(f"\n\nReplanning: {event.reason}\n")], progress
        case events.QuirkApplied():
            return [helpers.update_agent_thought_text(f"{event.quirk}: {event.detail}\n")], progress
        case events.Reproduction():
            return [helpers.update_agent_thought_text(f"{event.path}: {event.detail}\n")], progress
        case events.ChecksRan():
            lines = [f"{'✓' if check.get('passed') else '✗'} {check.get('command')}: {check.get('summary')}"
                     for check in event.checks]
            return [message("\n\nChecks:\n" + "\n".join(lines) + "\n")] if lines else [], progress
        case events.Judged():
            return [message(f"\nReview: {event.verdict}: {event.reason}\n")], progress
        case events.RunEnded():
            closed, progress = _close_open_call(progress, "the run ended before this call finished")
            return [*closed, message(outcome_text(event, progress))], progress
    return [], progress


def outcome_text(event: events.RunEnded, progress: Progress) -> str:
    """The run's last words to the editor: the outcome and why, what changed, and how to take it back."""
    lines = [f"\n\nOutcome: {event.outcome}" + (f" ({event.reason})" if event.reason else "")]
    if event.files_changed:
        lines.append("Files changed: " + ", ".join(event.files_changed))
        if progress.session_id:
            lines.append(f"Undo: ornith undo --session {progress.session_id} --repo {progress.repo}")
    return "\n".join(lines) + "\n"


# --- the model's streamed text ---------------------------------------------------------------------------

Channel = Literal["message", "thought", "hidden"]
OPENERS: dict[str, Channel] = {"<think>": "thought", "<tool_call>": "hidden"}
CLOSERS: dict[Channel, str] = {"thought": "</think>", "hidden": "</tool_call>"}
TAGS = (*OPENERS, *CLOSERS.values())
_TAG = re.compile("|".join(re.escape(tag) for tag in TAGS))


def text_updates(channel: Channel, text: str) -> list[SessionUpdate]:
    """The model's text as the editor sees it: reasoning as a thought, the rest as the message; hidden: nothing."""
    if channel == "hidden" or not text:
        return []
    return [helpers.update_agent_thought_text(text) if channel == "thought" else message(text)]


def split_model_text(text: str, channel: Channel = "message") -> list[tuple[Channel, str]]:
    """A whole reply in its channels: reasoning as thought, a tool call's markup hidden (its card shows it)."""
    splitter = TextSplitter(channel)
    return [*splitter.feed(text), *splitter.flush()]


class TextSplitter:
    """Streamed pieces into (channel, text): a tag may arrive split across pieces, so a tail that could be the
    start of one waits for the next piece."""

    def __init__(self, channel: Channel = "message") -> None:
        self.channel: Channel = channel
        self.pending = ""

    def feed(self, piece: str) -> list[tuple[Channel, str]]:
        text, self.pending = self.pending + piece, ""
        out: list[tuple[Channel, str]] = []
        while text:
            found = _TAG.search(text)
            if found is None:
                keep = _partial_tag_length(text)
                text, self.pending = (text[:-keep], text[-keep:]) if keep else (text, "")
                self._add(out, text)
                break
            self._add(out, text[:found.start()])
            tag = found.group()
            if self.channel == "message" and tag in OPENERS:
                self.channel = OPENERS[tag]
            elif self.channel != "message" and tag == CLOSERS[self.channel]:
                self.channel = "message"
            text = text[found.end():]
        return out

    def flush(self) -> list[tuple[Channel, str]]:
        out: list[tuple[Channel, str]] = []
        self._add(out, self.pending)
        self.pending = ""
        return out

    def _add(self, out: list[tuple[Channel, str]], text: str) -> None:
        if text and self.channel != "hidden":
            out.append((self.channel, text))


def _partial_tag_length(text: str) -> int:
    """How many characters at the end of `text` could begin a tag."""
    start = text.rfind("<")
    tail = text[start:] if start >= 0 else ""
    return len(tail) if tail and any(tag.startswith(tail) for tag in TAGS) else 0
