"""Checkpoint, undo, git_diff and JUnit reading against links a sandboxed command planted; a real rename race.

Each attack runs for real against a fake secret outside the repo, beside a control doing the same with plain
path-based file code (what ornith did before), proving the attack works where the guard is absent.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ornith_local.sandbox.workspace_fs import SymlinkRefused, WorkspaceFS
from ornith_local.tools.base import call_tool
from ornith_local.tools.checkpoint import create_checkpoint, list_checkpoints, undo
from ornith_local.tools.gittools import GitDiff
from ornith_local.tools.testing import run_tests
from ornith_local.tools.workspace import Workspace
from tests.conftest import git

ATTACKER_KEY = "ssh-ed25519 AAAAC3-attacker-key attacker@evil"
USER_KEYS = "ssh-ed25519 AAAAC3-users-own-key user@laptop\n"
SECRET = "FAKE-SECRET-ornith-test"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "authorized_keys").write_text(USER_KEYS)
    (ssh / "notes.txt").write_text(SECRET + "\n")
    (ssh / "token").write_text(SECRET + "\n")
    (ssh / "token").chmod(0o600)
    return tmp_path / "home"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("print('v1')\n")
    (root / ".gitignore").write_text("deploy\n")
    (root / "deploy").mkdir()
    (root / "deploy" / "authorized_keys").write_text(ATTACKER_KEY + "\n")  # a hostile repo ships it, force-added
    (root / "docs").mkdir()
    (root / "docs" / "notes.txt").write_text("public notes\n")
    git(root, "add", "-A")
    git(root, "add", "-f", "deploy/authorized_keys")
    git(root, "commit", "-q", "-m", "initial")
    return root


def point_at_home(repo: Path, name: str, home: Path) -> None:
    """The sandboxed command's move: replace a (git-ignored) directory with a link to ~/.ssh."""
    shutil.rmtree(repo / name)
    os.symlink(home / ".ssh", repo / name)


def test_undo_never_restores_through_a_symlinked_ignored_directory(repo: Path, home: Path) -> None:
    checkpoint = create_checkpoint(repo, "before the run")
    (repo / "app.py").write_text("print('agent')\n")
    point_at_home(repo, "deploy", home)
    # Control: restoring the checkpoint's file by its path writes the attacker's key into ~/.ssh.
    control_home = home.parent / "control-home"
    shutil.copytree(home, control_home, symlinks=True)
    (repo / "deploy").unlink()
    os.symlink(control_home / ".ssh", repo / "deploy")
    (repo / "deploy" / "authorized_keys").write_text(ATTACKER_KEY + "\n")
    assert ATTACKER_KEY in (control_home / ".ssh" / "authorized_keys").read_text()
    (repo / "deploy").unlink()
    os.symlink(home / ".ssh", repo / "deploy")

    report = undo(repo, checkpoint)
    assert (home / ".ssh" / "authorized_keys").read_text() == USER_KEYS
    assert (repo / "app.py").read_text() == "print('v1')\n"
    assert "app.py" in report.restored
    assert [line.split(":")[0] for line in report.refused] == ["deploy/authorized_keys"]
    assert "symlink" in report.refused[0]


def test_git_diff_does_not_show_content_behind_a_symlinked_directory(repo: Path, home: Path) -> None:
    ws = Workspace.at(repo)
    checkpoint = create_checkpoint(repo)
    point_at_home(repo, "docs", home)
    # Control: hashing the tracked path as git's own `hash-object --stdin-paths` did reads the outside file.
    naive = subprocess.run(["git", "hash-object", "-w", "--no-filters", "--stdin-paths"], cwd=repo,
                           input=b"docs/notes.txt\n", capture_output=True, check=True).stdout.decode().strip()
    assert git(repo, "cat-file", "-p", naive) == SECRET + "\n"
    result = call_tool(GitDiff(ws, checkpoint), {})
    assert result.ok and SECRET not in result.text
    assert "docs" in result.data["files"] or "docs/notes.txt" in result.data["files"]


def test_run_tests_does_not_read_a_junit_report_linked_to_a_private_file(repo: Path, home: Path) -> None:
    """A real pytest run in the sandbox whose conftest swaps the report for a link to a 0600 file."""
    (repo / "test_app.py").write_text("def test_ok():\n    assert True\n")
    (repo / "conftest.py").write_text(textwrap.dedent(f"""\
        import os


        def pytest_unconfigure(config):
            path = config.option.xmlpath
            if path and os.path.exists(path):
                # Control evidence: the report really was written, then replaced by the link.
                open({str(repo / 'control-was-written')!r}, 'w').close()
                os.unlink(path)
                os.symlink({str(home / '.ssh' / 'token')!r}, path)
        """))
    report = run_tests(repo)
    assert (repo / "control-was-written").exists()
    assert report.error is not None and "symlink" in report.error
    assert all(SECRET not in case.message + case.details for case in report.cases)
    assert not any(name.startswith(".ornith-junit-") for name in os.listdir(repo))
    # Control: a plain read of a link in the report's place returns the private file.
    os.symlink(home / ".ssh" / "token", repo / "report.xml")
    assert (repo / "report.xml").read_text() == SECRET + "\n"


def test_a_report_that_is_not_xml_is_a_clear_problem(repo: Path) -> None:
    (repo / "test_app.py").write_text("def test_ok():\n    assert True\n")
    (repo / "conftest.py").write_text(textwrap.dedent("""\
        def pytest_unconfigure(config):
            if config.option.xmlpath:
                with open(config.option.xmlpath, "w") as handle:
                    handle.write("this is not <xml")
        """))
    report = run_tests(repo)
    assert report.error is not None and "not valid XML" in report.error


RENAME_EXCHANGE = 2


def _renameat2() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    return getattr(libc, "renameat2", None)


SWAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
print("ready", flush=True)
while not os.path.exists(sys.argv[3]):
    for _ in range(1000):
        libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE: the directory and the link trade places
"""


def race(root: Path, outside: Path, write: Callable[[], None], attempts: int) -> int:
    """Run `write` `attempts` times while another process exchanges root/dir with a link to `outside`."""
    (root / "dir").mkdir(exist_ok=True)
    if not os.path.lexists(root / "swap"):
        os.symlink(outside, root / "swap")
    stop = root.parent / "stop-swapping"
    stop.unlink(missing_ok=True)
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(root / "dir"), str(root / "swap"), str(stop)],
                               stdout=subprocess.PIPE)
    assert swapper.stdout is not None and swapper.stdout.readline().strip() == b"ready"
    refused = 0
    try:
        for _ in range(attempts):
            try:
                write()
            except (SymlinkRefused, FileNotFoundError, NotADirectoryError, OSError):
                refused += 1
            if (outside / "file.txt").exists():
                break
    finally:
        stop.touch()
        swapper.wait(timeout=60)
    return refused


@pytest.mark.skipif(_renameat2() is None, reason="renameat2 (Linux >= 3.15, glibc >= 2.28) is not available")
def test_a_rename_exchange_race_cannot_redirect_a_write(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()

    def naive_checked_write() -> None:
        # What the tools did: resolve and check the path, then write by path.
        real = (root / "dir" / "file.txt").resolve()
        if root.resolve() not in real.parents:
            raise OSError("outside")
        real.parent.joinpath("file.txt").write_text("PWNED")  # by then `dir` may be the link

    race(root, outside, naive_checked_write, attempts=200_000)
    assert (outside / "file.txt").exists(), "control: the race never landed a write outside"
    (outside / "file.txt").unlink()

    fs = WorkspaceFS(root)
    refused = race(root, outside, lambda: fs.write_atomic("dir/file.txt", b"safe"), attempts=5_000)
    assert not (outside / "file.txt").exists()
    assert refused < 5_000  # some writes went through, into the real directory, wherever its name was
    assert any((root / name / "file.txt").exists() for name in ("dir", "swap") if (root / name).is_dir()
               and not (root / name).is_symlink())


def test_huge_untracked_files_are_left_out_of_checkpoints_and_left_alone_by_undo(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ornith_local.tools.checkpoint.SNAPSHOT_MAX_BYTES", 1000)
    (repo / "dump.bin").write_bytes(b"\x00" * 5000)  # untracked, not ignored: a data dump in the tree
    (repo / "big_tracked.txt").write_text("x" * 5000)
    git(repo, "add", "big_tracked.txt")
    checkpoint = create_checkpoint(repo)
    assert checkpoint.skipped == ("dump.bin",)
    assert list_checkpoints(repo)[-1].skipped == ("dump.bin",)  # read back from the commit
    assert "big_tracked.txt" in git(repo, "ls-tree", "-r", "--name-only", checkpoint.tree)
    (repo / "dump.bin").write_bytes(b"small now")  # under the cap: the current snapshot has it
    (repo / "big_tracked.txt").write_text("changed")
    report = undo(repo, checkpoint)
    assert (repo / "big_tracked.txt").read_text() == "x" * 5000  # tracked files are always restored
    assert (repo / "dump.bin").read_bytes() == b"small now"  # neither deleted nor restored
    assert "dump.bin" not in report.deleted


def test_a_tree_with_more_directories_than_held_handles_round_trips(repo: Path) -> None:
    for index in range(150):  # more than OpenDirectories keeps open at once
        (repo / f"d{index:03}" / "deep").mkdir(parents=True)
        (repo / f"d{index:03}" / "deep" / "f.txt").write_text(f"{index}\n")
    checkpoint = create_checkpoint(repo)
    for index in range(150):
        (repo / f"d{index:03}" / "deep" / "f.txt").write_text("changed\n")
    report = undo(repo, checkpoint)
    assert len(report.restored) == 150 and not report.refused
    assert all((repo / f"d{i:03}" / "deep" / "f.txt").read_text() == f"{i}\n" for i in range(150))
