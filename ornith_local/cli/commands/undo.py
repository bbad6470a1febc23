"""`ornith undo`: put the working tree back exactly as it was before a run's first edit.

Undo belongs to a repo: with no `--session` it reverts the newest run that edited *this* repo (the
current directory's, or `--repo`), and it refuses a session recorded in another repo unless `--repo`
names that repo, so a run in repo B is never reverted from repo A unseen. Every undo first saves the
state it replaces as a checkpoint, and `ornith undo --checkpoint ID` restores that one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.markup import escape
from rich.prompt import Confirm

from ornith_local.agent.events import Checkpointed
from ornith_local.agent.sessions import SessionNotFound, find_session, repo_root, same_repo
from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.cli.output import CliError, plain, stderr, stdout
from ornith_local.tools.base import ToolError
from ornith_local.tools.checkpoint import Checkpoint, diff_since, get_checkpoint, undo

NAME = "undo"
HELP = "restore the working tree to the checkpoint before a run (in this repo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", help="session id or unique prefix (default: this repo's newest run that edited)")
    parser.add_argument("--checkpoint", metavar="ID", help="restore this checkpoint instead, e.g. the safety "
                        "checkpoint an earlier undo printed")
    parser.add_argument("--repo", type=Path, help="the repository (default: the current directory's)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _checkpoint_of(path: Path) -> tuple[str, Path] | None:
    for event in read_events(path):
        if isinstance(event, Checkpointed):
            return event.id, Path(event.repo)
    return None


def _target(args: argparse.Namespace, repo: Path) -> tuple[str, str]:
    """(checkpoint id, what it is, for the messages) in `repo`."""
    if args.checkpoint:
        return args.checkpoint, f"checkpoint {args.checkpoint}"
    if args.session:
        try:
            path = find_session(args.session)
        except SessionNotFound as error:
            raise CliError(str(error)) from None
        found = _checkpoint_of(path)
        if found is None:
            raise CliError(f"session {path.stem} made no edits: there is nothing to undo")
        checkpoint_id, recorded = found
        if not same_repo(recorded, repo):
            raise CliError(f"session {path.stem} worked in {recorded}, not in {repo}; to undo it there: "
                           f"ornith undo --session {path.stem} --repo {recorded}", exit_code=2)
        return checkpoint_id, f"session {path.stem}"
    for path in list_sessions():
        found = _checkpoint_of(path)
        if found is not None and same_repo(found[1], repo):
            return found[0], f"session {path.stem}"
    raise CliError(f"no run made edits in {repo}: nothing to undo (ornith sessions list --all shows every repo)")


def run(args: argparse.Namespace) -> int:
    repo = repo_root(args.repo or Path.cwd())
    checkpoint_id, what = _target(args, repo)
    try:
        checkpoint: Checkpoint = get_checkpoint(repo, checkpoint_id)
        stat = diff_since(repo, checkpoint, stat_only=True).strip()
    except ToolError as error:
        raise CliError(str(error)) from None
    if not stat:
        stdout.print(f"The working tree already matches {plain(what)}.")
        return 0
    stdout.print(f"Undo {plain(what)} in {plain(repo)}: these changes will be reverted:\n{plain(stat)}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("confirmation needed: run in a terminal or pass --yes", exit_code=2)
        if not Confirm.ask("Restore the checkpoint?", console=stderr, default=False):
            stdout.print("Nothing changed.")
            return 1
    try:
        report = undo(repo, checkpoint)
    except ToolError as error:
        raise CliError(str(error)) from None
    stdout.print(f"Restored {len(report.restored)} file(s), removed {len(report.deleted)} created since.")
    for refusal in report.refused:  # a link or special file a command left in the way: never written through
        stderr.print(f"[yellow]not restored:[/] {escape(refusal)}", highlight=False)
    if report.safety is not None:
        stdout.print(f"The state before this undo is saved as checkpoint {report.safety.id}; to get it back: "
                     f"ornith undo --checkpoint {report.safety.id} --repo {plain(repo)}", soft_wrap=True)
    return 0
