"""How often a run's edits left a file unparseable, and how many turns it took to make it parse again.

Computed from a trajectory alone (its ToolCalled / ToolFinished / ModelTurn events) and the repo snapshot the
run started from: every successful `edit_file` / `write_file` is replayed with the tools' own edit function,
and the file's text after each one goes through the same syntax check the diagnostics use. So the figure is
the same whether the run had diagnostics on or off, which is what `agent_suite --diagnostics on|off` compares.
Changes made by shell commands (`sed -i` in `run`) are not replayed: a file a command rewrote is counted from
the last text the edit tools gave it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.agent import events
from ornith_local.tools.base import ToolError
from ornith_local.tools.diagnostics import parses
from ornith_local.tools.edit import apply_edit

EDIT_TOOLS = frozenset({"edit_file", "write_file"})


@dataclass(frozen=True)
class EditSyntax:
    edits: int = 0  # successful edits of files in a language the syntax check knows
    unparseable: int = 0  # of those, the edits after which the file did not parse
    recovery_turns: list[int] = field(default_factory=list)  # per file that stopped parsing: turns until it did again
    unrecovered: int = 0  # files that still did not parse when the run ended


def _normal(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/")).removeprefix("./")


def _replay(tool: str, arguments: dict[str, Any], text: str | None) -> str | None:
    """The file's text after the call, or None when the call cannot be replayed (arguments it cannot read)."""
    if tool == "write_file":
        content = arguments.get("content")
        return content.replace("\r\n", "\n") if isinstance(content, str) else None
    old, new = arguments.get("old_string"), arguments.get("new_string")
    if text is None or not isinstance(old, str) or not isinstance(new, str):
        return None
    try:
        return apply_edit(text, old.replace("\r\n", "\n"), new.replace("\r\n", "\n"),
                          replace_all=arguments.get("replace_all") is True).text
    except ToolError:
        return None


def edit_syntax(trajectory: Iterable[events.Event], original: Callable[[str], str | None]) -> EditSyntax:
    """Replay the run's edits over the files `original(path)` gives (None: no such file at the start)."""
    texts: dict[str, str | None] = {}
    broken_at: dict[str, int] = {}  # path -> the model turn whose edit broke it
    turn = edits = unparseable = 0
    recoveries: list[int] = []
    pending: events.ToolCalled | None = None
    for event in trajectory:
        if isinstance(event, events.ModelTurn):
            turn += 1
        elif isinstance(event, events.ToolCalled):
            pending = event if event.tool in EDIT_TOOLS else None
        elif isinstance(event, events.ToolFinished) and pending is not None and event.tool == pending.tool:
            call, pending = pending, None
            raw_path = call.arguments.get("path")
            if not event.ok or not isinstance(raw_path, str):
                continue
            path = _normal(raw_path)
            before = texts[path] if path in texts else original(path)
            after = _replay(call.tool, call.arguments, before)
            if after is None:
                continue
            texts[path] = after
            ok = parses(path, after)
            if ok is None:
                continue  # a language the check does not know
            edits += 1
            if not ok:
                unparseable += 1
                broken_at.setdefault(path, turn)
            elif path in broken_at:
                recoveries.append(turn - broken_at.pop(path))
    return EditSyntax(edits, unparseable, recoveries, len(broken_at))


def snapshot_reader(snapshot: Path) -> Callable[[str], str | None]:
    """`original` for `edit_syntax`: the file as the task's snapshot has it."""

    def read(path: str) -> str | None:
        if path.startswith(("/", "../")) or path == "..":
            return None  # outside the repo: not a file the snapshot has
        try:
            return (snapshot / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return read
