"""The staged change, read without touching the index or the working tree.

Every git call here only reads: no `git status` or `git add`, `GIT_OPTIONAL_LOCKS=0` so nothing
refreshes the index on the side, and hooks / fsmonitor neutralised (`host_git_command`). Inside a
`git commit` hook git sets GIT_INDEX_FILE (a temporary index for `commit -a` or `commit PATH`); the
calls inherit it, so they see exactly what is about to be committed.

`materialise` writes the index's content into a directory of its own (`git checkout-index
--prefix`): the checks run there, so unstaged edits in the working tree are neither seen nor touched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ornith_local.sandbox import host_git_command

GIT_TIMEOUT_S = 60.0
# Untracked folders the checks need from the real checkout (the project's interpreter and tools).
# They are linked into the materialised tree and shown read-only inside the sandbox.
ENV_DIRS = (".venv", "venv", "node_modules")
GITLINK = "160000"  # a submodule entry: no file to check


class PrecommitError(Exception):
    """A problem the user can act on, worded as one line; `exit_code` follows the CLI's conventions."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def git(root: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        result = subprocess.run(host_git_command(root, *args), capture_output=True, text=True, env=env,
                                timeout=GIT_TIMEOUT_S, errors="surrogateescape")
    except FileNotFoundError:
        raise PrecommitError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise PrecommitError(f"git {args[0]} did not finish in {GIT_TIMEOUT_S:.0f} s", exit_code=1) from None
    if check and result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        raise PrecommitError(f"git {args[0]} failed: {reason}", exit_code=1)
    return result.stdout


@dataclass(frozen=True)
class Repo:
    root: Path  # the working tree's top level
    git_dir: Path  # absolute; per worktree

    @property
    def ornith_dir(self) -> Path:
        """Where ornith keeps its precommit files (the saved suggestion): inside .git, never committed."""
        return self.git_dir / "ornith"


def find_repo(path: Path) -> Repo:
    if not path.is_dir():
        raise PrecommitError(f"{path}: not a directory")
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        result = subprocess.run(host_git_command(path, "rev-parse", "--show-toplevel", "--absolute-git-dir"),
                                capture_output=True, text=True, env=env, timeout=GIT_TIMEOUT_S)
    except FileNotFoundError:
        raise PrecommitError("git is not installed (or not on PATH)") from None
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != 2:
        raise PrecommitError(f"{path}: not inside a git working tree")
    return Repo(Path(lines[0]), Path(lines[1]))


@dataclass(frozen=True)
class StagedFile:
    path: str  # repo-relative, forward slashes
    status: str  # A added, M modified, D deleted, T type changed
    mode: str  # the staged mode ("000000" when deleted)

    @property
    def deleted(self) -> bool:
        return self.status == "D"


@dataclass(frozen=True)
class Staged:
    repo: Repo
    files: tuple[StagedFile, ...]

    @property
    def present(self) -> list[str]:
        """Staged files that exist in the staged content (what {files} expands to)."""
        return [f.path for f in self.files if not f.deleted]

    @property
    def deleted(self) -> list[str]:
        return [f.path for f in self.files if f.deleted]


def read_staged(repo: Repo) -> Staged:
    """The files whose staged content differs from HEAD (all of them before the first commit)."""
    raw = git(repo.root, "diff", "--cached", "--raw", "-z", "--no-renames", "--no-ext-diff", "--no-textconv")
    parts = raw.split("\0")
    files: list[StagedFile] = []
    # --raw -z: ":old_mode new_mode old_sha new_sha STATUS" NUL path NUL, repeated.
    for header, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = header.lstrip(":").split()
        if len(fields) < 5 or not path:
            continue
        new_mode, status = fields[1], fields[4][0]
        if GITLINK in (fields[0], new_mode):
            continue
        files.append(StagedFile(path, status, new_mode))
    return Staged(repo, tuple(files))


def staged_diff(repo: Repo) -> str:
    """The staged change as a unified diff, for the model's prompt."""
    return git(repo.root, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames")


def index_fingerprint(repo: Repo) -> str:
    """Identifies the staged content exactly (every entry's mode, blob and path) without writing anything."""
    listing = git(repo.root, "ls-files", "--stage", "-z")
    return hashlib.sha256(listing.encode("utf-8", "surrogateescape")).hexdigest()


def materialise(repo: Repo, dest: Path) -> list[Path]:
    """Write the staged content of every indexed file under `dest`; link the project's environment dirs.

    Returns the real paths of the linked environment dirs: the sandbox must show them read-only.
    """
    git(repo.root, "checkout-index", "--all", f"--prefix={dest}{os.sep}")
    linked: list[Path] = []
    for name in ENV_DIRS:
        source = repo.root / name
        target = dest / name
        if source.is_dir() and not os.path.lexists(target):  # a tracked folder of that name wins
            target.symlink_to(source, target_is_directory=True)
            linked.append(source.resolve())
    return linked
