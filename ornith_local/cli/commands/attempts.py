"""`ornith run --attempts N` (the rendering) and `ornith attempts apply SESSION K`: apply another attempt than the
one the ranking chose. `ornith undo --session SESSION` still restores the tree from before any was applied."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ornith_local.agent import events
from ornith_local.agent.sessions import SessionNotFound, find_session, repo_root, same_repo
from ornith_local.agent.trajectory import read_events
from ornith_local.attempts import AttemptsResult, Policy, apply_checkpoint, run_attempts
from ornith_local.cli.output import CliError, plain, stderr, stdout
from ornith_local.guard.approvals import Ask
from ornith_local.llm.backend import Backend
from ornith_local.llm.factory import open_backends
from ornith_local.session import RunRequest, SetupError, model_settings
from ornith_local.tools.base import ToolError

NAME = "attempts"
HELP = "apply another attempt of a run made with --attempts"
OUTCOME_STYLE = {"verified": "green", "flagged": "red", "aborted": "dim"}
EXIT_CODES: dict[str, int] = {"verified": 0, "failed": 1, "unverified": 3, "flagged": 4, "aborted": 5, "error": 6}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    apply = sub.add_parser("apply", help="make the tree exactly attempt K's (the state it replaces is saved)")
    apply.add_argument("session", help="the run's session id (or a unique prefix)")
    apply.add_argument("number", type=int, help="the attempt's number, as the ranking lists it")
    apply.add_argument("--repo", type=Path, help="the repository (default: the current directory's)")


def print_ranking(event: events.AttemptsRanked) -> None:
    table = Table(title="\nAttempts", title_justify="left", box=None, padding=(0, 2))
    for column in ("#", "outcome", "judge", "diff", "evidence"):
        table.add_column(column)
    for attempt in event.attempts:
        mark = "→ " if attempt["number"] == event.chosen else "  "
        style = OUTCOME_STYLE.get(attempt["outcome"], "yellow")
        table.add_row(f"{mark}{attempt['number']}", f"[{style}]{escape(attempt['outcome'])}[/]",
                      escape(attempt.get("judge") or "-"), escape(attempt.get("diffstat") or "no change"),
                      escape(attempt.get("evidence") or attempt.get("reason") or ""))
    stdout.print(table)
    stdout.print(f"applied: {plain(event.reason)}" if event.chosen else f"[yellow]nothing applied:[/] "
                 f"{plain(event.reason)}", soft_wrap=True)


def _backends(request: RunRequest, n: int) -> list[Backend] | None:
    """One backend per attempt, so they run at once: N requests to an endpoint, or N sequences of one in-process
    context decoded in shared batches. None (one after another on one backend) when they cannot be opened."""
    try:
        return open_backends(model_settings(request), model=request.model, n=n)
    except Exception as error:  # a plan that does not fit N contexts, a model llama.cpp cannot batch: still works
        stderr.print(f"[yellow]note:[/] attempts run one after another ({plain(str(error))})", soft_wrap=True)
        return None


def _close(backends: list[Backend] | None) -> None:
    """Free the shared in-process context (its N sequences' backends all hold it)."""
    from ornith_local.llm.parallel_backend import ParallelSequenceBackend  # numpy: only once attempts ran

    engines = {id(b.engine): b.engine for b in backends or () if isinstance(b, ParallelSequenceBackend)}
    for engine in engines.values():
        engine.close()


def run_with_attempts(request: RunRequest, n: int, policy: Policy, *, as_json: bool,
                      printer: Callable[[events.Event], None], ask: Ask | None,
                      summary: Callable[[AttemptsResult], None]) -> int:
    def emit(number: int | None, event: events.Event) -> None:
        if as_json:
            data = event.to_json()
            print(json.dumps({"event": data.pop("type"), "attempt": number, **data}, default=str), flush=True)
        else:
            if isinstance(event, events.RunStarted):
                stdout.print(f"\n[bold]attempt {number} of {n}[/]")
            printer(event)  # the ranking too

    backends = None
    try:
        with stderr.status("loading the model…"):
            backends = _backends(request, n)
        done = run_attempts(request, n, emit=emit, policy=policy, backends=backends, ask=ask)
    except SetupError as error:
        raise CliError(str(error)) from None
    except KeyboardInterrupt:
        stderr.print("\n[yellow]interrupted.[/] the attempts stopped; your tree is as it was", highlight=False)
        return 130
    finally:
        _close(backends)
    summary(done)
    outcome = done.result.outcome if done.result else "failed"
    return EXIT_CODES[outcome]


def _ranking(path: Path) -> tuple[events.AttemptsRanked, str | None]:
    ranked, repo = None, None
    for event in read_events(path):
        if isinstance(event, events.AttemptsRanked):
            ranked = event
        elif isinstance(event, events.Checkpointed):
            repo = event.repo
    if ranked is None:
        raise CliError(f"session {path.stem} did not run attempts (ornith run --attempts N)")
    return ranked, repo


def run(args: argparse.Namespace) -> int:
    repo = repo_root(args.repo or Path.cwd())
    try:
        path = find_session(args.session)
    except SessionNotFound as error:
        raise CliError(str(error)) from None
    ranked, recorded = _ranking(path)
    if recorded is not None and not same_repo(recorded, repo):
        raise CliError(f"session {path.stem} worked in {recorded}, not in {repo} (pass --repo {recorded})", 2)
    found: dict[str, Any] | None = next((a for a in ranked.attempts if a["number"] == args.number), None)
    if found is None or not found.get("checkpoint"):
        numbers = ", ".join(str(a["number"]) for a in ranked.attempts if a.get("checkpoint"))
        raise CliError(f"session {path.stem} has no attempt {args.number} to apply (it has: {numbers or 'none'})", 2)
    try:
        safety = apply_checkpoint(repo, str(found["checkpoint"]))
    except (ToolError, SetupError) as error:
        raise CliError(str(error)) from None
    stdout.print(f"Applied attempt {args.number} ({plain(found['outcome'])}, {plain(found.get('diffstat') or '')}).")
    if safety is not None:
        stdout.print(f"The state it replaced is checkpoint {safety.id}: ornith undo --checkpoint {safety.id}",
                     soft_wrap=True)
    stdout.print(f"To go back to before every attempt: ornith undo --session {path.stem} --repo {plain(repo)}",
                 soft_wrap=True)
    return 0
