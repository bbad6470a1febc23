"""What /diff and /undo show: the checkpoints past runs recorded in their trajectories. (The approval
prompt's preview of a call comes from the tool itself: `Tool.preview`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ornith_local.agent.events import Checkpointed
from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.tools.base import ToolError
from ornith_local.tools.checkpoint import Checkpoint, UndoReport, diff_since, get_checkpoint, undo


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
            if isinstance(event, Checkpointed) and Path(event.repo).resolve() == wanted:
                return RunCheckpoint(path.stem, event.id, wanted)
    return None


def checkpoint_diff(found: RunCheckpoint, stat_only: bool = False) -> str:
    """The changes since the checkpoint; ToolError when the checkpoint is gone."""
    checkpoint = get_checkpoint(found.repo, found.checkpoint_id)
    return diff_since(found.repo, checkpoint, stat_only=stat_only)


def restore(found: RunCheckpoint) -> UndoReport:
    checkpoint: Checkpoint = get_checkpoint(found.repo, found.checkpoint_id)
    return undo(found.repo, checkpoint)


__all__ = ["RunCheckpoint", "ToolError", "checkpoint_diff", "last_checkpoint", "restore"]
