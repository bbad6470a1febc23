"""git_diff: the model's view of what it has changed since the run's checkpoint.

Checkpoint and undo are the runtime's (see `checkpoint.py`), never offered to the model: a model
that could undo or re-checkpoint could hide its own changes from the monitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ornith_local.tools.base import CallPreview, Effect, ToolResult, arg_bool, plain_preview, schema
from ornith_local.tools.checkpoint import Checkpoint, changed_paths, diff_since, open_repo
from ornith_local.tools.workspace import Workspace

MAX_DIFF_CHARS = 20_000
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass
class GitDiff:
    workspace: Workspace
    checkpoint: Checkpoint | None = None  # set by the runtime when it checkpoints before the first edit
    name: str = "git_diff"
    description: str = (
        "Show what has changed in the workspace since the start of this task (created and deleted files "
        "included), as a unified diff, or only a per-file summary with stat=true."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "stat": {"type": "boolean", "description": "only list changed files with line counts (default false)"},
    }, []))
    effect: ClassVar[Effect] = "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)


    def _base(self) -> Checkpoint:
        if self.checkpoint is not None:
            return self.checkpoint
        # No checkpoint yet: nothing was edited by the agent; compare with HEAD (or nothing, in a new repo).
        repo = open_repo(self.workspace.root)
        tree = repo.head.commit.tree.hexsha if repo.head.is_valid() else EMPTY_TREE
        return Checkpoint("HEAD", "", tree, 0.0)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        base = self._base()
        root = self.workspace.root
        files = changed_paths(root, base)
        if not files:
            what = "the checkpoint" if self.checkpoint is not None else "HEAD"
            return ToolResult(True, f"no changes since {what}", title="no changes", data={"files": []})
        stat_only = arg_bool(args, "stat")
        text = diff_since(root, base, stat_only=stat_only)
        shown = text
        if len(shown) > MAX_DIFF_CHARS:
            shown = shown[:MAX_DIFF_CHARS] + "\n[diff truncated; use stat=true and read_file for the rest]"
        return ToolResult(True, shown, title=f"{len(files)} files changed", data={"files": files},
                          diff=None if stat_only else text)
