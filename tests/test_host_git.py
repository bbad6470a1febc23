"""ornith's own git on the host runs nothing a repo's config names (issue 20, High 3).

The attack is a `.git/config` written by a hostile clone or a sandboxed command (where .git was
writable): an fsmonitor, a hook, filter drivers, a textconv driver and an external diff, each of which
drops a marker file when git starts it. The control runs the same plain git commands and sees the
markers appear; ornith's helper (`host_git_command`, `listing.host_git`, checkpoints) must leave none.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ornith_local.sandbox.hostgit import host_git_command, host_git_env
from ornith_local.tools.checkpoint import create_checkpoint, diff_since, undo
from ornith_local.tools.listing import host_git, list_files
from tests.conftest import git


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    repo, markers = tmp_path / "repo", tmp_path / "markers"
    repo.mkdir()
    markers.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("secret\n")
    (repo / ".gitattributes").write_text("*.txt filter=evil diff=evil\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")

    def program(name: str) -> str:
        return f"touch {markers / name}; cat"

    for key, value in (("core.fsmonitor", f"touch {markers / 'fsmonitor'}; true"),
                       ("filter.evil.clean", program("clean")), ("filter.evil.smudge", program("smudge")),
                       ("filter.evil.required", "true"), ("diff.evil.textconv", program("textconv")),
                       ("diff.external", f"touch {markers / 'external'}; true")):
        git(repo, "config", key, value)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {markers / 'hook'}\n")
    hook.chmod(0o755)
    (repo / "a.txt").write_text("secret, changed\n")
    return repo, markers


def _ran(markers: Path) -> set[str]:
    return {path.name for path in markers.iterdir()}


COMMANDS = (("status",), ("diff",), ("add", "a.txt"), ("diff", "--cached"), ("show", "HEAD"),
            ("commit", "-qm", "x"), ("checkout-index", "-f", "a.txt"), ("log", "-p", "-1"))


def test_control_plain_git_runs_every_planted_program(planted: tuple[Path, Path]) -> None:
    repo, markers = planted
    for args in COMMANDS:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, capture_output=True)
    assert {"fsmonitor", "clean", "textconv", "external", "hook"} <= _ran(markers)


def test_host_git_command_runs_none_of_them(planted: tuple[Path, Path]) -> None:
    repo, markers = planted
    for args in COMMANDS:
        result = subprocess.run(host_git_command(repo, "-c", "user.name=t", "-c", "user.email=t@t", *args),
                                capture_output=True, text=True, env=host_git_env())
        assert result.returncode == 0, (args, result.stderr)
    (repo / "a.txt").unlink()
    subprocess.run(host_git_command(repo, "checkout-index", "-f", "a.txt"), check=True, env=host_git_env())
    assert (repo / "a.txt").read_text() == "secret, changed\n"  # restored raw: no smudge filter ran
    assert _ran(markers) == set()


def test_checkpoints_and_listing_run_none_of_them(planted: tuple[Path, Path]) -> None:
    repo, markers = planted
    checkpoint = create_checkpoint(repo, "before")
    (repo / "b.txt").write_text("new\n")
    assert "b.txt" in diff_since(repo, checkpoint)
    assert "a.txt" in list_files(repo)
    host_git(repo, "diff", "HEAD")
    undo(repo, checkpoint)
    assert not (repo / "b.txt").exists()
    assert _ran(markers) == set()
