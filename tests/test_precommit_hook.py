"""The hook, installed both ways and run by real commits: `ornith hook install` with `git commit`, and the
`pre-commit` framework (from PyPI) with `repo: local` and with a clone of a repo holding our
.pre-commit-hooks.yaml (a local path: no network)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from precommit_helpers import (
    REPO_ROOT,
    STATS,
    Snapshot,
    add_unstaged_edits,
    git,
    make_project,
    ornith,
    stage_broken_mean,
)

VENV_BIN = str(Path(sys.executable).parent)
GOOD_CHANGE = STATS + "\n\ndef spread(values):\n    return max(values) - min(values)\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_project(tmp_path / "calc-project")


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def staged_state(repo: Path) -> tuple[str, str]:
    # `git commit` itself may refresh the index file's stat data; what is staged must not change.
    return git(repo, "ls-files", "--stage").stdout, git(repo, "diff", "--cached").stdout


def working_tree(repo: Path) -> dict[str, str]:
    return Snapshot.take(repo).files


def commit(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return git(repo, "commit", "-m", "change", *args, env=env, check=False)


def test_installed_hook_blocks_a_breaking_commit_and_keeps_unstaged_work(repo: Path) -> None:
    result = ornith(repo, "hook", "install")
    assert result.returncode == 0 and "installed the ornith pre-commit hook" in result.stdout
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK)
    stage_broken_mean(repo)
    add_unstaged_edits(repo)
    before_head, before_staged, before_files = head(repo), staged_state(repo), working_tree(repo)

    attempt = commit(repo)

    assert attempt.returncode != 0
    output = attempt.stdout + attempt.stderr
    assert "✗ pytest" in output and "commit blocked" in output and "--no-verify" in output
    assert head(repo) == before_head
    assert staged_state(repo) == before_staged
    assert working_tree(repo) == before_files


def test_installed_hook_lets_a_passing_commit_through(repo: Path) -> None:
    ornith(repo, "hook", "install")
    (repo / "calc" / "stats.py").write_text(GOOD_CHANGE)
    git(repo, "add", "calc/stats.py")
    before = head(repo)
    attempt = commit(repo)
    assert attempt.returncode == 0, attempt.stdout + attempt.stderr
    assert "checks pass" in attempt.stdout + attempt.stderr
    assert head(repo) != before


def test_commit_all_checks_what_commit_a_stages(repo: Path) -> None:
    # `git commit -a` stages into a temporary index (GIT_INDEX_FILE): the hook must check that one.
    ornith(repo, "hook", "install")
    (repo / "calc" / "stats.py").write_text((repo / "calc" / "stats.py").read_text().replace("len(values)",
                                                                                             "(len(values) + 1)"))
    before = head(repo)
    assert commit(repo, "-a").returncode != 0
    assert head(repo) == before


def test_empty_commit_passes(repo: Path) -> None:
    ornith(repo, "hook", "install")
    attempt = commit(repo, "--allow-empty")
    assert attempt.returncode == 0, attempt.stderr


def test_an_existing_hook_is_chained_never_overwritten(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    original = hooks / "pre-commit"
    log = repo.parent / "existing-hook.log"
    original.write_text(f"#!/bin/sh\necho ran >> '{log}'\nexit \"${{EXISTING_HOOK_EXIT:-0}}\"\n")
    original.chmod(0o750)
    original_bytes, original_mode = original.read_bytes(), original.stat().st_mode

    result = ornith(repo, "hook", "install")
    assert result.returncode == 0 and "runs first, unchanged" in result.stdout
    chained = hooks / "pre-commit.ornith-chained"
    assert chained.read_bytes() == original_bytes and chained.stat().st_mode == original_mode

    stage_broken_mean(repo)
    blocked_by_existing = commit(repo, env={**os.environ, "EXISTING_HOOK_EXIT": "1"})
    assert blocked_by_existing.returncode != 0
    assert "ornith precommit" not in blocked_by_existing.stdout + blocked_by_existing.stderr  # ornith never ran
    blocked_by_ornith = commit(repo)
    assert blocked_by_ornith.returncode != 0 and "✗ pytest" in blocked_by_ornith.stdout + blocked_by_ornith.stderr
    assert log.read_text() == "ran\nran\n"

    again = ornith(repo, "hook", "install")
    assert again.returncode == 0 and "already installed" in again.stdout
    assert chained.read_bytes() == original_bytes

    removed = ornith(repo, "hook", "uninstall")
    assert removed.returncode == 0 and "is back in place" in removed.stdout
    assert original.read_bytes() == original_bytes and original.stat().st_mode == original_mode
    assert not chained.exists()


def test_uninstall_leaves_a_foreign_hook_alone(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    result = ornith(repo, "hook", "uninstall")
    assert result.returncode == 1 and "was not written by ornith: left alone" in result.stderr
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert ornith(repo, "hook", "uninstall").returncode == 1
    hook.unlink()
    nothing = ornith(repo, "hook", "uninstall")
    assert nothing.returncode == 0 and "no ornith pre-commit hook" in nothing.stdout


def test_hook_follows_core_hooks_path(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    assert ornith(repo, "hook", "install").returncode == 0
    assert (repo / ".githooks" / "pre-commit").is_file()
    stage_broken_mean(repo)
    assert commit(repo).returncode != 0


# --- the pre-commit framework --------------------------------------------------------------------

def framework_env(tmp_path: Path) -> dict[str, str]:
    # pre-commit keeps its clones in PRE_COMMIT_HOME; PATH must reach `ornith` (language: system).
    return {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def pre_commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(VENV_BIN) / "pre-commit"), *args], cwd=repo, capture_output=True, text=True,
                          env=env, timeout=600)


def hooks_repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repo holding this project's .pre-commit-hooks.yaml, as pre-commit clones it from a remote."""
    source = tmp_path / "ornith-hooks"
    source.mkdir()
    shutil.copy(REPO_ROOT / ".pre-commit-hooks.yaml", source / ".pre-commit-hooks.yaml")
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "hooks")
    return source, head(source)


LOCAL_CONFIG = """repos:
  - repo: local
    hooks:
      - id: ornith
        name: ornith precommit
        entry: ornith precommit --hook
        language: system
        pass_filenames: false
"""


@pytest.mark.parametrize("source", ["local", "clone"])
def test_pre_commit_framework_runs_the_hook(repo: Path, tmp_path: Path, source: str) -> None:
    env = framework_env(tmp_path)
    if source == "local":
        config = LOCAL_CONFIG
    else:
        path, rev = hooks_repo(tmp_path)
        config = f"repos:\n  - repo: {path}\n    rev: {rev}\n    hooks:\n      - id: ornith\n"
    (repo / ".pre-commit-config.yaml").write_text(config)
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "--no-verify", "-m", "pre-commit config")
    installed = pre_commit(repo, env, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    stage_broken_mean(repo)
    add_unstaged_edits(repo)
    before_head, before_staged, before_files = head(repo), staged_state(repo), working_tree(repo)
    blocked = commit(repo, env=env)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "ornith precommit" in output and "Failed" in output and "test_mean" in output
    assert head(repo) == before_head
    assert staged_state(repo) == before_staged
    assert working_tree(repo) == before_files  # pre-commit's own stash of unstaged edits came back too

    (repo / "calc" / "stats.py").write_text(GOOD_CHANGE)
    git(repo, "add", "calc/stats.py")
    passed = commit(repo, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert head(repo) != before_head


def test_the_manifest_declares_the_ornith_hook() -> None:
    import yaml  # type: ignore[import-untyped]  # pre-commit's own dependency

    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "ornith" and hook["entry"].startswith("ornith precommit")
    assert hook["pass_filenames"] is False and hook["language"] == "system"
    assert stat.S_ISREG((REPO_ROOT / ".pre-commit-hooks.yaml").stat().st_mode)
