"""The escape suites' shared setup: a context per tier, the bare-host control, a stand-in agent.

An attack prints "started" first, so a tier that silently failed to run the command cannot pass;
its control shows the same attack succeeding once the block is lifted (bare on the host, or the
same tier with the one permission granted). Tiers only answer for what they claim: the fallback
is labelled unsandboxed, so filesystem, network and process isolation cases skip there, and a tier
this machine lacks skips with the probe's reason. Loops, memory and CPU are bounded tightly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ornith_local.sandbox import CommandResult, Limits, TierSandbox, probe_tiers
from ornith_local.sandbox.tiers import can_isolate, make_tier

PY = sys.executable
SECRET = "sk-ornith-test-" + uuid.uuid4().hex
TIERS = ("bwrap", "landlock", "fallback")
PROBES = {probe.name: probe for probe in probe_tiers()}
# What the fallback does not claim to stop (it is labelled unsandboxed and needs approval).
FALLBACK_OPEN = {
    "write_outside", "append_bashrc", "read_ssh_key", "read_agent_config", "proc_environ", "signal_agent",
    "ptrace_agent", "tcp_loopback_without_network", "tcp_outside", "udp_without_network", "unix_path",
    "allow_network_keeps_host_loopback_out", "allow_network_keeps_host_loopback_out_udp", "allow_network_reaches_out",
    "allow_network_resolver_when_the_host_uses_a_loopback_one", "unix_abstract", "symlink_escape",
    "git_dir_readonly", "daemon", "nested_userns", "remount_root", "tiocsti", "new_git_dir_readonly",
    "repo_config_readonly", "repo_hook_scripts_readonly", "setuid_bit", "private_dev", "hidden_root_files",
    "mknod_block", "setpgid_hopper", "tmpfs_bounded", "unprivileged_uid", "other_homes_hidden",
    "git_dir_readonly_control", "root_owned_project_runs_unprivileged",
}
# Landlock only adds rights: a read-only .git inside the writable workspace needs the mount namespace.
LANDLOCK_OPEN = set() if can_isolate() else {"git_dir_readonly", "new_git_dir_readonly", "repo_config_readonly",
                                             "repo_hook_scripts_readonly", "private_dev", "git_dir_readonly_control"}


@dataclass
class Ctx:
    tier: str
    workspace: Path
    outside: Path
    home: Path
    tmp: Path

    def sandbox(self, **options: object) -> TierSandbox:
        limits = options.pop("limits", Limits(processes=64, cpu_s=30, address_space_mib=4096))
        assert isinstance(limits, Limits)
        return TierSandbox(make_tier(self.tier), timeout_s=20, limits=limits, home=self.home, **options)  # type: ignore[arg-type]

    def run(self, command: str | list[str], **options: object) -> CommandResult:
        timeout = options.pop("timeout_s", None)
        result = self.sandbox(**options).run(command, workspace=self.workspace, timeout_s=timeout)  # type: ignore[arg-type]
        assert result.tier == self.tier
        assert "started" in result.stdout, f"the attack never ran: {result}"
        return result


def bare(command: str | list[str]) -> subprocess.CompletedProcess[str]:
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def make_ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    """The `ctx` fixture's body (each test module declares `ctx` with `params=TIERS`): skips what the tier
    does not claim or cannot run here, with the reason."""
    tier = request.param
    probe = PROBES[tier]
    if not probe.works:
        pytest.skip(f"tier {tier} does not work on this machine: {probe.detail}")
    case = request.node.originalname.removeprefix("test_")
    if tier == "fallback" and case in FALLBACK_OPEN:
        pytest.skip("the fallback tier is unsandboxed by design and does not claim this")
    if tier == "landlock" and case in LANDLOCK_OPEN:
        pytest.skip("no mount namespace for the Landlock tier here: it cannot make paths inside the workspace "
                    "read-only (host git is guarded)")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"PRIVATE KEY {SECRET}\n")
    (home / ".bashrc").write_text("# bashrc\n")
    for name in ("ws", "outside"):
        (tmp_path / name).mkdir()
    return Ctx(tier, tmp_path / "ws", tmp_path / "outside", home, tmp_path)


def shown_folder(prefix: str, mode: int) -> Iterator[Path]:
    """A temp folder in a place no tier hides (/opt: not a home, /tmp or /etc), removed afterwards; skips where
    this user cannot make one there (root can)."""
    if not os.access("/opt", os.W_OK):
        pytest.skip("needs a writable /opt for a folder the sandbox shows (run as root)")
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/opt"))
    folder.chmod(mode)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start_stand_in() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for the agent, with a secret in its environment."""
    process = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], env={**os.environ, "AGENT_SECRET": SECRET})
    yield process
    process.kill()
    process.wait()
