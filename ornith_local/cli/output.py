"""Shared terminal output for the CLI: one rich console for results, one for messages and errors.

Rich reads `[...]` as markup, so any text that comes from the user or from data (paths, tasks, config
keys, model output) goes through `plain()` before it is printed with markup: otherwise `[agent]` vanishes
from a message and a path containing `[/]` raises instead of being shown.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


class CliError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def plain(text: object) -> str:
    """`text` shown exactly as written inside a markup string."""
    return escape(str(text))


def fail(message: str) -> None:
    stderr.print(f"[bold red]ornith: error:[/] {plain(message)}", soft_wrap=True, markup=True)
