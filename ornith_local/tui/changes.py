"""What /diff, /undo and the approval prompt show: checkpoints of past runs and previews of edits.

No agent logic: the checkpoints are the ones the runtime recorded in its trajectories, and the edit
preview only reads the file to show what the tool would change if allowed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.tools.base import ToolError
from ornith_local.tools.checkpoint import Checkpoint, UndoReport, diff_since, get_checkpoint, undo

PREVIEW_CONTEXT_LINES = 3


@dataclass(frozen=True)
class RunCheckpoint:
    session_id: str
    checkpoint_id: str
    repo: Path


def last_checkpoint(repo: Path) -> RunCheckpoint | None:
    """The newest recorded run that edited `repo` (its checkpoint is taken before the first edit)."""
    wanted = repo.resolve()
    for path in list_sessions():
        for event in read_events(path):
            if event.type == "checkpoint" and Path(str(event.data.get("repo", ""))).resolve() == wanted:
                return RunCheckpoint(path.stem, str(event.data["id"]), wanted)
    return None


def checkpoint_diff(found: RunCheckpoint, stat_only: bool = False) -> str:
    """The changes since the checkpoint; ToolError when the checkpoint is gone."""
    checkpoint = get_checkpoint(found.repo, found.checkpoint_id)
    return diff_since(found.repo, checkpoint, stat_only=stat_only)


def restore(found: RunCheckpoint) -> UndoReport:
    checkpoint: Checkpoint = get_checkpoint(found.repo, found.checkpoint_id)
    return undo(found.repo, checkpoint)


def preview(repo: Path, tool: str, arguments: dict[str, Any]) -> tuple[str, str]:
    """(kind, text) to show while asking: ("diff", unified diff) for edits, ("command", argv) for run."""
    if tool == "run":
        return "command", str(arguments.get("command", ""))
    path = str(arguments.get("path", ""))
    target = (repo / path).resolve()
    try:
        if repo.resolve() not in target.parents and target != repo.resolve():
            return "note", f"{path}: outside the repository (the tool will refuse it)"
        before = target.read_text(encoding="utf-8") if target.is_file() else ""
    except (OSError, UnicodeDecodeError) as error:
        return "note", f"{path}: cannot read it to preview the change ({error})"
    if tool == "write_file":
        after = str(arguments.get("content", ""))
    elif tool == "edit_file":
        old, new = str(arguments.get("old_string", "")), str(arguments.get("new_string", ""))
        if old and old in before:
            after = before.replace(old, new) if arguments.get("replace_all") else before.replace(old, new, 1)
        else:
            lines = [f"-{line}" for line in old.splitlines()] + [f"+{line}" for line in new.splitlines()]
            note = "(the exact text was not found; the tool will try a tolerant match or fail)"
            return "diff", f"--- a/{path}\n+++ b/{path}\n@@ {note} @@\n" + "\n".join(lines) + "\n"
    else:
        return "note", f"{tool} {path}"
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                f"a/{path}", f"b/{path}", n=PREVIEW_CONTEXT_LINES)
    text = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
    return "diff", text or f"(no change to {path})\n"


__all__ = ["RunCheckpoint", "ToolError", "checkpoint_diff", "last_checkpoint", "preview", "restore"]
