"""`ornith undo`: put the working tree back exactly as it was before a run's first edit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.markup import escape
from rich.prompt import Confirm

from ornith_local.agent.events import Checkpointed
from ornith_local.agent.sessions import SessionNotFound, find_session
from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.cli.output import CliError, stderr, stdout
from ornith_local.tools.base import ToolError
from ornith_local.tools.checkpoint import diff_since, get_checkpoint, undo

NAME = "undo"
HELP = "restore the working tree to the checkpoint before a run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", help="session id or unique prefix (default: the newest run that edited)")
    parser.add_argument("--repo", type=Path, help="the repository (default: where the run worked)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _checkpoint_of(path: Path) -> tuple[str, Path] | None:
    for event in read_events(path):
        if isinstance(event, Checkpointed):
            return event.id, Path(event.repo)
    return None


def run(args: argparse.Namespace) -> int:
    try:
        candidates = [find_session(args.session)] if args.session else list_sessions()
    except SessionNotFound as error:
        raise CliError(str(error)) from None
    found = next(((path, cp) for path in candidates if (cp := _checkpoint_of(path)) is not None), None)
    if found is None:
        what = f"session {args.session}" if args.session else "any recorded session"
        raise CliError(f"{what} made no edits: there is nothing to undo")
    session_path, (checkpoint_id, recorded_repo) = found
    repo = (args.repo or recorded_repo).resolve()
    try:
        checkpoint = get_checkpoint(repo, checkpoint_id)
        stat = diff_since(repo, checkpoint, stat_only=True).strip()
    except ToolError as error:
        raise CliError(str(error)) from None
    if not stat:
        stdout.print(f"The working tree already matches the checkpoint of session {session_path.stem}.")
        return 0
    stdout.print(f"Undo session [bold]{session_path.stem}[/] in {repo}: these changes will be reverted:\n{stat}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("confirmation needed: run in a terminal or pass --yes", exit_code=2)
        if not Confirm.ask("Restore the checkpoint?", console=stderr, default=False):
            stdout.print("Nothing changed.")
            return 1
    report = undo(repo, checkpoint)
    stdout.print(f"Restored {len(report.restored)} file(s), removed {len(report.deleted)} created since.")
    for refusal in report.refused:  # a link or special file a command left in the way: never written through
        stderr.print(f"[yellow]not restored:[/] {escape(refusal)}", highlight=False)
    if report.safety is not None:
        stdout.print(f"[dim]The state before this undo is saved as checkpoint {report.safety.id}.[/]")
    return 0
