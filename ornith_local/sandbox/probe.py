"""Which sandbox tiers work on this machine, found by running a real command through each one."""

from __future__ import annotations

import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ornith_local.sandbox.launcher import landlock_abi
from ornith_local.sandbox.network import network_guarantee
from ornith_local.sandbox.policy import Limits, RunRequest, SandboxError
from ornith_local.sandbox.process import execute
from ornith_local.sandbox.seccomp import seccomp_supported
from ornith_local.sandbox.tiers import Tier, can_isolate, make_tier, private_network

_PROBE_TIMEOUT_S = 15.0
_COMMON = ("other homes, /root and root-only /etc files hidden; no setuid/setgid bits; processes end with the "
           "command; no network unless allowed")
_cache: list[TierProbe] | None = None


@dataclass(frozen=True)
class TierProbe:
    name: str  # "bwrap" | "landlock" | "macos" | "fallback"
    works: bool
    detail: str
    remedy: str | None = None  # what the user can do when it does not work


def _try(tier: Tier) -> str | None:
    """Run `echo ok > probe.txt` through the tier in a throwaway workspace; None when it worked."""
    with tempfile.TemporaryDirectory(prefix="ornith-probe-") as tmp:
        workspace = Path(tmp).resolve()
        request = RunRequest(
            argv=("/bin/sh", "-c", "echo ok > probe.txt"), workspace=workspace, env={}, allow_network=False,
            allow_unix_sockets=False, limits=Limits(), home=Path.home(),
        )
        try:
            result = execute(tier, request, timeout_s=_PROBE_TIMEOUT_S, stdin=None)
        except (SandboxError, OSError) as error:
            return str(error)
        written = (workspace / "probe.txt").read_text().strip() if (workspace / "probe.txt").exists() else ""
        if result.exit_code != 0 or written != "ok":
            reason = (result.stderr.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
            return reason
    return None


def _probe_bwrap() -> TierProbe:
    if platform.system() != "Linux":
        return TierProbe("bwrap", False, "bubblewrap is a Linux tool")
    if shutil.which("bwrap") is None:
        return TierProbe(
            "bwrap", False, "bubblewrap is not installed",
            "install it: sudo apt-get install bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap",
        )
    if shutil.which("prlimit") is None:
        return TierProbe("bwrap", False, "prlimit (util-linux) is missing", "install util-linux")
    if not seccomp_supported():
        return TierProbe("bwrap", False, f"no seccomp filter for {platform.machine()} yet")
    failure = _try(make_tier("bwrap"))
    if failure:
        return TierProbe(
            "bwrap", False, f"bwrap cannot create a sandbox here: {failure}",
            "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 or "
            "kernel.apparmor_restrict_unprivileged_userns=0) or run outside a container that forbids them",
        )
    return TierProbe("bwrap", True, "namespaces + seccomp, no capabilities, no_new_privs: read-only root; workspace "
                     "writable except every .git and .ornith.toml; private /dev, /proc and /tmp (tmpfs size-capped); "
                     f"{_COMMON} ({network_guarantee(private_network())})")


def _probe_landlock() -> TierProbe:
    if platform.system() != "Linux":
        return TierProbe("landlock", False, "Landlock is a Linux feature")
    abi = landlock_abi()
    if abi <= 0:
        return TierProbe(
            "landlock", False, "the kernel has no Landlock (or it is disabled)",
            "use a kernel >= 5.13 with CONFIG_SECURITY_LANDLOCK and 'landlock' in the lsm= boot list",
        )
    if not seccomp_supported():
        return TierProbe("landlock", False, f"no seccomp filter for {platform.machine()} yet")
    failure = _try(make_tier("landlock"))
    if failure:
        return TierProbe("landlock", False, f"Landlock ABI {abi} is present but a sandbox failed: {failure}")
    limits = "" if abi >= 6 else "; signals and abstract sockets not scoped (ABI < 6)"
    if can_isolate():
        return TierProbe("landlock", True, f"Landlock ABI {abi} + seccomp + mount/pid namespaces, no capabilities, "
                         f"no_new_privs: every .git and .ornith.toml read-only; private /dev and /proc, a per-command "
                         f"TMPDIR on the host; {_COMMON} ({network_guarantee(private_network())}){limits}")
    return TierProbe("landlock", True, f"Landlock ABI {abi} + seccomp, no_new_privs; no mount namespace here, so .git "
                     "and .ornith.toml stay writable (ornith's own git runs none of their programs) and /dev is "
                     f"the host's{limits}")


def _probe_macos() -> TierProbe:
    if platform.system() != "Darwin":
        return TierProbe("macos", False, "sandbox-exec is a macOS feature")
    if not Path("/usr/bin/sandbox-exec").exists():
        return TierProbe("macos", False, "/usr/bin/sandbox-exec is missing")
    failure = _try(make_tier("macos"))
    if failure:
        return TierProbe("macos", False, f"sandbox-exec refused the profile: {failure}")
    return TierProbe("macos", True, "sandbox-exec with ornith's deny-by-default profile")


def probe_tiers(*, refresh: bool = False) -> list[TierProbe]:
    """Every tier, strongest first, each tried on this machine (cached for the process)."""
    global _cache
    if _cache is None or refresh:
        _cache = [
            _probe_bwrap(),
            _probe_landlock(),
            _probe_macos(),
            TierProbe("fallback", True,
                      "unsandboxed: rlimits, scrubbed env, timeouts, no capabilities; every command needs approval"),
        ]
    return list(_cache)


def active_tier(probes: list[TierProbe]) -> TierProbe:
    """The strongest tier that works here."""
    return next(probe for probe in probes if probe.works)
