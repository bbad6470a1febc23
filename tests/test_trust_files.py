"""Host-side file tools against links, FIFOs and huge files a sandboxed command planted in the workspace.

Every attack runs for real against a fake secret outside the workspace, and beside it a control performs the
same attack with a naive `open()` / `Path.read_text()`, proving the attack works where the guard is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ornith_local.sandbox.workspace_fs import (
    NotRegularFile,
    SymlinkRefused,
    WorkspaceFS,
    openat2_available,
)
from ornith_local.tools.base import Tool, call_tool
from ornith_local.tools.edit import EditFile
from ornith_local.tools.files import ListDir, ReadFile, WriteFile
from ornith_local.tools.listing import list_files
from ornith_local.tools.repomap import RepoMapTool
from ornith_local.tools.search import Search
from ornith_local.tools.workspace import Workspace
from tests.conftest import git

SECRET = "-----BEGIN FAKE PRIVATE KEY----- ornith-test-secret"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fake user home with a private key only its owner can read."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    key = ssh / "id_rsa"
    key.write_text(SECRET + "\n")
    key.chmod(0o600)
    return tmp_path / "home"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("print('hello')\n")
    return Workspace.at(root)


def plant_links(ws: Workspace, home: Path) -> None:
    """What a command in the sandbox can do: a file link and a directory link pointing outside."""
    os.symlink(home / ".ssh" / "id_rsa", ws.root / "notes.txt")
    os.symlink(home / ".ssh", ws.root / "vendor")


@pytest.fixture(params=["openat2", "walk"])
def both_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with openat2 and again with the O_NOFOLLOW walk (what macOS and older kernels use)."""
    if request.param == "openat2" and not openat2_available():
        pytest.skip("this kernel has no openat2 (Linux < 5.6 or a seccomp filter refuses it)")
    if request.param == "walk":
        monkeypatch.setattr("ornith_local.sandbox.beneath._openat2_state", [False])
    return str(request.param)


def test_search_fallback_does_not_read_through_planted_links(ws: Workspace, home: Path, both_paths: str) -> None:
    plant_links(ws, home)
    # Control: the fallback as it was (list the files, read each by path) hands over the key.
    leaked = [rel for rel in list_files(ws.root)
              if (ws.root / rel).is_file() and SECRET in (ws.root / rel).read_text(errors="replace")]
    assert leaked == ["notes.txt"]
    result = call_tool(Search(ws, use_ripgrep=False), {"pattern": "FAKE PRIVATE KEY"})
    assert result.ok and SECRET not in result.text and result.data["matches"] == []
    assert call_tool(Search(ws, use_ripgrep=False), {"pattern": "hello"}).data["matches"][0]["path"] == "app.py"


def test_read_and_write_through_a_file_link_are_refused(ws: Workspace, home: Path, both_paths: str) -> None:
    plant_links(ws, home)
    # Control: a plain open follows the link both ways.
    assert SECRET in (ws.root / "notes.txt").read_text()
    fs = WorkspaceFS(ws.root)
    with pytest.raises(SymlinkRefused):
        fs.read_bytes("notes.txt")
    with pytest.raises(SymlinkRefused):
        fs.write_atomic("notes.txt", b"overwritten")
    with pytest.raises(SymlinkRefused):
        fs.read_bytes("vendor/id_rsa")
    with pytest.raises(SymlinkRefused):
        fs.write_atomic("vendor/authorized_keys", b"ssh-ed25519 ATTACKER")
    assert (home / ".ssh" / "id_rsa").read_text() == SECRET + "\n"
    assert not (home / ".ssh" / "authorized_keys").exists()


def test_a_link_swapped_in_after_the_workspace_check_is_refused(ws: Workspace, home: Path, both_paths: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools resolve a path, then read it: a link planted in between must not be followed."""
    (ws.root / "config").mkdir()
    (ws.root / "config" / "settings.ini").write_text("debug = true\n")
    real_resolve = Workspace.resolve

    def resolve_then_swap(self: Workspace, path: str, *, for_write: bool = False) -> Path:
        resolved = real_resolve(self, path, for_write=for_write)
        (ws.root / "config" / "settings.ini").unlink()
        (ws.root / "config").rmdir()
        os.symlink(home / ".ssh", ws.root / "config")  # the racing command's move
        os.symlink(home / ".ssh" / "id_rsa", home / ".ssh" / "settings.ini")
        return resolved

    monkeypatch.setattr(Workspace, "resolve", resolve_then_swap)
    result = call_tool(ReadFile(ws), {"path": "config/settings.ini"})
    assert not result.ok and "symlink" in result.text and SECRET not in result.text
    # Control: the path the check approved now leads to the key for a plain reader.
    assert SECRET in (ws.root / "config" / "settings.ini").read_text()


def test_tools_refuse_a_fifo_instead_of_hanging(ws: Workspace) -> None:
    fifo = ws.root / "pipe.txt"
    os.mkfifo(fifo)
    # Control: a plain read of the FIFO blocks until a writer shows up (released below).
    blocked = threading.Thread(target=fifo.read_bytes, daemon=True)
    blocked.start()
    blocked.join(timeout=1.0)
    assert blocked.is_alive()
    with open(fifo, "wb"):
        pass
    blocked.join()

    outcomes: dict[str, str] = {}

    def use_the_tools() -> None:
        calls: list[tuple[Tool, dict[str, str]]] = [
            (ReadFile(ws), {"path": "pipe.txt"}), (WriteFile(ws), {"path": "pipe.txt", "content": "x"}),
            (EditFile(ws), {"path": "pipe.txt", "old_string": "a", "new_string": "b"})]
        for tool, args in calls:
            result = call_tool(tool, args)
            outcomes[tool.name] = ("ok " if result.ok else "refused ") + result.text

    worker = threading.Thread(target=use_the_tools, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "a tool blocked on the FIFO"
    assert all(text.startswith("refused") and "FIFO" in text for text in outcomes.values()), outcomes
    assert os.path.exists(fifo)


def test_a_sparse_2gib_file_gets_a_clear_message_not_memory_error(ws: Workspace) -> None:
    sparse = ws.root / "dump.sql"
    with open(sparse, "wb") as handle:
        handle.truncate(2 * 1024 ** 3)
    # Control: a plain whole-file read in a process with 1 GiB of address space dies of MemoryError.
    naive = subprocess.run(
        [sys.executable, "-c", "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
         "open(sys.argv[1], 'rb').read()", str(sparse)], capture_output=True, text=True)
    assert naive.returncode != 0 and "MemoryError" in naive.stderr
    result = call_tool(ReadFile(ws), {"path": "dump.sql"})
    assert not result.ok and "2.0 GiB" in result.text and "search" in result.text
    assert not call_tool(WriteFile(ws), {"path": "dump.sql", "content": "x"}).ok
    assert sparse.stat().st_size == 2 * 1024 ** 3  # not replaced
    found = call_tool(Search(ws, use_ripgrep=False), {"pattern": "hello"})
    assert [m["path"] for m in found.data["matches"]] == ["app.py"]


def test_a_symlink_loop_is_a_clear_error(ws: Workspace) -> None:
    os.symlink("loop-b", ws.root / "loop-a")
    os.symlink("loop-a", ws.root / "loop-b")
    # Control: plain code raises (OSError ELOOP, or RuntimeError from pathlib's resolve before 3.13).
    with pytest.raises((OSError, RuntimeError)):
        (ws.root / "loop-a").read_text()
    with pytest.raises((OSError, RuntimeError)):
        (ws.root / "loop-a").resolve(strict=True)
    calls: list[tuple[Tool, dict[str, str]]] = [
        (ReadFile(ws), {"path": "loop-a"}), (WriteFile(ws), {"path": "loop-a", "content": "x"}),
        (EditFile(ws), {"path": "loop-a", "old_string": "a", "new_string": "b"})]
    for tool, args in calls:
        result = call_tool(tool, args)
        assert not result.ok and "loop" in result.text, result.text
    assert call_tool(Search(ws, use_ripgrep=False), {"pattern": "x"}).ok
    assert call_tool(ListDir(ws), {}).ok


def test_special_files_are_refused_by_the_module(ws: Workspace) -> None:
    os.mkfifo(ws.root / "fifo")
    fs = WorkspaceFS(ws.root)
    with pytest.raises(NotRegularFile, match="FIFO"):
        fs.read_bytes("fifo")
    with pytest.raises(NotRegularFile, match="directory"):
        fs.read_bytes(".git")
    with pytest.raises(OSError, match=r"'\.\.'"):
        fs.read_bytes("../ws/app.py")


def test_held_back_tests_stay_out_of_search_and_listing(ws: Workspace) -> None:
    (ws.root / "heldback").mkdir()
    (ws.root / "heldback" / "test_hidden.py").write_text("def test_secret_case():\n    assert total(3) == 42\n")
    (ws.root / "tests").mkdir()
    (ws.root / "tests" / "test_open.py").write_text("def test_open():\n    assert total(1) == 1\n")
    hidden = Workspace.at(ws.root, hidden=("heldback/*",))
    # Control: without the held-back patterns the whole-workspace search and the listing show the test.
    assert any(m["path"].startswith("heldback/") for m in
               call_tool(Search(ws, use_ripgrep=False), {"pattern": "total"}).data["matches"])
    assert "heldback" in call_tool(ListDir(ws), {"depth": 3}).text
    for use_ripgrep in (False, True):
        result = call_tool(Search(hidden, use_ripgrep=use_ripgrep), {"pattern": "total"})
        assert [m["path"] for m in result.data["matches"]] == ["tests/test_open.py"]
        assert "42" not in result.text
    listing = call_tool(ListDir(hidden), {"depth": 3})
    assert "heldback" not in listing.text and "test_open.py" in listing.text
    assert not call_tool(ReadFile(hidden), {"path": "heldback/test_hidden.py"}).ok
    # The repo map names definitions: the held-back test's name stays out of it too (control first).
    cache = ws.root.parent / "map-cache"
    assert "test_secret_case" in call_tool(RepoMapTool(ws, cache_dir=cache), {}).text
    shown = call_tool(RepoMapTool(hidden, cache_dir=cache), {}).text
    assert "test_secret_case" not in shown and "test_open" in shown
