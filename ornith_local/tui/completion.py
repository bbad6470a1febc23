"""What the task input offers while you type: slash commands at the start, `@path` for repo files.

Pure functions over the text before the cursor, so they are tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    name: str  # without the slash
    usage: str
    help: str


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("model", "/model [NAME]", "show the models on this machine, or switch to NAME"),
    SlashCommand("mode", "/mode [read-only|ask|auto]", "what may change without asking (no argument: next mode)"),
    SlashCommand("undo", "/undo", "restore the files to the checkpoint before the last run's first edit"),
    SlashCommand("diff", "/diff", "the changes since the last run's checkpoint"),
    SlashCommand("sessions", "/sessions", "past runs: replay one, resume an interrupted one"),
    SlashCommand("scaffold", "/scaffold [self|fixed]", "show the current scaffold, or choose who writes it"),
    SlashCommand("attempts", "/attempts [N|show|apply K]", "attempts per task, or the last run's ranking"),
    SlashCommand("help", "/help", "keys and commands"),
    SlashCommand("clear", "/clear", "clear the transcript"),
    SlashCommand("quit", "/quit", "leave ornith"),
)
MAX_SUGGESTIONS = 8


@dataclass(frozen=True)
class Suggestion:
    replace_from: int  # index into the text before the cursor where the completed token starts
    value: str  # what replaces text[replace_from:cursor]
    label: str  # what the list shows
    detail: str = ""


def current_token(before_cursor: str) -> tuple[int, str]:
    """The whitespace-delimited token that ends at the cursor, with where it starts."""
    start = len(before_cursor)
    while start > 0 and not before_cursor[start - 1].isspace():
        start -= 1
    return start, before_cursor[start:]


def suggest(before_cursor: str, files: Sequence[str]) -> list[Suggestion]:
    """Suggestions for the token at the cursor: `/cmd` at the very start of the input, `@path` anywhere."""
    start, token = current_token(before_cursor)
    if token.startswith("/") and start == 0 and "\n" not in before_cursor:
        typed = token[1:].lower()
        matches = [command for command in SLASH_COMMANDS if command.name.startswith(typed)]
        matches.sort(key=lambda command: command.name != typed)  # an exact match first: /mode before /model
        return [Suggestion(0, f"/{command.name} ", command.usage, command.help) for command in matches]
    if token.startswith("@"):
        return [Suggestion(start, f"@{path} ", path) for path in match_paths(token[1:], files)]
    return []


def match_paths(typed: str, files: Sequence[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Files matching what was typed: path prefix first, then name prefix, then substring; stable order."""
    needle = typed.lower()
    if not needle:
        return list(files[:limit])
    ranked: list[tuple[int, int, str]] = []
    for order, path in enumerate(files):
        lowered = path.lower()
        name = lowered.rsplit("/", 1)[-1]
        if lowered.startswith(needle):
            rank = 0
        elif name.startswith(needle):
            rank = 1
        elif needle in lowered:
            rank = 2
        elif _subsequence(needle, lowered):
            rank = 3
        else:
            continue
        ranked.append((rank, order, path))
    ranked.sort()
    return [path for _, _, path in ranked[:limit]]


def _subsequence(needle: str, haystack: str) -> bool:
    position = 0
    for char in needle:
        position = haystack.find(char, position) + 1
        if position == 0:
            return False
    return True


def parse_slash(text: str) -> tuple[str, str] | None:
    """("mode", "auto") for "/mode auto"; None when the text is a task, not a command."""
    stripped = text.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return None
    name, _, argument = stripped[1:].partition(" ")
    return name.lower(), argument.strip()
