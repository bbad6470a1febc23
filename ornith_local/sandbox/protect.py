"""What every tier keeps read-only or hidden, found afresh before each command.

Read-only: every git directory in the workspace (`.git` dirs and gitfiles, including a repo a
previous command made with `git init sub`) and the repo's `.ornith.toml`. A writable `.git` lets a
command plant `core.fsmonitor`, hooks or filter drivers that run at the user's next `git status`;
a writable `.ornith.toml` would be read by the next ornith process.

Hidden: other users' homes, root's home, per-user runtime dirs, and files under /etc that are not
world-readable (/etc/shadow, SSH host keys, sudoers...). Commands run as root in a user namespace
(bwrap as root) still pass permission checks as root, so mode bits alone do not hide them.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

REPO_CONFIG_NAME = ".ornith.toml"  # the config layer's file name (config/settings.py)
_MAX_DIRS = 20000  # stop walking a huge tree: the top-level .git is found first anyway
_SKIP_WALK = frozenset({"node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".tox", ".ruff_cache"})
HIDDEN_DIRS = ("/home", "/root", "/run/user", "/var/spool/cron", "/var/lib/sudo")
_ETC_DEPTH = 4


def protected_paths(workspace: Path) -> list[Path]:
    """Git dirs/files, `.ornith.toml` and `.ornith/` under `workspace`, shallowest first (bind order matters)."""
    found: list[Path] = []
    config = workspace / REPO_CONFIG_NAME
    if config.is_file() and not config.is_symlink():
        found.append(config)
    scripts = workspace / ".ornith"  # the repo's hook scripts, which a trusted .ornith.toml runs
    if scripts.is_dir() and not scripts.is_symlink():
        found.append(scripts)
    pending = [workspace]
    seen = 0
    while pending and seen < _MAX_DIRS:
        directory = pending.pop(0)
        seen += 1
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".git":
                if not entry.is_symlink() and (entry.is_dir() or entry.is_file()):
                    found.append(Path(entry.path))
                continue
            if entry.name in _SKIP_WALK:
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    return found


@functools.cache
def hidden_etc_paths() -> tuple[Path, ...]:
    """Entries under /etc that others may not read: what a root-in-userns command could still read.
    Walked once per process: /etc changes with package installs, not between commands."""
    hidden: list[Path] = []

    def walk(directory: Path, depth: int) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                continue
            if not info.st_mode & stat.S_IROTH:
                hidden.append(Path(entry.path))
            elif stat.S_ISDIR(info.st_mode) and depth < _ETC_DEPTH:
                walk(Path(entry.path), depth + 1)

    walk(Path("/etc"), 1)
    return tuple(sorted(hidden))


def hidden_paths(home: Path) -> list[Path]:
    """Every host path a command must not see, existing ones only."""
    candidates = [Path(p) for p in HIDDEN_DIRS] + [home] + list(hidden_etc_paths())
    return [path for path in dict.fromkeys(candidates) if path.exists()]
