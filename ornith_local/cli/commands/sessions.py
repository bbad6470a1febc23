"""`ornith sessions list|show|resume|export`: past runs from their JSONL trajectories."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.table import Table

from ornith_local.agent.sessions import (
    SessionNotFound,
    export_training_data,
    find_session,
    repo_root,
    resume_state,
    same_repo,
    summarize,
)
from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.cli.output import CliError, plain, stdout

NAME = "sessions"
HELP = "list, show, resume and export past runs"

OUTCOME_STYLE = {"verified": "green", "flagged": "bold red", "failed": "red", "aborted": "yellow",
                 "interrupted": "yellow", "error": "red",
                 "unverified": "yellow"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="past runs, newest first")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--limit", type=int, default=30)
    listing.add_argument("--all", action="store_true", help="every repo's runs (default: this repo's)")
    listing.add_argument("--repo", type=Path, help="the repository whose runs to list (default: the current one)")
    show = actions.add_parser("show", help="replay one run's trajectory")
    show.add_argument("session", nargs="?", help="session id or unique prefix (default: newest)")
    show.add_argument("--json", action="store_true", help="print the raw events")
    resume = actions.add_parser("resume", help="continue an interrupted run")
    resume.add_argument("session", nargs="?", help="session id or unique prefix (default: newest)")
    resume.add_argument("--mode", choices=["read-only", "ask", "auto"])
    resume.add_argument("--json", action="store_true")
    export = actions.add_parser("export", help="write verified, unflagged runs as chat training data (JSONL)")
    export.add_argument("output", type=Path, help="the .jsonl file to write")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            return _list(args)
        if args.action == "show":
            return _show(find_session(args.session), args.json)
        if args.action == "resume":
            return _resume(args)
        return _export(args.output)
    except SessionNotFound as error:
        raise CliError(str(error)) from None


def _list(args: argparse.Namespace) -> int:
    repo = repo_root(args.repo or Path.cwd())
    summaries = [summary for summary in map(summarize, list_sessions())
                 if args.all or (summary.repo is not None and same_repo(summary.repo, repo))][: args.limit]
    if args.json:
        print(json.dumps([{"session_id": s.session_id, "task": s.task, "outcome": s.outcome, "turns": s.turns,
                           "started": s.started, "tokens": s.tokens, "repo": s.repo} for s in summaries]))
        return 0
    if not summaries:
        where = "" if args.all else f" in {plain(repo)} (ornith sessions list --all for every repo)"
        stdout.print(f"No sessions yet{where}. Start one with: ornith run \"TASK\"")
        return 0
    table = Table(title="Sessions" + ("" if args.all else f" in {plain(repo)}"), title_justify="left")
    for column in ("id", "started", "outcome", "turns", "repo", "task"):
        table.add_column(column, overflow="fold" if column in ("task", "repo") else "ellipsis")
    for s in summaries:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started)) if s.started else "?"
        style = OUTCOME_STYLE.get(s.outcome, "")
        table.add_row(s.session_id, started, f"[{style}]{plain(s.outcome)}[/]", str(s.turns), plain(s.repo or "?"),
                      plain(s.task[:80]))
    stdout.print(table)
    return 0


def _show(path: Path, as_json: bool) -> int:
    from ornith_local.cli.commands.run import EventPrinter

    if as_json:
        for event in read_events(path):
            data = event.to_json()
            print(json.dumps({"type": data.pop("type"), "time": event.time, **data}))
        return 0
    printer = EventPrinter(replay=True)
    for event in read_events(path):
        printer(event)
    return 0


def _resume(args: argparse.Namespace) -> int:
    from ornith_local.cli.commands.run import execute

    path = find_session(args.session)
    try:
        state = resume_state(path)
    except ValueError as error:
        raise CliError(str(error)) from None
    repo = Path(state.options.get("repo") or Path.cwd())
    return execute(task=state.task, repo=repo, args=args, resume=state, session_id=path.stem)


def _export(output: Path) -> int:
    if output.exists() and output.is_dir():
        raise CliError(f"{output} is a directory; name a .jsonl file")
    try:
        exported, skipped = export_training_data(reversed(list_sessions()), output)
    except OSError as error:
        raise CliError(f"{output}: cannot write: {error.strerror}") from None
    stdout.print(f"Exported {exported} verified run(s) to {output}; skipped {skipped} (unverified or flagged).")
    return 0
