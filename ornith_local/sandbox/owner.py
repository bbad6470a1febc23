"""Who a command runs as when ornith runs as root: the project's owner, or for root's own project an account
nobody has, to which the launcher shows the project as its own through an idmapped mount (sandbox/isolate.py)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from ornith_local.sandbox.policy import RunRequest, home_toolchains

# The uid and gid commands run as when ornith runs as root in a root-owned project: no account has them, so
# the command owns nothing outside the workspace (which an idmapped mount shows it as its own).
SANDBOX_ID = 1_999_999
SANDBOX_OWNER = (SANDBOX_ID, SANDBOX_ID)
_idmap_by_device: dict[int, bool] = {}


def workspace_owner(workspace: Path) -> tuple[int, int] | None:
    """(uid, gid) to run commands as when ornith runs as root; None otherwise.

    Someone else's project: its owner. A root-owned project: SANDBOX_ID, the workspace shown to it as its own
    through an idmapped mount (`workspace_idmap`); where the filesystem or kernel has no idmapped mounts,
    uid 0 with no capabilities at all and root-only files under /etc hidden (weaker: `ornith doctor` says so)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    info = workspace.stat()
    if info.st_uid != 0:
        return (info.st_uid, info.st_gid)
    return SANDBOX_OWNER if idmap_supported(workspace) else None


def workspace_idmap(request: RunRequest, owner: tuple[int, int] | None) -> dict[str, object] | None:
    """The launcher's idmapped-mount step for a root-owned workspace run as SANDBOX_ID, else None: the workspace,
    and the directories SANDBOX_ID could not search on the way to it or to what the command may read."""
    if owner != SANDBOX_OWNER:
        return None
    needed = [request.workspace, *request.read_only, Path(sys.prefix), Path(sys.base_prefix),
              *home_toolchains(request.home)]
    reveal: list[Path] = []
    for path in needed:
        blocked = next((parent for parent in [*reversed(path.parents), path]
                        if parent.is_dir() and not _searchable(parent, SANDBOX_ID, SANDBOX_ID)), None)
        if blocked is not None and not any(blocked == done or done in blocked.parents for done in reveal):
            reveal = [done for done in reveal if blocked not in done.parents] + [blocked]
    return {"path": str(request.workspace), "uid": SANDBOX_ID, "gid": SANDBOX_ID, "reveal": [str(p) for p in reveal]}


def commands_run_as(workspace: Path) -> str:
    """Who commands run as in `workspace`, in one phrase for `ornith doctor`."""
    if os.name != "posix" or os.geteuid() != 0:
        return "as you"
    owner = workspace_owner(workspace)
    if owner == SANDBOX_OWNER:
        return (f"as uid {SANDBOX_ID}, an account nobody has, with this root-owned project shown to it as its own "
                "(an idmapped mount): root's other files are out of reach")
    if owner is not None:
        return f"as the project's owner (uid {owner[0]}), not root"
    return ("as uid 0 with no capabilities (this filesystem or kernel has no idmapped mounts): root-only files "
            "outside the hidden paths stay readable")


def idmap_supported(path: Path) -> bool:
    """Whether `path`'s filesystem takes an idmapped mount here (Linux >= 5.12; ext4, xfs, btrfs, tmpfs...),
    tried once per filesystem in a throwaway mount namespace."""
    if platform.system() != "Linux" or os.geteuid() != 0:
        return False
    device = path.stat().st_dev
    if device not in _idmap_by_device:
        import subprocess

        probe = [sys.executable, "-I", "-S", str(Path(__file__).with_name("isolate.py")), str(path)]
        try:
            _idmap_by_device[device] = subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _idmap_by_device[device] = False
    return _idmap_by_device[device]


def _searchable(directory: Path, uid: int, gid: int) -> bool:
    """Whether `uid`/`gid` may search `directory` (plain mode bits; no ACLs)."""
    try:
        info = directory.stat()
    except OSError:
        return False
    bit = 0o100 if info.st_uid == uid else 0o010 if info.st_gid == gid else 0o001
    return bool(info.st_mode & bit)


def reachable(path: Path, uid: int, gid: int) -> bool:
    """Whether `uid`/`gid` may search every directory down to `path`."""
    return all(_searchable(directory, uid, gid) for directory in [*reversed(path.parents), path])
