"""The workspace a session's tools act on, and the check that keeps every file tool inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ornith_local.sandbox.paths import OutsideWorkspace, resolve_in_workspace
from ornith_local.tools.base import ToolError


@dataclass(frozen=True)
class Workspace:
    root: Path  # always the real (symlink-free) absolute path

    @classmethod
    def at(cls, root: Path | str) -> Workspace:
        return cls(Path(os.path.realpath(root)))

    def resolve(self, path: str, *, for_write: bool = False) -> Path:
        """The real path of `path` (relative to the root, or absolute), refused when it leaves the workspace.

        Symlinks are resolved first, so a link inside the workspace that points outside is refused too.
        Writes into `.git/` are refused always: the checkpoints live there.
        """
        if not path or "\x00" in path:
            raise ToolError("empty or invalid path")
        try:
            real = resolve_in_workspace(self.root, path)
        except OutsideWorkspace:
            raise ToolError(f"{path}: outside the workspace ({self.root}); refused") from None
        if for_write and ".git" in real.relative_to(self.root).parts:
            raise ToolError(f"{path}: writes inside .git/ are refused")
        return real

    def relative(self, path: Path) -> str:
        """`path` as the model should see it: relative to the root, with forward slashes."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return rel.as_posix() or "."
