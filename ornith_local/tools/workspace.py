"""The workspace a session's tools act on, and the check that keeps every file tool inside it."""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ornith_local.sandbox.paths import OutsideWorkspace, resolve_in_workspace
from ornith_local.sandbox.workspace_fs import UnsafePath, WorkspaceFS
from ornith_local.tools.base import ToolError


class ReadLog:
    """The files one run has seen: read with read_file, matched by edit_file, or written by the run itself.

    write_file replaces an existing file only when it is here, so the model cannot overwrite a file it never
    looked at. Paths are as `Workspace.relative` gives them for the real (symlink-resolved) path.
    """

    def __init__(self) -> None:
        self._paths: set[str] = set()

    def note(self, rel: str) -> None:
        self._paths.add(rel)

    def __contains__(self, rel: object) -> bool:
        return rel in self._paths


@dataclass(frozen=True)
class Workspace:
    root: Path  # always the real (symlink-free) absolute path
    # Glob patterns of paths the model may not see at all (held-back tests): listings and searches leave them out.
    hidden: tuple[str, ...] = ()
    # What this run's tools have seen (one Workspace per run, shared by every tool of the run).
    seen: ReadLog = field(default_factory=ReadLog, compare=False, repr=False)

    @classmethod
    def at(cls, root: Path | str, hidden: tuple[str, ...] = ()) -> Workspace:
        return cls(Path(os.path.realpath(root)), tuple(hidden))

    @property
    def fs(self) -> WorkspaceFS:
        """File access beneath the root that refuses links and special files on every component."""
        return WorkspaceFS(self.root)

    def resolve(self, path: str, *, for_write: bool = False) -> Path:
        """The real path of `path` (relative to the root, or absolute), refused when it leaves the workspace.

        Symlinks are resolved first, so a link inside the workspace that points outside is refused too.
        Writes into `.git/` are refused always: the checkpoints live there. The bytes are then read and
        written through `fs`, so a link planted after this check is refused rather than followed.
        """
        if not path or "\x00" in path:
            raise ToolError("empty or invalid path")
        try:
            real = resolve_in_workspace(self.root, path)
        except OutsideWorkspace:
            raise ToolError(f"{path}: outside the workspace ({self.root}); refused") from None
        except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
            raise ToolError(f"{path}: a symlink loop; refused") from None
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

    def is_hidden(self, rel: str) -> bool:
        """Whether `rel` (relative to the root) matches a held-back pattern, itself or as a directory."""
        posix = str(PurePosixPath(rel))
        return any(fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(posix + "/", pattern)
                   for pattern in self.hidden)


@contextlib.contextmanager
def refusals_as_tool_errors() -> Iterator[None]:
    """A link, FIFO, device or oversized file met by a tool becomes the tool's one-line error."""
    try:
        yield
    except UnsafePath as error:
        raise ToolError(str(error)) from None
