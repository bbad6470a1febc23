"""Git checkpoints on real repos: dirty trees, untracked, binary, CRLF, exec bits, symlinks, no commits."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ornith_local.tools.base import call_tool
from ornith_local.tools.checkpoint import (
    NotAGitRepoError,
    changed_paths,
    create_checkpoint,
    diff_since,
    get_checkpoint,
    init_repo,
    list_checkpoints,
    undo,
)
from ornith_local.tools.gittools import GitDiff
from ornith_local.tools.workspace import Workspace
from tests.conftest import git


def tree_state(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Everything outside .git: kind, content (or link target) and mode of each path."""
    state: dict[str, tuple[str, bytes, int]] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            path = Path(directory) / name
            rel = path.relative_to(root).as_posix()
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                state[rel] = ("link", os.readlink(path).encode(), 0)
            else:
                state[rel] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
    return state


def git_meta(root: Path) -> tuple[str, bytes, str, str]:
    head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True,
                          text=True).stdout
    index = (root / ".git" / "index").read_bytes() if (root / ".git" / "index").exists() else b""
    return head, index, git(root, "stash", "list"), git(root, "status", "--porcelain")


@pytest.fixture
def messy_repo(tmp_path: Path) -> Path:
    """A repo with a commit, staged and unstaged changes, untracked files, a stash and awkward files."""
    root = tmp_path / "messy"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("*.log\n")
    (root / "app.py").write_text("print('v1')\n")
    (root / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    (root / "image.bin").write_bytes(bytes(range(256)))
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    os.symlink("app.py", root / "link.py")
    (root / ".gitattributes").write_text("*.txt text eol=lf\n")  # would rewrite CRLF if filters applied
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    (root / "app.py").write_text("print('stashed')\n")
    git(root, "stash", "-q")
    (root / "app.py").write_text("print('v2 staged')\n")
    git(root, "add", "app.py")
    (root / "app.py").write_text("print('v3 unstaged')\n")
    (root / "untracked.py").write_text("x = 1\n")
    (root / "notes").mkdir()
    (root / "notes" / "todo.md").write_text("- a\n")
    (root / "debug.log").write_text("ignored\n")
    return root


def agent_makes_a_mess(root: Path) -> None:
    (root / "app.py").write_text("print('agent')\n")
    (root / "crlf.txt").write_bytes(b"one\ntwo\nthree\n")
    (root / "image.bin").write_bytes(b"\x00changed")
    (root / "run.sh").chmod(0o644)
    (root / "untracked.py").unlink()
    (root / "notes" / "todo.md").unlink()
    (root / "notes").rmdir()
    (root / "link.py").unlink()
    (root / "link.py").write_text("now a file\n")
    (root / "new" / "deep").mkdir(parents=True)
    (root / "new" / "deep" / "module.py").write_text("created = True\n")
    (root / "debug.log").write_text("agent wrote to an ignored file\n")


def test_undo_restores_exactly_and_leaves_head_index_stash_alone(messy_repo: Path) -> None:
    before_files = tree_state(messy_repo)
    before_meta = git_meta(messy_repo)
    checkpoint = create_checkpoint(messy_repo, "before task")
    assert git_meta(messy_repo) == before_meta
    assert checkpoint.ref.startswith("refs/ornith/checkpoints/")
    assert git(messy_repo, "branch", "--list").strip() == "* main"

    agent_makes_a_mess(messy_repo)
    changed = changed_paths(messy_repo, checkpoint)
    assert changed == ["app.py", "crlf.txt", "image.bin", "link.py", "new/deep/module.py", "notes/todo.md",
                       "run.sh", "untracked.py"]
    diff = diff_since(messy_repo, checkpoint)
    assert "+print('agent')" in diff and "new file mode 100644" in diff and "GIT binary patch" in diff
    assert "old mode 100755" in diff

    report = undo(messy_repo, checkpoint)
    after = tree_state(messy_repo)
    before_files["debug.log"] = after["debug.log"]  # ignored files are outside checkpoints, by design
    assert after == before_files
    assert sorted(report.deleted) == ["new/deep/module.py"]
    assert not (messy_repo / "new").exists()
    assert git_meta(messy_repo) == before_meta
    assert changed_paths(messy_repo, checkpoint) == []

    # The state just before the undo was saved too, so the undo itself can be undone.
    assert report.safety is not None
    undo(messy_repo, report.safety)
    assert (messy_repo / "new" / "deep" / "module.py").read_text() == "created = True\n"


def test_checkpoints_work_in_a_repo_with_no_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    init_repo(root)
    (root / "a.txt").write_text("a\n")
    checkpoint = create_checkpoint(root)
    (root / "a.txt").write_text("changed\n")
    (root / "b.txt").write_text("b\n")
    report = undo(root, checkpoint)
    assert tree_state(root) == {"a.txt": ("file", b"a\n", stat.S_IMODE((root / "a.txt").stat().st_mode))}
    assert subprocess.run(["git", "rev-parse", "--verify", "HEAD"], cwd=root, capture_output=True).returncode != 0
    assert report.safety is not None
    assert [c.id for c in list_checkpoints(root)] == [checkpoint.id, report.safety.id]
    assert get_checkpoint(root, checkpoint.id).tree == checkpoint.tree


def test_not_a_git_repo_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotAGitRepoError, match=r"is not a git repository.*git init"):
        create_checkpoint(tmp_path)


def test_git_diff_tool_shows_changes_since_the_checkpoint(example_repo: Path) -> None:
    ws = Workspace.at(example_repo)
    tool = GitDiff(ws)
    tool.checkpoint = create_checkpoint(example_repo)
    assert call_tool(tool, {}).text == "no changes since the checkpoint"
    (example_repo / "invoicing" / "money.py").write_text("# rewritten\n")
    result = call_tool(tool, {})
    assert result.ok and "+# rewritten" in result.text and result.data["files"] == ["invoicing/money.py"]
    assert "money.py" in call_tool(tool, {"stat": True}).text
