"""Reading trajectories back: summaries for `ornith sessions`, training-data export, and resume state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.agent.trajectory import Event, list_sessions, read_events, sessions_dir
from ornith_local.llm.parsing import parse_output


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
    start = next((event for event in events if event.type == "start"), None)
    end = next((event for event in reversed(events) if event.type == "end"), None)
    end_data = end.data if end else {}
    return SessionSummary(
        session_id=path.stem,
        path=path,
        task=str(start.data.get("task", "")) if start else "",
        started=start.time if start else 0.0,
        outcome=str(end_data.get("outcome", "interrupted")),
        turns=int(end_data.get("turns", sum(event.type == "model_turn" for event in events))),
        tokens=dict(end_data.get("tokens", {})),
        flagged=end_data.get("outcome") == "flagged",
        repo=str(start.data.get("repo")) if start and start.data.get("repo") else None,
    )


def last_conversation(events: list[Event]) -> list[dict[str, Any]]:
    """The messages of the final scaffold's run (the ones after the last scaffold was shown)."""
    last_scaffold = max((i for i, event in enumerate(events) if event.type == "scaffold"), default=-1)
    return [event.data for event in events[last_scaffold + 1 :] if event.type == "message"]


def to_chat_example(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI-style messages: assistant text split into content and tool_calls, tool replies by id."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "assistant":
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
            end = next((event for event in reversed(events) if event.type == "end"), None)
            if end is None or end.data.get("outcome") != "verified" or any(
                finding.get("rule") != "tool_outside_step" for finding in end.data.get("findings", [])
            ):
                skipped += 1
                continue
            start = next(event for event in events if event.type == "start")
            example = to_chat_example(last_conversation(events), list(start.data.get("tools", [])))
            example["metadata"] = {"session_id": path.stem, "task": start.data.get("task")}
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


def resume_state(path: Path) -> ResumeState:
    events = list(read_events(path))
    if any(event.type == "end" for event in events):
        raise ValueError(f"session {path.stem} already finished; nothing to resume")
    start = next((event for event in events if event.type == "start"), None)
    if start is None:
        raise ValueError(f"session {path.stem} has no start event; it cannot be resumed")
    scaffold_events = [event for event in events if event.type == "scaffold"]
    scaffold = scaffold_events[-1].data["scaffold"] if scaffold_events else None
    after = events.index(scaffold_events[-1]) if scaffold_events else len(events)
    finished = [str(event.data["step"]) for event in events[after:]
                if event.type == "step_end" and event.data.get("status") == "done"]
    return ResumeState(
        task=str(start.data["task"]),
        options={key: start.data.get(key) for key in ("mode", "scaffold_mode", "repo")},
        scaffold=scaffold,
        finished_steps=finished,
        messages=last_conversation(events),
        turns=sum(event.type == "model_turn" for event in events),
    )
