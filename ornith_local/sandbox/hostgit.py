"""git as ornith itself runs it on the host: nothing a repo's config names is ever executed.

A repo's `.git/config` (writable by anyone who could write the repo, and planted by a hostile clone)
can name programs git runs on its own: an fsmonitor, hooks, an external diff, textconv and filter
drivers (clean/smudge/process, run by `add`, `status`, `checkout-index`), a pager, a signing program.
Every git call ornith makes on the host goes through `host_git_command` / `host_git_options`, which
switch each of them off. Two have no "off" value that git accepts (an empty `diff.external` or
`textconv` makes git try to run ""), so diff-like commands get `--no-ext-diff --no-textconv` instead.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HOST_GIT_OPTIONS = (
    "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.pager=cat",
    "-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false",
    "-c", "protocol.ext.allow=never",
)
# Subcommands that render diffs (and so would start diff.external / a textconv driver).
_DIFF_COMMANDS = frozenset({"diff", "log", "show", "format-patch", "whatchanged"})
DIFF_SAFE_FLAGS = ("--no-ext-diff", "--no-textconv")
# Dropped from the environment of ornith's git: an empty value would not switch it off either.
_ENV_DROPPED = ("GIT_EXTERNAL_DIFF",)


def _filter_drivers(repo: Path) -> list[str]:
    """Names of the filter drivers any config level defines (`filter.NAME.clean` and friends)."""
    try:
        result = subprocess.run(
            ["git", *HOST_GIT_OPTIONS, "-C", str(repo), "config", "--name-only", "--get-regexp", r"^filter\."],
            capture_output=True, text=True, timeout=30, env=host_git_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    names = {line[len("filter."):line.rindex(".")] for line in result.stdout.splitlines() if line.count(".") >= 2}
    return sorted(names)


def host_git_options(repo: Path) -> list[str]:
    """`-c` options for a git call in `repo`: hooks, fsmonitor, pager, signing and every filter driver off."""
    options = list(HOST_GIT_OPTIONS)
    for name in _filter_drivers(repo):
        # An empty clean/smudge/process means "no filter"; required=false keeps git from refusing then.
        for key, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")):
            options += ["-c", f"filter.{name}.{key}={value}"]
    return options


def with_diff_flags(args: tuple[str, ...] | list[str]) -> list[str]:
    """`args` with --no-ext-diff --no-textconv after a diff-rendering subcommand (blame: --no-textconv)."""
    args = list(args)
    index = 0
    while index < len(args) and args[index].startswith("-"):  # global options before the subcommand
        index += 2 if args[index] in ("-c", "-C") else 1
    if index >= len(args):
        return args
    command = args[index]
    flags = DIFF_SAFE_FLAGS if command in _DIFF_COMMANDS else ("--no-textconv",) if command == "blame" else ()
    return [*args[: index + 1], *flags, *args[index + 1 :]]


def host_git_command(repo: Path, *args: str) -> list[str]:
    """argv for git commands the agent runs on the host (outside the sandbox) in `repo`."""
    return ["git", *host_git_options(repo), "-C", str(repo), *with_diff_flags(args)]


def host_git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ornith's host git: the user's, without an external diff, with no pager or prompt."""
    env = {name: value for name, value in os.environ.items() if name not in _ENV_DROPPED}
    env.update({"GIT_PAGER": "cat", "PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"})
    env.update(extra or {})
    return env
