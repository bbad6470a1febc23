"""Reading trajectories back: summaries for `ornith sessions`, training-data export, and resume state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ornith_local.agent.events import Event, MessageAdded, ModelTurn, RunEnded, RunStarted, ScaffoldChosen, StepEnded
from ornith_local.agent.trajectory import list_sessions, read_events, sessions_dir
from ornith_local.llm.backend import Message
from ornith_local.llm.parsing import parse_output

E = TypeVar("E", bound=Event)


class SessionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    path: Path
    task: str
    started: float
    outcome: str  # the end event's outcome, or "interrupted" when the run never ended
    turns: int
    tokens: dict[str, int]
    flagged: bool
    repo: str | None = None


def repo_root(path: Path) -> Path:
    """The top of the git work tree `path` is in (itself when it is in none): the key sessions are filed under."""
    path = path.expanduser().resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return path


def same_repo(recorded: str | Path, repo: Path) -> bool:
    """Whether a session recorded in `recorded` (any folder of its repo) belongs to `repo`."""
    return repo_root(Path(recorded)) == repo_root(repo)


def find_session(session_id: str | None) -> Path:
    """A session's trajectory by id (a unique prefix is enough), or the newest one for None."""
    paths = list_sessions()
    if not paths:
        raise SessionNotFound(f"no sessions yet in {sessions_dir()}")
    if session_id is None:
        return paths[0]
    matches = [path for path in paths if path.stem.startswith(session_id)]
    if len(matches) != 1:
        problem = "no session" if not matches else f"{len(matches)} sessions"
        raise SessionNotFound(f"{problem} match '{session_id}' (see: ornith sessions list)")
    return matches[0]


def summarize(path: Path) -> SessionSummary:
    events = list(read_events(path))
    start = _first(events, RunStarted)
    end = _last(events, RunEnded)
    return SessionSummary(
        session_id=path.stem,
        path=path,
        task=start.task if start else "",
        started=start.time if start else 0.0,
        outcome=end.outcome if end else "interrupted",
        turns=end.turns if end else sum(isinstance(event, ModelTurn) for event in events),
        tokens=dict(end.tokens) if end else {},
        flagged=end is not None and end.outcome == "flagged",
        repo=start.repo or None if start else None,
    )


def _first(events: list[Event], kind: type[E]) -> E | None:
    return next((event for event in events if isinstance(event, kind)), None)


def _last(events: list[Event], kind: type[E]) -> E | None:
    return next((event for event in reversed(events) if isinstance(event, kind)), None)


def last_conversation(events: list[Event]) -> list[dict[str, Any]]:
    """The messages of the final scaffold's run (the ones after the last scaffold was shown)."""
    last_scaffold = max((i for i, event in enumerate(events) if isinstance(event, ScaffoldChosen)), default=-1)
    return [{"role": event.role, "content": event.content, "tool_call_id": event.tool_call_id, "name": event.name,
             "reasoning": event.reasoning, "tool_calls": event.tool_calls}
            for event in events[last_scaffold + 1 :] if isinstance(event, MessageAdded)]


def to_chat_example(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI-style messages: assistant text split into content and tool_calls, tool replies by id."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "assistant" and message.get("tool_calls"):  # a server parsed it: already in this shape
            reasoning = {"reasoning_content": message["reasoning"]} if message.get("reasoning") else {}
            out.append({"role": "assistant", "content": message["content"].strip(), **reasoning,
                        "tool_calls": message["tool_calls"]})
        elif role == "assistant":
            parsed = parse_output(message["content"], format="auto", tools=tools)
            replies = []
            for later in messages[index + 1 :]:
                if later["role"] != "tool":
                    break
                replies.append(later)
            calls = [call for call in parsed.tool_calls if call.valid]
            entry: dict[str, Any] = {"role": "assistant", "content": parsed.content.strip()}
            if parsed.reasoning:
                entry["reasoning_content"] = parsed.reasoning
            if calls and replies:
                entry["tool_calls"] = [
                    {"id": reply["tool_call_id"], "type": "function",
                     "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
                    for call, reply in zip(calls, replies, strict=False)
                ]
            out.append(entry)
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": message.get("tool_call_id"), "content": message["content"]})
        else:
            out.append({"role": role, "content": message["content"]})
    return {"messages": out, "tools": tools}


def export_training_data(paths: Iterable[Path], destination: Path) -> tuple[int, int]:
    """Write verified, unflagged runs as chat JSONL; returns (exported, skipped)."""
    exported = skipped = 0
    with destination.open("w", encoding="utf-8") as handle:
        for path in paths:
            events = list(read_events(path))
            end, start = _last(events, RunEnded), _first(events, RunStarted)
            if end is None or start is None or end.outcome != "verified" or any(
                finding.get("rule") != "tool_outside_step" for finding in end.findings
            ):
                skipped += 1
                continue
            example = to_chat_example(last_conversation(events), list(start.tools))
            example["metadata"] = {"session_id": path.stem, "task": start.task}
            handle.write(json.dumps(example) + "\n")
            exported += 1
    return exported, skipped


@dataclass
class ResumeState:
    """Where an interrupted run stopped: its task, last scaffold, finished steps and conversation."""

    task: str
    options: dict[str, Any]
    scaffold: dict[str, Any] | None
    finished_steps: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0

    def conversation(self) -> list[Message]:
        """The interrupted run's messages, to go on from where it stopped."""
        return [Message(m["role"], m["content"], reasoning=m.get("reasoning"),
                        tool_calls=tuple(m.get("tool_calls") or ()), tool_call_id=m.get("tool_call_id"),
                        name=m.get("name")) for m in self.messages]


def resume_state(path: Path) -> ResumeState:
    events = list(read_events(path))
    if _last(events, RunEnded) is not None:
        raise ValueError(f"session {path.stem} already finished; nothing to resume")
    start = _first(events, RunStarted)
    if start is None:
        raise ValueError(f"session {path.stem} has no start event; it cannot be resumed")
    scaffold = _last(events, ScaffoldChosen)
    after = events.index(scaffold) if scaffold is not None else len(events)
    finished = [event.step for event in events[after:] if isinstance(event, StepEnded) and event.status == "done"]
    return ResumeState(
        task=start.task,
        options={"mode": start.mode, "scaffold_mode": start.scaffold_mode, "repo": start.repo},
        scaffold=scaffold.scaffold if scaffold is not None else None,
        finished_steps=finished,
        messages=last_conversation(events),
        turns=sum(isinstance(event, ModelTurn) for event in events),
    )
