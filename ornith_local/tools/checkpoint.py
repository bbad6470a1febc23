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

import hashlib
import io
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import git
from git.db import IStream  # type: ignore[attr-defined]  # gitpython re-exports gitdb's, untyped

from ornith_local.sandbox.hostgit import host_git_options, with_diff_flags
from ornith_local.sandbox.workspace_fs import OpenDirectories, UnsafePath, WorkspaceFS
from ornith_local.tools.base import ToolError

REF_PREFIX = "refs/ornith/checkpoints/"
SKIPPED_TRAILER = "ornith-skipped: "
# Untracked files bigger than this are data or build output; copying one into .git at every checkpoint cost
# 30 s for a 2 GiB file. Tracked files are always saved: they are the user's work.
SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024
HASH_FIRST_BYTES = 1024 * 1024
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
    skipped: tuple[str, ...] = ()  # huge untracked files left out: undo leaves them alone

    @property
    def ref(self) -> str:
        return REF_PREFIX + self.id


@dataclass
class UndoReport:
    restored: list[str] = field(default_factory=list)  # written back (changed or deleted since)
    deleted: list[str] = field(default_factory=list)  # created since, removed
    safety: Checkpoint | None = None  # the state just before the undo, to undo the undo
    refused: list[str] = field(default_factory=list)  # "path: why" for paths a link or special file now blocks


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


def _visible_files(repo: git.Repo) -> list[tuple[str, bool]]:
    """(path, tracked) of every file git would show the user: tracked, and untracked but not ignored."""
    out = _git(repo, "ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard", "--full-name")
    files: dict[str, bool] = {}
    for raw in out.split(b"\0"):
        if len(raw) < 3:
            continue
        name = raw[2:].decode("utf-8", "surrogateescape")
        if not name.endswith("/") and "\n" not in name:
            files[name] = files.get(name, False) or raw[:1] != b"?"
    return sorted(files.items())


@dataclass(frozen=True)
class Snapshot:
    tree: str
    skipped: tuple[str, ...]  # untracked files over SNAPSHOT_MAX_BYTES: neither saved nor touched


# (repo, path, dev, inode, size, mtime, ctime) -> blob: a file whose inode change time is unchanged has not been
# written since (no process can set ctime back), so a run's repeated snapshots hash only what changed.
_BLOB_CACHE: dict[tuple[str, str, int, int, int, int, int], str] = {}


def _store_blob(repo: git.Repo, fd: int, size: int) -> str:
    """Write the bytes behind `fd` as a blob (no filters: exactly what is on disk); its sha."""
    if size <= HASH_FIRST_BYTES:
        # Hash first: a blob git already has (packed or loose) is not compressed and written again.
        data = os.read(fd, size + 1)
        while len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
            data += more
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        try:
            repo.odb.info(bytes.fromhex(sha))
            return sha
        except ValueError:
            return str(repo.odb.store(IStream(b"blob", len(data), io.BytesIO(data))).hexsha.decode())
    with os.fdopen(os.dup(fd), "rb") as stream:
        return str(repo.odb.store(IStream(b"blob", size, stream)).hexsha.decode())


def snapshot(repo: git.Repo) -> Snapshot:
    """The working tree exactly as it is on disk, as a tree object (the objects are written, nothing else).

    Every file is opened beneath the work tree with no link followed on the way (`OpenDirectories`): a tracked
    path under a directory that a command replaced with a symlink reads as absent, never as the outside file.
    """
    root = _worktree(repo)
    entries: list[str] = []
    skipped: list[str] = []
    with OpenDirectories(root) as tree:
        for rel, tracked in _visible_files(repo):
            info = tree.lstat(rel)
            if info is None:
                continue  # deleted, or behind a symlinked directory: absent from the snapshot
            if stat.S_ISLNK(info.st_mode):
                target = os.fsencode(tree.readlink(rel))
                sha = _git(repo, "hash-object", "-w", "--stdin", stdin=target).decode().strip()
                entries.append(f"120000 {sha}\t{rel}")
                continue
            if not stat.S_ISREG(info.st_mode):
                continue  # directories here are submodules or nested repos: not ours to save; FIFOs hold nothing
            if not tracked and info.st_size > SNAPSHOT_MAX_BYTES:
                skipped.append(rel)  # a 2 GiB data dump is not copied into .git on every checkpoint
                continue
            try:
                fd = tree.open_regular(rel)
            except OSError:  # UnsafePath too: swapped for a link or a FIFO since the lstat, never followed
                continue
            try:
                now = os.fstat(fd)
                key = (str(root), rel, now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns)
                sha = _BLOB_CACHE.get(key) or _store_blob(repo, fd, now.st_size)
            finally:
                os.close(fd)
            _BLOB_CACHE[key] = sha
            entries.append(f"{'100755' if now.st_mode & stat.S_IXUSR else '100644'} {sha}\t{rel}")
    with tempfile.TemporaryDirectory(prefix="ornith-index-") as temp:
        env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
        info_lines = "".join(entry + "\0" for entry in entries).encode("utf-8", "surrogateescape")
        _git(repo, "update-index", "-z", "--add", "--index-info", stdin=info_lines, env=env)
        return Snapshot(_git(repo, "write-tree", env=env).decode().strip(), tuple(skipped))


def snapshot_tree(repo: git.Repo) -> str:
    return snapshot(repo).tree


def create_checkpoint(path: Path, label: str = "") -> Checkpoint:
    """Save the working tree under a new hidden ref; HEAD, the index and the stash stay as they are."""
    repo = open_repo(path)
    taken = snapshot(repo)
    parents = ["-p", repo.head.commit.hexsha] if repo.head.is_valid() else []
    created = time.time()
    # The exact time rides in the message: commit dates have whole seconds, too coarse to order by.
    message = f"ornith checkpoint{': ' + label if label else ''}\n\nornith-created: {created:.6f}"
    message += "".join(f"\n{SKIPPED_TRAILER}{rel}" for rel in taken.skipped)
    commit = _git(repo, "commit-tree", taken.tree, *parents, "-m", message, env=IDENTITY).decode().strip()
    checkpoint_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(created)) + f"-{commit[:8]}"
    _git(repo, "update-ref", REF_PREFIX + checkpoint_id, commit)
    return Checkpoint(checkpoint_id, commit, taken.tree, created, label, taken.skipped)


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
        stamp, *rest = trailer.split("\n")
        try:
            created = float(stamp.strip())
        except ValueError:
            created = float(commit.committed_date)
        skipped = tuple(line[len(SKIPPED_TRAILER):] for line in rest if line.startswith(SKIPPED_TRAILER))
        found.append(Checkpoint(ref.path[len(REF_PREFIX):], commit.hexsha, commit.tree.hexsha, created, label,
                                skipped))
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


def checkpoint_paths(path: Path, checkpoint: Checkpoint) -> frozenset[str]:
    """Every file the checkpoint holds (repo-relative, '/'-separated)."""
    return frozenset(_tree_entries(open_repo(path), checkpoint.tree))


def changed_paths(path: Path, checkpoint: Checkpoint) -> list[str]:
    """Paths that differ between the checkpoint and the working tree now."""
    repo = open_repo(path)
    before = _tree_entries(repo, checkpoint.tree)
    after = _tree_entries(repo, snapshot_tree(repo))
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _remove_empty_parents(fs: WorkspaceFS, rel: str) -> None:
    parent = PurePosixPath(rel).parent
    while parent != PurePosixPath(".") and fs.rmdir_empty(parent):
        parent = parent.parent


def _blobs(repo: git.Repo, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    for sha in shas:
        yield sha, repo.odb.stream(bytes.fromhex(sha)).read()


def undo(path: Path, checkpoint: Checkpoint) -> UndoReport:
    """Make the working tree exactly the checkpoint's again (ignored and skipped huge files aside).

    Every removal and write goes through `WorkspaceFS`: a path whose directory is now a symlink (a git-ignored
    `keys/` pointed at `~/.ssh` by a command) is refused and reported, never restored through the link.
    """
    repo = open_repo(path)
    root = _worktree(repo)
    fs = WorkspaceFS(root)
    wanted = _tree_entries(repo, checkpoint.tree)
    current = _tree_entries(repo, snapshot_tree(repo))
    report = UndoReport()
    if wanted == current:
        return report
    report.safety = create_checkpoint(root, f"before undo to {checkpoint.id}")
    for rel in sorted(current.keys() - wanted.keys() - set(checkpoint.skipped), reverse=True):
        try:
            fs.unlink(rel)
        except OSError as error:  # UnsafePath included
            report.refused.append(f"{rel}: {error.strerror or error}")
            continue
        report.deleted.append(rel)
        _remove_empty_parents(fs, rel)
    to_write = sorted(rel for rel in wanted if current.get(rel) != wanted[rel])
    contents = dict(_blobs(repo, sorted({wanted[rel][1] for rel in to_write})))
    for rel in to_write:
        mode, sha = wanted[rel]
        try:
            _restore(fs, rel, mode, contents[sha], same_bytes=current.get(rel, ("", ""))[1] == sha)
        except UnsafePath as error:
            report.refused.append(f"{rel}: {error}")
            continue
        report.restored.append(rel)
    return report


def _restore(fs: WorkspaceFS, rel: str, mode: str, data: bytes, *, same_bytes: bool) -> None:
    info = fs.lstat(rel)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ToolError(f"cannot restore {rel}: a directory is in its place now")
    if info is not None and (stat.S_ISLNK(info.st_mode) or mode == "120000"):
        fs.unlink(rel)  # a link is replaced, never written through
        info = None
    if mode == "120000":
        fs.symlink(rel, os.fsdecode(data))
        return
    bits = stat.S_IMODE(info.st_mode) if info is not None and stat.S_ISREG(info.st_mode) else _default_mode()
    bits = bits | ((bits & 0o444) >> 2) if mode == "100755" else bits & ~0o111
    if same_bytes and info is not None and stat.S_ISREG(info.st_mode):
        fs.chmod(rel, bits)  # same bytes, only the executable bit differs
    else:
        fs.write_atomic(rel, data, mode=bits)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
