"""`ornith hook install|uninstall`: the git pre-commit hook, chained with any hook already there.

An existing hook is never overwritten: install moves it aside to `pre-commit.ornith-chained` and the
ornith hook runs it first (same arguments; its failure stops the commit as before); uninstall moves it
back. The hooks folder is the one git really uses (`git rev-parse --git-path hooks`, so
`core.hooksPath` is honoured).

The hook calls `python -m ornith_local.cli.commands.precommit` with the interpreter ornith is installed
in: it works from GUI clients with a bare PATH, and skips the start-up cost of the full CLI.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ornith_local.precommit.staged import PrecommitError, find_repo

MARKER = "# ornith-local pre-commit hook"
CHAINED_SUFFIX = ".ornith-chained"
HOOK_NAME = "pre-commit"

SCRIPT = """#!/bin/sh
{marker} (written by `ornith hook install`; `ornith hook uninstall` removes it).
# Checks the staged change in ornith's sandbox; on failure a local model may propose a fix as a patch.
# Skip it once with `git commit --no-verify`.
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/{chained}" ]; then
    # The hook that was here before ornith: it runs first, exactly as it did.
    "$hooks_dir/{chained}" "$@" || exit $?
fi
ornith_python={python}
if [ -x "$ornith_python" ]; then
    exec "$ornith_python" -m ornith_local.cli.commands.precommit --hook
fi
if command -v ornith >/dev/null 2>&1; then
    exec ornith precommit --hook
fi
echo "ornith pre-commit hook: ornith is not installed any more ($ornith_python is gone)." >&2
echo "Reinstall ornith-local, or remove this hook: $0" >&2
exit 1
"""


@dataclass(frozen=True)
class HookResult:
    path: Path
    action: str  # installed | updated | removed | not-installed
    chained: Path | None = None  # the pre-existing hook ornith runs first (install) or restored (uninstall)


def hook_path(start: Path) -> Path:
    repo = find_repo(start)
    # Not through host_git_command: its core.hooksPath=/dev/null would hide the folder git really uses.
    # rev-parse runs no hook and no fsmonitor.
    result = subprocess.run(["git", "-C", str(repo.root), "rev-parse", "--git-path", "hooks"], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        raise PrecommitError(f"git rev-parse failed: {result.stderr.strip()}", exit_code=1)
    hooks = Path(result.stdout.strip())
    if not hooks.is_absolute():
        hooks = repo.root / hooks
    return hooks / HOOK_NAME


def is_ornith_hook(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")[:400]
    except OSError:
        return False


def _write_script(path: Path) -> None:
    text = SCRIPT.format(marker=MARKER, chained=HOOK_NAME + CHAINED_SUFFIX, python=shlex.quote(sys.executable))
    temp = path.with_name(f".{path.name}.ornith-tmp")
    temp.write_text(text, encoding="utf-8")
    temp.chmod(0o755)
    os.replace(temp, path)


def install(start: Path) -> HookResult:
    path = hook_path(start)
    chained = path.with_name(path.name + CHAINED_SUFFIX)
    if path.is_symlink() or path.exists():
        if is_ornith_hook(path):
            _write_script(path)  # refresh: ornith may live in another interpreter now
            return HookResult(path, "updated", chained if chained.exists() else None)
        if chained.exists() or chained.is_symlink():
            raise PrecommitError(f"{path} is not ornith's and {chained.name} already exists: nothing was changed; "
                                 "move one of them away first", exit_code=1)
        os.rename(path, chained)  # a rename keeps the old hook byte for byte, its mode and links included
        _write_script(path)
        return HookResult(path, "installed", chained)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_script(path)
    return HookResult(path, "installed")


def uninstall(start: Path) -> HookResult:
    path = hook_path(start)
    chained = path.with_name(path.name + CHAINED_SUFFIX)
    if not (path.exists() or path.is_symlink()):
        if chained.exists() or chained.is_symlink():
            os.rename(chained, path)
            return HookResult(path, "removed", path)
        return HookResult(path, "not-installed")
    if not is_ornith_hook(path):
        raise PrecommitError(f"{path} was not written by ornith: left alone", exit_code=1)
    path.unlink()
    if chained.exists() or chained.is_symlink():
        os.rename(chained, path)
        return HookResult(path, "removed", path)
    return HookResult(path, "removed")
