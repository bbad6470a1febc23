"""Shared terminal output for the CLI: one rich console for results, one for messages and errors."""

from __future__ import annotations

from rich.console import Console

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


class CliError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str) -> None:
    stderr.print(f"[bold red]ornith: error:[/] {message}", soft_wrap=True, markup=True)
