"""Host-side guards for our own tools: workspace-only paths, and git that runs nothing it finds."""

from __future__ import annotations

from pathlib import Path

from ornith_local.sandbox.hostgit import HOST_GIT_OPTIONS, host_git_command

__all__ = ["HOST_GIT_OPTIONS", "OutsideWorkspace", "host_git_command", "resolve_in_workspace"]


class OutsideWorkspace(ValueError):
    """A path that resolves (symlinks included) to somewhere outside the workspace."""


def resolve_in_workspace(workspace: Path, path: str | Path) -> Path:
    """The real path of `path` (relative to the workspace or absolute), refused outside the workspace.

    Every symlink on the way is followed, so `link/../x` and a link pointing out are both caught;
    a path that does not exist yet is resolved as far as it exists.
    """
    root = workspace.resolve(strict=True)
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    real = candidate.resolve(strict=False)
    if real != root and root not in real.parents:
        raise OutsideWorkspace(f"{path} is outside the workspace {root}")
    return real
