"""Which sandbox tiers work on this machine, found by trying each one for real."""

from __future__ import annotations

import ctypes
import platform
import shutil
import subprocess
from dataclasses import dataclass

_LANDLOCK_CREATE_RULESET = 444  # syscall number on x86_64 and aarch64
_LANDLOCK_CREATE_RULESET_VERSION = 1


@dataclass(frozen=True)
class TierProbe:
    name: str  # "bwrap" | "landlock" | "macos" | "fallback"
    works: bool
    detail: str
    remedy: str | None = None  # what the user can do when it does not work


def _probe_bwrap() -> TierProbe:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return TierProbe(
            "bwrap", False, "bubblewrap is not installed",
            "install it: sudo apt-get install bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap",
        )
    command = [
        bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--", "true",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as error:
        return TierProbe("bwrap", False, f"bwrap failed to start: {error}")
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        return TierProbe(
            "bwrap", False, f"bwrap cannot create a sandbox here: {reason}",
            "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) "
            "or run outside a container that forbids them",
        )
    return TierProbe("bwrap", True, "bubblewrap namespaces work (no network, read-only root)")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or disabled."""
    if platform.system() != "Linux":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = libc.syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                               ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def _probe_landlock() -> TierProbe:
    if platform.system() != "Linux":
        return TierProbe("landlock", False, "Landlock is a Linux feature")
    abi = landlock_abi()
    if abi <= 0:
        return TierProbe(
            "landlock", False, "the kernel has no Landlock (or it is disabled)",
            "use a kernel >= 5.13 with CONFIG_SECURITY_LANDLOCK and 'landlock' in the lsm= boot list",
        )
    return TierProbe("landlock", True, f"Landlock ABI {abi} is available")


def _probe_macos() -> TierProbe:
    if platform.system() != "Darwin":
        return TierProbe("macos", False, "sandbox-exec is a macOS feature")
    tool = shutil.which("sandbox-exec") or "/usr/bin/sandbox-exec"
    try:
        result = subprocess.run(
            [tool, "-p", "(version 1)(allow default)", "/usr/bin/true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError) as error:
        return TierProbe("macos", False, f"sandbox-exec failed: {error}")
    if result.returncode != 0:
        return TierProbe("macos", False, "sandbox-exec refused a trivial profile")
    return TierProbe("macos", True, "sandbox-exec works")


def probe_tiers() -> list[TierProbe]:
    """Every tier, strongest first, each tried on this machine."""
    return [
        _probe_bwrap(),
        _probe_landlock(),
        _probe_macos(),
        TierProbe("fallback", True, "unsandboxed: rlimits, scrubbed env, timeouts; every command needs approval"),
    ]


def active_tier(probes: list[TierProbe]) -> TierProbe:
    """The strongest tier that works here."""
    return next(probe for probe in probes if probe.works)
