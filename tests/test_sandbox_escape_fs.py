"""Escape suite, files and secrets: writes outside, home, keys, environment, symlinks, .git (see sandbox_support).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import SECRET, TIERS, Ctx, bare, make_ctx, start_stand_in

from ornith_local.sandbox import host_git_command, tiers


@pytest.fixture(params=TIERS)
def ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    return make_ctx(request, tmp_path, monkeypatch)


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    yield from start_stand_in()


def test_write_outside(ctx: Ctx) -> None:
    target = ctx.outside / "pwned"
    result = ctx.run(f"echo started; echo x > {target}; echo x > inside")
    assert not target.exists() and (ctx.workspace / "inside").exists(), result
    assert bare(f"echo x > {target}").returncode == 0 and target.exists()


def test_append_bashrc(ctx: Ctx) -> None:
    bashrc = ctx.home / ".bashrc"
    ctx.run(f"echo started; echo evil >> {bashrc}; echo evil >> ~/.bashrc")
    assert "evil" not in bashrc.read_text()
    bare(f"echo evil >> {bashrc}")
    assert "evil" in bashrc.read_text()


def test_read_ssh_key(ctx: Ctx) -> None:
    key = ctx.home / ".ssh" / "id_rsa"
    result = ctx.run(f"echo started; cat {key}; cat ~/.ssh/id_rsa")
    assert SECRET not in result.stdout + result.stderr
    assert SECRET in bare(f"cat {key}").stdout


def test_read_agent_config(ctx: Ctx) -> None:
    config = Path(os.environ["ORNITH_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[model]\nendpoint = "http://x/{SECRET}"\n')
    result = ctx.run(f"echo started; cat {config}")
    assert SECRET not in result.stdout
    assert SECRET in bare(f"cat {config}").stdout


def test_env_secret(ctx: Ctx) -> None:
    result = ctx.run("echo started; env")
    assert SECRET not in result.stdout and "OPENAI_API_KEY" not in result.stdout
    assert SECRET in bare("env").stdout


def test_proc_environ(ctx: Ctx, stand_in: subprocess.Popen[bytes]) -> None:
    command = f"echo started; cat /proc/{stand_in.pid}/environ"
    assert SECRET not in ctx.run(command).stdout
    assert SECRET in bare(command).stdout


def test_symlink_escape(ctx: Ctx) -> None:
    (ctx.workspace / "link").symlink_to(ctx.outside)
    ctx.run("echo started; echo x > link/pwned; ln -sf / root; echo x > root/ornith-escape-test")
    assert not (ctx.outside / "pwned").exists() and not Path("/ornith-escape-test").exists()
    bare(f"cd {ctx.workspace} && echo x > link/pwned")
    assert (ctx.outside / "pwned").exists()


def _git_repo(path: Path) -> None:
    commit = ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "i"]
    for args in (["init", "-q"], commit):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)


def test_git_dir_readonly(ctx: Ctx) -> None:
    _git_repo(ctx.workspace)
    hook = ctx.workspace / ".git" / "hooks" / "pre-commit"
    result = ctx.run(f"echo started; echo 'touch {ctx.outside}/x' > {hook}; git config core.fsmonitor evil; "
                     "echo x >> .git/config")
    assert not hook.exists() and "evil" not in (ctx.workspace / ".git" / "config").read_text(), result
    assert (ctx.workspace / "inside-ok").exists() is False
    ctx.run("echo started; touch inside-ok")
    assert (ctx.workspace / "inside-ok").exists()


def test_git_dir_readonly_control(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the read-only binds the same command does plant the hook and the fsmonitor."""
    _git_repo(ctx.workspace)
    monkeypatch.setattr(tiers, "protected_paths", lambda workspace: [])
    hook = ctx.workspace / ".git" / "hooks" / "pre-commit"
    ctx.run(f"echo started; echo 'touch {ctx.outside}/x' > {hook}; git config core.fsmonitor evil")
    assert hook.exists() and "evil" in (ctx.workspace / ".git" / "config").read_text()


def test_host_git_ignores_planted_hooks(ctx: Ctx) -> None:
    # Whatever the tier let through, the agent's own git must not run what a model planted.
    _git_repo(ctx.workspace)
    marker, monitor = ctx.outside / "hook-ran", ctx.outside / "fsmonitor-ran"
    hook = ctx.workspace / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "-C", str(ctx.workspace), "config", "core.fsmonitor", f"touch {monitor}; false"], check=True)
    commit = ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"]
    subprocess.run(host_git_command(ctx.workspace, "status"), check=True, capture_output=True)
    subprocess.run(host_git_command(ctx.workspace, *commit), check=True, capture_output=True)
    assert not marker.exists() and not monitor.exists()
    subprocess.run(["git", "-C", str(ctx.workspace), *commit], capture_output=True)
    subprocess.run(["git", "-C", str(ctx.workspace), "status"], capture_output=True)
    assert marker.exists() and monitor.exists()

