"""Git checkpoints: the exact working tree before the agent's first edit, kept under a hidden ref.

A checkpoint is a commit under `refs/ornith/checkpoints/` whose tree holds every file git would show the
user (tracked and untracked, not ignored) byte for byte: blobs are hashed with `--no-filters`, so no
line-ending conversion, clean filter or attribute can change what is stored or restored. It is built
in a temporary index, so HEAD, the user's index, branches and stash are never touched, and it works in
a repo with no commits yet. `undo` makes the working tree equal to a checkpoint again, deleting files
created since and restoring deleted ones, and first checkpoints the current state so undo is undoable.
Ignored files are neither saved nor touched.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import git

from ornith_local.sandbox.hostgit import host_git_options, with_diff_flags
from ornith_local.tools.base import ToolError
from ornith_local.tools.fileio import write_atomic

REF_PREFIX = "refs/ornith/checkpoints/"
IDENTITY = {"GIT_AUTHOR_NAME": "ornith", "GIT_AUTHOR_EMAIL": "ornith@localhost",
            "GIT_COMMITTER_NAME": "ornith", "GIT_COMMITTER_EMAIL": "ornith@localhost"}


class NotAGitRepoError(ToolError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} is not a git repository; ornith needs git to checkpoint and undo its edits "
                         f"(run 'git init' there, or let ornith do it)")
        self.path = path


@dataclass(frozen=True)
class Checkpoint:
    id: str
    commit: str
    tree: str
    created_at: float
    label: str = ""

    @property
    def ref(self) -> str:
        return REF_PREFIX + self.id


@dataclass
class UndoReport:
    restored: list[str] = field(default_factory=list)  # written back (changed or deleted since)
    deleted: list[str] = field(default_factory=list)  # created since, removed
    safety: Checkpoint | None = None  # the state just before the undo, to undo the undo


def open_repo(path: Path) -> git.Repo:
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotAGitRepoError(path) from None
    if repo.bare or repo.working_tree_dir is None:
        raise NotAGitRepoError(path)
    return repo


def init_repo(path: Path) -> git.Repo:
    """`git init` for a directory the user agreed to put under git (no commit is made)."""
    return git.Repo.init(path)


def _git(repo: git.Repo, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Plumbing through gitpython with hooks, fsmonitor and filters off: ornith's git never runs repo code."""
    with tempfile.TemporaryFile() as handle:
        if stdin is not None:
            handle.write(stdin)
            handle.seek(0)
        argv = ["git", *host_git_options(_worktree(repo)), *with_diff_flags(args)]
        out = repo.git.execute(argv, istream=handle if stdin is not None else None,
                               env=env, stdout_as_string=False, strip_newline_in_stdout=False)
    assert isinstance(out, bytes)
    return out


def _worktree(repo: git.Repo) -> Path:
    assert repo.working_tree_dir is not None
    return Path(repo.working_tree_dir)


def _visible_files(repo: git.Repo) -> list[str]:
    out = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name")
    names = {raw.decode("utf-8", "surrogateescape") for raw in out.split(b"\0") if raw}
    return sorted(name for name in names if not name.endswith("/") and "\n" not in name)


def snapshot_tree(repo: git.Repo) -> str:
    """A tree object of the working tree exactly as it is on disk (the objects are written, nothing else)."""
    root = _worktree(repo)
    regular: list[tuple[str, str]] = []  # (mode, path)
    entries: list[str] = []
    for rel in _visible_files(repo):
        try:
            info = os.lstat(root / rel)
        except FileNotFoundError:
            continue  # tracked but deleted: absent from the snapshot
        if stat.S_ISLNK(info.st_mode):
            target = os.fsencode(os.readlink(root / rel))
            sha = _git(repo, "hash-object", "-w", "--stdin", stdin=target).decode().strip()
            entries.append(f"120000 {sha}\t{rel}")
        elif stat.S_ISREG(info.st_mode):
            regular.append(("100755" if info.st_mode & stat.S_IXUSR else "100644", rel))
        # Directories here are submodules or nested repos: not ours to save.
    if regular:
        listing = "\n".join(rel for _, rel in regular).encode("utf-8", "surrogateescape") + b"\n"
        shas = _git(repo, "hash-object", "-w", "--no-filters", "--stdin-paths", stdin=listing).decode().split()
        entries += [f"{mode} {sha}\t{rel}" for (mode, rel), sha in zip(regular, shas, strict=True)]
    with tempfile.TemporaryDirectory(prefix="ornith-index-") as temp:
        env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
        info_lines = "".join(entry + "\0" for entry in entries).encode("utf-8", "surrogateescape")
        _git(repo, "update-index", "-z", "--add", "--index-info", stdin=info_lines, env=env)
        return _git(repo, "write-tree", env=env).decode().strip()


def create_checkpoint(path: Path, label: str = "") -> Checkpoint:
    """Save the working tree under a new hidden ref; HEAD, the index and the stash stay as they are."""
    repo = open_repo(path)
    tree = snapshot_tree(repo)
    parents = ["-p", repo.head.commit.hexsha] if repo.head.is_valid() else []
    created = time.time()
    # The exact time rides in the message: commit dates have whole seconds, too coarse to order by.
    message = f"ornith checkpoint{': ' + label if label else ''}\n\nornith-created: {created:.6f}"
    commit = _git(repo, "commit-tree", tree, *parents, "-m", message, env=IDENTITY).decode().strip()
    checkpoint_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(created)) + f"-{commit[:8]}"
    _git(repo, "update-ref", REF_PREFIX + checkpoint_id, commit)
    return Checkpoint(checkpoint_id, commit, tree, created, label)


def list_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint of the repo, oldest first."""
    repo = open_repo(path)
    found = []
    for ref in repo.refs:
        if not ref.path.startswith(REF_PREFIX):
            continue
        commit = ref.commit
        subject, _, trailer = str(commit.message).partition("\n\nornith-created: ")
        label = subject.split(": ", 1)[1] if ": " in subject else ""
        try:
            created = float(trailer.strip())
        except ValueError:
            created = float(commit.committed_date)
        found.append(Checkpoint(ref.path[len(REF_PREFIX):], commit.hexsha, commit.tree.hexsha, created, label))
    return sorted(found, key=lambda checkpoint: (checkpoint.created_at, checkpoint.id))


def get_checkpoint(path: Path, checkpoint_id: str) -> Checkpoint:
    for checkpoint in list_checkpoints(path):
        if checkpoint.id == checkpoint_id:
            return checkpoint
    raise ToolError(f"no checkpoint '{checkpoint_id}' in {path}")


def delete_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    _git(open_repo(path), "update-ref", "-d", checkpoint.ref)


def diff_since(path: Path, checkpoint: Checkpoint, *, stat_only: bool = False) -> str:
    """The unified diff from the checkpoint to the working tree now, created and deleted files included."""
    repo = open_repo(path)
    current = snapshot_tree(repo)
    form = ["--stat"] if stat_only else ["-p", "--binary"]
    return _git(repo, "diff-tree", "-r", "--no-color", "--no-ext-diff", "--no-textconv", *form,
                checkpoint.tree, current).decode("utf-8", "replace")


def _tree_entries(repo: git.Repo, tree: str) -> dict[str, tuple[str, str]]:
    out = _git(repo, "ls-tree", "-r", "-z", "--full-tree", tree)
    entries: dict[str, tuple[str, str]] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, name = record.split(b"\t", 1)
        mode, _kind, sha = meta.decode().split()
        entries[name.decode("utf-8", "surrogateescape")] = (mode, sha)
    return entries


def changed_paths(path: Path, checkpoint: Checkpoint) -> list[str]:
    """Paths that differ between the checkpoint and the working tree now."""
    repo = open_repo(path)
    before = _tree_entries(repo, checkpoint.tree)
    after = _tree_entries(repo, snapshot_tree(repo))
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _remove_empty_parents(root: Path, start: Path) -> None:
    directory = start
    while directory != root and directory.is_relative_to(root):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _blobs(repo: git.Repo, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    for sha in shas:
        yield sha, repo.odb.stream(bytes.fromhex(sha)).read()


def undo(path: Path, checkpoint: Checkpoint) -> UndoReport:
    """Make the working tree exactly the checkpoint's again (ignored files aside)."""
    repo = open_repo(path)
    root = _worktree(repo)
    wanted = _tree_entries(repo, checkpoint.tree)
    current_tree = snapshot_tree(repo)
    current = _tree_entries(repo, current_tree)
    report = UndoReport()
    if wanted == current:
        return report
    report.safety = create_checkpoint(root, f"before undo to {checkpoint.id}")
    for rel in sorted(current.keys() - wanted.keys(), reverse=True):
        target = root / rel
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        report.deleted.append(rel)
        _remove_empty_parents(root, target.parent)
    to_write = sorted(rel for rel in wanted if current.get(rel) != wanted[rel])
    contents = dict(_blobs(repo, sorted({wanted[rel][1] for rel in to_write})))
    for rel in to_write:
        mode, sha = wanted[rel]
        target = root / rel
        now = current.get(rel)
        if os.path.islink(target) or (now is not None and now[0] != mode and "120000" in (mode, now[0])):
            target.unlink()
        if target.is_dir():
            raise ToolError(f"cannot restore {rel}: a directory is in its place now")
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            os.symlink(os.fsdecode(contents[sha]), target)
        elif now is not None and now[1] == sha and os.path.isfile(target):
            pass  # same bytes, only the executable bit differs
        else:
            write_atomic(target, contents[sha])
        if mode != "120000":
            current_mode = stat.S_IMODE(target.stat().st_mode)
            executable = current_mode | ((current_mode & 0o444) >> 2)
            target.chmod(executable if mode == "100755" else current_mode & ~0o111)
        report.restored.append(rel)
    return report
