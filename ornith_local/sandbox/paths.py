"""Host-side guards for our own tools: workspace-only paths, and git that runs nothing it finds."""

from __future__ import annotations

from pathlib import Path


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


# Neutralise what a model-written repo config could make the agent's own git run: hooks and
# fsmonitor (the two), plus the pager, which a planted core.pager would otherwise start.
HOST_GIT_OPTIONS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=", "-c", "core.pager=cat")


def host_git_command(repo: Path, *args: str) -> list[str]:
    """argv for git commands the agent runs on the host (outside the sandbox) in `repo`."""
    return ["git", *HOST_GIT_OPTIONS, "-C", str(repo), *args]
