"""The sandbox's pieces on their own: seccomp program, path guard, host git, shell, CLI, probe."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ornith_local.cli.main import main
from ornith_local.sandbox import (
    Limits,
    OutsideWorkspace,
    SandboxError,
    TierSandbox,
    active_tier,
    open_sandbox,
    probe_tiers,
    resolve_in_workspace,
)
from ornith_local.sandbox.seccomp import FilterOptions, SeccompUnsupported, build_filter
from ornith_local.sandbox.tiers import make_tier

WORKING = [probe.name for probe in probe_tiers() if probe.works]


def test_seccomp_program_is_well_formed() -> None:
    for machine in ("x86_64", "aarch64"):
        program = build_filter(FilterOptions(), machine)
        assert len(program) % 8 == 0 and len(program) // 8 < 4096
        last = struct.unpack("=HBBI", program[-8:])
        assert last == (0x06, 0, 0, 0x7FFF0000)  # ends in RET ALLOW
    assert build_filter(FilterOptions(allow_network=True)) != build_filter(FilterOptions())
    with pytest.raises(SeccompUnsupported):
        build_filter(FilterOptions(), "sparc")


def test_resolve_in_workspace_refuses_escapes(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    (workspace / "sub").mkdir(parents=True)
    outside.mkdir()
    (workspace / "link").symlink_to(outside)
    (workspace / "sub" / "file-link").symlink_to(outside / "secret")
    assert resolve_in_workspace(workspace, "sub/new.txt") == workspace.resolve() / "sub" / "new.txt"
    assert resolve_in_workspace(workspace, workspace / "sub") == workspace.resolve() / "sub"
    for bad in ("link/f", "../outside/f", "sub/file-link", "/etc/passwd", "sub/../../outside"):
        with pytest.raises(OutsideWorkspace):
            resolve_in_workspace(workspace, bad)


def test_active_tier_is_the_strongest_that_works() -> None:
    probes = probe_tiers()
    assert [probe.name for probe in probes] == ["bwrap", "landlock", "macos", "fallback"]
    assert active_tier(probes).name == WORKING[0]
    assert probes[-1].works and "unsandboxed" in probes[-1].detail


def test_workspace_must_not_be_home_or_root(tmp_path: Path) -> None:
    sandbox = TierSandbox(make_tier("fallback"), home=tmp_path / "home")
    (tmp_path / "home").mkdir()
    for workspace in (Path("/"), tmp_path / "home", tmp_path):
        with pytest.raises(SandboxError):
            sandbox.run("true", workspace=workspace)
    with pytest.raises(SandboxError):
        open_sandbox(tier="nonsense")


@pytest.mark.parametrize("tier", WORKING)
def test_run_basics(tier: str, tmp_path: Path) -> None:
    sandbox = TierSandbox(make_tier(tier), limits=Limits(output_bytes=1000))
    result = sandbox.run("echo out; echo err >&2; exit 3", workspace=tmp_path)
    assert (result.exit_code, result.stdout, result.stderr, result.tier) == (3, "out\n", "err\n", tier)
    assert sandbox.run(["cat"], workspace=tmp_path, stdin="fed").stdout == "fed"
    big = sandbox.run("head -c 50000 /dev/zero | tr '\\0' x", workspace=tmp_path)
    assert big.truncated and len(big.stdout) == 1000 and big.exit_code == 0


@pytest.mark.parametrize("tier", WORKING)
def test_shell_keeps_state_caps_output_and_interrupts(tier: str, tmp_path: Path) -> None:
    sandbox = TierSandbox(make_tier(tier), limits=Limits(output_bytes=500))
    (tmp_path / "sub").mkdir()
    with sandbox.shell(workspace=tmp_path) as shell:
        assert shell.run("cd sub && export X=42").exit_code == 0
        state = shell.run("pwd; echo $X; (exit 5)")
        assert state.stdout.splitlines() == [str(tmp_path / "sub"), "42"] and state.exit_code == 5
        big = shell.run("seq 1 2000")
        assert big.truncated and len(big.stdout) <= 500
        hung = shell.run("sleep 30", timeout_s=0.5)
        assert hung.timed_out and shell.alive
        assert shell.run("echo still here").stdout == "still here\n"


def test_cli_sandbox_run_exits_with_the_command_code(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["sandbox", "run", "--workspace", str(tmp_path), "--", "sh", "-c", "echo hi; exit 7"]) == 7
    out, err = capfd.readouterr()
    assert "hi" in out and ("sandbox tier" in err or "UNSANDBOXED" in err)
    assert main(["sandbox", "run", "--workspace", str(tmp_path)]) == 2
    assert main(["sandbox", "run", "--workspace", str(tmp_path / "missing"), "--", "true"]) == 1
    assert "does not exist" in capfd.readouterr().err


def test_cli_sandbox_tiers_json(capfd: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["sandbox", "tiers", "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["active"] == WORKING[0] and len(report["tiers"]) == 4


def test_cli_sandbox_shell_needs_a_terminal() -> None:
    result = subprocess.run([sys.executable, "-m", "ornith_local", "sandbox", "shell"], capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "needs a terminal" in result.stderr
