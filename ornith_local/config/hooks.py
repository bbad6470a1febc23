"""The `[hooks]` table: user commands run at agent events, in the shape Claude Code and Codex CLI use.

Two forms are read, so an existing hook can be copied over:

    [[hooks.PreToolUse]]            # flat: one command per entry
    matcher = "run|Bash"
    command = "python3 .ornith/hooks/no_rm.py"
    timeout_s = 30

    [[hooks.PreToolUse]]            # Codex's config.toml (Claude's settings.json as TOML): a matcher group
    matcher = "Bash"
    [[hooks.PreToolUse.hooks]]
    type = "command"
    command = "..."
    timeout = 30

Hooks run commands, so a repo's `.ornith.toml` sets them only when the user trusts the repo
(config/trust.py). Every layer's hooks run: the user's and the trusted repo's add up, as in both tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.config.paths import app_dirs

# What ornith emits (agent/hooks.py): as a run starts (SessionStart, then UserPromptSubmit, which may refuse the
# task), before a tool call (may block it), after it, and at the end of a run (Stop).
HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop")
MATCHED_EVENTS = frozenset({"PreToolUse", "PostToolUse", "SessionStart"})  # the tool's name; SessionStart's source
DEFAULT_TIMEOUT_S = 60.0  # Claude Code's default
FLAT_KEYS = frozenset({"matcher", "command", "timeout_s", "timeout"})
GROUP_KEYS = frozenset({"matcher", "hooks"})
HANDLER_KEYS = frozenset({"type", "command", "timeout_s", "timeout"})
USER_HOOKS_DIR_NAME = "hooks"  # beside config.toml: the user's hook scripts, readable inside the sandbox


class HookConfigError(ValueError):
    """A hook entry that cannot be used, worded as one line naming the file and the key."""


@dataclass(frozen=True)
class HookSpec:
    event: str  # one of HOOK_EVENTS
    command: str  # a shell command line, run with /bin/sh in the repo
    matcher: str = ""  # a regex on the whole tool name (or one of its Claude names) or source; "" or "*": all
    timeout_s: float = DEFAULT_TIMEOUT_S
    source: str = ""  # the file that set it, for notes

    def matches(self, names: tuple[str, ...]) -> bool:
        """Whether this hook applies to a tool known by `names` (ornith's name first, then its Claude names), or
        for SessionStart to its source ("startup" or "resume")."""
        if self.event not in MATCHED_EVENTS or self.matcher in ("", "*"):
            return True
        return any(re.fullmatch(self.matcher, name) for name in names)


@dataclass(frozen=True)
class HookSettings:
    hooks: tuple[HookSpec, ...] = ()

    def for_event(self, event: str) -> tuple[HookSpec, ...]:
        return tuple(hook for hook in self.hooks if hook.event == event)

    def __bool__(self) -> bool:
        return bool(self.hooks)


def user_hooks_dir() -> Path:
    return app_dirs().config / USER_HOOKS_DIR_NAME


def merge_hooks(settings: HookSettings, table: Any, origin: str) -> HookSettings:
    """`settings` plus the hooks of one layer's `[hooks]` table; a bad entry is a HookConfigError."""
    if not isinstance(table, dict):
        raise HookConfigError(f"{origin}: [hooks] must be a table")
    added: list[HookSpec] = []
    for event, entries in table.items():
        key = f"hooks.{event}"
        if event not in HOOK_EVENTS:
            raise _error(origin, key, f"unknown hook event (known: {', '.join(HOOK_EVENTS)})")
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise _error(origin, key, f"expected a list of tables ([[hooks.{event}]])")
        for index, entry in enumerate(entries):
            added += _entry(event, entry, f"{key}[{index}]", origin)
    return HookSettings((*settings.hooks, *added))


def _entry(event: str, entry: dict[str, Any], key: str, origin: str) -> list[HookSpec]:
    matcher = entry.get("matcher", "")
    if not isinstance(matcher, str):
        raise _error(origin, f"{key}.matcher", f"expected a string, got {matcher!r}")
    if matcher not in ("", "*"):
        try:
            re.compile(matcher)
        except re.error as error:
            raise _error(origin, f"{key}.matcher", f"not a regular expression ({error})") from None
    if "hooks" in entry:  # a matcher group, as Claude Code and Codex write them
        _unknown(entry, GROUP_KEYS, key, origin)
        handlers = entry["hooks"]
        if not isinstance(handlers, list) or not all(isinstance(handler, dict) for handler in handlers):
            raise _error(origin, f"{key}.hooks", "expected a list of tables")
        specs = []
        for index, handler in enumerate(handlers):
            at = f"{key}.hooks[{index}]"
            _unknown(handler, HANDLER_KEYS, at, origin)
            if handler.get("type", "command") != "command":
                raise _error(origin, f"{at}.type", f"only \"command\" hooks run here, got {handler['type']!r}")
            specs.append(_spec(event, matcher, handler, at, origin))
        return specs
    _unknown(entry, FLAT_KEYS, key, origin)
    return [_spec(event, matcher, entry, key, origin)]


def _spec(event: str, matcher: str, table: dict[str, Any], key: str, origin: str) -> HookSpec:
    command = table.get("command")
    if not isinstance(command, str) or not command.strip():
        raise _error(origin, f"{key}.command", f"expected a command line, got {command!r}")
    timeout = table.get("timeout_s", table.get("timeout", DEFAULT_TIMEOUT_S))
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise _error(origin, f"{key}.timeout_s", f"expected a positive number of seconds, got {timeout!r}")
    return HookSpec(event, command, matcher, float(timeout), origin)


def _unknown(table: dict[str, Any], known: frozenset[str], key: str, origin: str) -> None:
    if unknown := sorted(set(table) - known):
        raise _error(origin, key, f"unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")


def _error(origin: str, key: str, problem: str) -> HookConfigError:
    """One line, worded as the other settings' errors: "FILE: 'hooks.Stop[0].command': problem"."""
    return HookConfigError(f"{origin}: '{key}': {problem}")
