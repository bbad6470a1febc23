"""`ornith run "TASK"`: the agent headless, streaming progress, or one JSON event per line with --json."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

from ornith_local.agent import events
from ornith_local.agent.deps import timing_parts
from ornith_local.agent.evidence import Evidence
from ornith_local.agent.sessions import ResumeState
from ornith_local.agent.state import RunResult
from ornith_local.cli.argtypes import context_size, endpoint_url
from ornith_local.cli.commands.trust import ask_to_trust
from ornith_local.cli.output import CliError, plain, stderr, stdout
from ornith_local.config import load_config
from ornith_local.models.choice import choose_model
from ornith_local.models.gguf import ModelFileError
from ornith_local.models.local import resolve_model_path
from ornith_local.models.threads import thread_plan
from ornith_local.models.tiny import TinyModelUnavailable
from ornith_local.sandbox.terminal import strip_controls_deep, strip_terminal_controls
from ornith_local.session import RunRequest, SetupError, open_run
from ornith_local.tools.base import CallPreview
from ornith_local.tools.testing import CANNOT_RUN, NO_SUITE

if TYPE_CHECKING:
    from ornith_local.attempts import AttemptsResult

NAME = "run"
HELP = "run a task headless: propose a scaffold, work inside it, verify"

STATUS_STYLE = {"done": "green", "replan": "yellow", "failed": "red", "abort": "red"}
# One exit status per outcome, so a script can tell them apart (2: bad usage, 130: interrupted).
EXIT_CODES: dict[str, int] = {"verified": 0, "failed": 1, "unverified": 3, "flagged": 4, "aborted": 5, "error": 6}
EPILOG = ("exit status: 0 verified, 1 failed, 2 bad usage, 3 unverified (the checks pass but nothing showed the "
             "problem fixed), 4 flagged (gaming suspected), 5 aborted, 6 error, 130 interrupted")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="what to do, as you would tell a colleague")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the repository to work in (default: .)")
    parser.add_argument("--model", help="catalog name or path to a .gguf (default: config, else the most "
                        "capable installed)")
    parser.add_argument("--endpoint", type=endpoint_url,
                        help="OpenAI-compatible server URL instead of in-process llama.cpp")
    parser.add_argument("--mode", choices=["read-only", "ask", "auto"], help="what may change without asking")
    parser.add_argument("--scaffold", choices=["self", "fixed"], help="self-written scaffold or the fixed baseline")
    parser.add_argument("--max-turns", type=int, help="hard cap on model turns for the whole run")
    parser.add_argument("--check", action="append", default=[], metavar="CMD",
                        help="acceptance command (default: the detected test command); repeatable")
    parser.add_argument("--allow-test-edits", action="store_true", help="let the agent edit tests and CI files")
    parser.add_argument("--allow-network", action="store_true", help="let commands in the sandbox use the network")
    parser.add_argument("--no-library", action="store_true", help="do not show past scaffolds to the model")
    parser.add_argument("--no-judge", action="store_true", help="skip the model's review of the final diff")
    parser.add_argument("--n-ctx", type=context_size, help="context window in tokens (default: planned from hardware)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    parser.add_argument("--attempts", type=int, metavar="N", help="N attempts, each in its own git worktree; the "
                        "verifier picks the one applied (default: [agent] attempts, 1)")
    parser.add_argument("--attempts-policy", choices=["best", "first"],
                        help="best: run every attempt, then rank; first: stop at the first verified")


PROGRESS_LOG_EVERY_S = 10.0


class EventPrinter:
    """Renders the loop's events for a person; `sessions show` replays a trajectory through it too."""

    def __init__(self, replay: bool = False, stream_text: bool = False) -> None:
        self.replay = replay
        self.stream_text = stream_text
        self.progress_logged_at: float | None = None  # into a log: when the last progress line was written
        self.live_line = False  # on a terminal: a progress line is showing, to be cleared before the next output

    def __call__(self, event: events.Event) -> None:
        # Tool output and model text (live or replayed) lose their escape sequences: no OSC 52, no cursor moves.
        event = strip_controls_deep(event)
        if not isinstance(event, (events.Prefilling, events.Writing)):
            self.close_progress()
        match event:
            case events.Prefilling():
                self.prefilling(event)
            case events.Writing():
                self.progress(f"  writing {event.what}: {event.counted} ({event.elapsed_s:.0f} s)", event.elapsed_s)
            case events.RunStarted():
                stdout.print(f"[bold]Task:[/] {escape(event.task)}")
                stdout.print(f"[dim]model {event.backend} · n_ctx {event.n_ctx} · mode {event.mode} · "
                             f"scaffold {event.scaffold_mode} · sandbox {event.sandbox}"
                             + (f" · quirks {', '.join(event.quirks)}" if event.quirks else "")
                             + (f" · thinks first (≤{event.thinking:,} tokens)" if event.thinking else "") + "[/]")
                if event.tests:
                    style = "red" if event.tests.startswith((CANNOT_RUN, NO_SUITE)) else "dim"
                    stdout.print(f"[{style}]tests: {escape(event.tests)}[/]", soft_wrap=True)
            case events.ScaffoldChosen():
                self.scaffold(event)
            case events.StepStarted():
                stdout.print(f"\n[bold cyan]▶ step {event.index}/{event.total}: {escape(event.step)}[/]")
            case events.ModelTurn():
                self.model_turn(event)
            case events.ToolCalled():
                stdout.print(f"  [bold]→ {event.tool}[/] {escape(json.dumps(event.arguments)[:160])}")
                for finding in event.findings:
                    stdout.print(f"    [red]refused:[/] {escape(str(finding.get('detail')))}")
            case events.ToolFinished():
                mark = "[green]✓[/]" if event.ok else "[red]✗[/]"
                stdout.print(f"    {mark} {escape(event.title[:160])}")
                if event.diff:
                    stdout.print(Syntax(event.diff, "diff", theme="ansi_dark", background_color="default"))
            case events.QuirkApplied():
                stdout.print(f"    [yellow]{event.quirk}:[/] [dim]{escape(event.detail)}[/]")
            case events.SetupWarning():
                stdout.print(f"[yellow]warning:[/] {escape(event.text)}")
            case events.HookRan() if event.status != "ok":  # a hook that blocked, spoke or failed; quiet ones are not
                style = "yellow" if event.status in ("blocked", "feedback") else "red"
                stdout.print(f"    [{style}]hook {event.hook_event} {event.status}:[/] "
                             f"[dim]{escape(event.detail.splitlines()[0] if event.detail else event.command)}[/]")
            case events.StepEnded():
                style = STATUS_STYLE.get(event.status, "")
                stdout.print(f"  [{style}]{event.status}[/]: {escape(event.summary)}")
            case events.Replanned():
                stdout.print(f"\n[yellow]↺ replanning:[/] {escape(event.reason)}")
            case events.Compacted():
                stdout.print(f"  [dim]context compacted ({event.tokens_before} tokens → budget {event.budget})[/]")
            case events.ChecksRan():
                stdout.print("\n[bold]Checks[/]")
                for check in event.checks:
                    mark = "[green]✓[/]" if check["passed"] else "[red]✗[/]"
                    stdout.print(f"  {mark} {escape(check['command'])}: {escape(check['summary'])}")
                if event.evidence is not None:
                    stdout.print(f"  [bold]evidence:[/] {escape(Evidence.from_json(event.evidence).summary())}")
            case events.Reproduction():
                stdout.print(f"    [cyan]{escape(event.detail)}[/]")
            case events.Judged():
                style = "green" if event.verdict == "approve" else "red"
                stdout.print(f"[bold]Judge:[/] [{style}]{event.verdict}[/] — {escape(event.reason)}")
            case events.AttemptsRanked():  # `sessions show` of a run with attempts: the ranking
                from ornith_local.cli.commands.attempts import print_ranking

                print_ranking(event)
            case events.RunEnded() if self.replay:
                stdout.print(f"\n[bold]Outcome:[/] {event.outcome}" + (f" ({escape(event.reason)})" if event.reason
                                                                       else ""))

    def scaffold(self, event: events.ScaffoldChosen) -> None:
        scaffold = event.scaffold
        tree = Tree(f"[bold]Scaffold[/] ({scaffold['task_kind']}): {escape(scaffold['goal'])}")
        for index, step in enumerate(scaffold["steps"], 1):
            budget = f"{', '.join(step['tools'])}; {step['turn_budget']} turns; on failure {step['on_failure']}"
            tree.add(f"{index}. [bold]{escape(step['name'])}[/] — {escape(step['intent'])} [dim]({budget})[/]")
        for check in scaffold.get("acceptance_checks", []):
            tree.add(f"[dim]check:[/] {escape(check)}")
        stdout.print(tree)
        for note in event.clamp_notes:
            stdout.print(f"  [yellow]clamped:[/] {escape(note)}")

    def prefilling(self, event: events.Prefilling) -> None:
        done = event.evaluated >= event.total
        self.progress(f"  reading the prompt: {event.evaluated:,}/{event.total:,} tokens ({event.elapsed_s:.0f} s)",
                      event.elapsed_s, done)

    def progress(self, line: str, elapsed_s: float, done: bool = False) -> None:
        """Live progress (a prompt read, a plan written): one line rewritten in place on a terminal, closed by the
        next event; into a log, a line every few seconds."""
        if stderr.is_terminal:
            self.live_line = not done
            stderr.file.write("\r\x1b[K" if done else f"\r{line}\x1b[K")
            stderr.file.flush()
            return
        last = self.progress_logged_at
        if done or last is None or elapsed_s - last >= PROGRESS_LOG_EVERY_S or elapsed_s < last:
            stderr.print(line, markup=False, highlight=False)
            self.progress_logged_at = None if done else elapsed_s

    def close_progress(self) -> None:
        if self.live_line:
            self.progress("", 0.0, done=True)
        self.progress_logged_at = None

    def model_turn(self, event: events.ModelTurn) -> None:
        stats = event.stats
        if self.replay:
            stdout.print(f"[dim]{escape(event.text[:400])}[/]")
        elif self.stream_text:
            stdout.print()
        stdout.print(f"  [dim]turn {event.turn}: {stats.get('generated_tokens')} tokens · "
                     f"{' · '.join(timing_parts(stats))} · {float(stats.get('total_s') or 0):.1f} s[/]")
        for problem in event.problems:
            stdout.print(f"  [yellow]parse:[/] {escape(problem)}")


def print_summary(result: RunResult, repo: Path) -> None:
    outcome_style = {"verified": "bold green", "flagged": "bold red"}.get(result.outcome, "bold yellow")
    label = "gaming suspected" if result.outcome == "flagged" else result.outcome
    table = Table(show_header=False, box=None, padding=(0, 2), title="\nSummary", title_justify="left")
    table.add_row("outcome", f"[{outcome_style}]{label}[/]" + (f" ({escape(result.reason)})" if result.reason else ""))
    checks = ", ".join(f"{c.name}: {'pass' if c.passed else 'fail'}" for c in result.checks)
    table.add_row("checks", checks or "none ran")
    if result.evidence is not None:
        table.add_row("evidence", escape(result.evidence.summary()))
    flags = [f for f in result.findings if f.flags_run]
    notices = [f for f in result.findings if not f.flags_run]
    table.add_row("guard", "sandbox ✓ · monitor: " + (
        ", ".join(f"{f.rule} ({f.path or f.detail})" for f in flags) if flags else "clean")
        + (f" ({len(notices)} refused call(s))" if notices else "")
        + " · judge: " + (result.judge["verdict"] if result.judge else "not run"))
    table.add_row("tokens", f"{result.tokens['evaluated']} evaluated of {result.tokens['prompt']} prompt, "
                            f"{result.tokens['generated']} generated")
    table.add_row("time", f"{result.elapsed_s:.1f} s, {result.turns} turns")
    table.add_row("files changed", ", ".join(result.files_changed) or "none")
    if result.files_changed:
        table.add_row("undo", f"ornith undo --session {result.session_id} --repo {repo}")
    table.add_row("session", result.session_id)
    stdout.print(table)


def _ask(tool: str, preview: CallPreview, tier: str) -> str:
    """The approval prompt: the tool's own preview of the call (the diff it would make, the command it would run)."""
    preview = strip_controls_deep(preview)
    stderr.print(f"\n[bold]Allow[/] {escape(preview.title)} [dim](tool {tool} · sandbox: {tier})[/]")
    if preview.kind == "diff":
        stderr.print(Syntax(preview.text, "diff", theme="ansi_dark", background_color="default"))
    else:
        stderr.print(f"  {escape(preview.text)}", highlight=False)
    answer = Prompt.ask(r"\[y]es / \[n]o / \[a]lways for this run", choices=["y", "n", "a"], default="y",
                        console=stderr)
    return {"y": "yes", "n": "no", "a": "always"}[answer]


def check_model_exists(name: str | None, endpoint: str | None) -> None:
    """A model that is not there, named before anything else can go wrong (the mode, the sandbox, git)."""
    if name is None or endpoint:
        return
    try:
        resolve_model_path(name)
    except (LookupError, FileNotFoundError, ModelFileError, TinyModelUnavailable) as error:
        raise CliError(str(error).strip("'\"")) from None


def execute(*, task: str, repo: Path, args: argparse.Namespace, resume: ResumeState | None = None,
            session_id: str | None = None) -> int:
    ask_to_trust(repo)
    config = load_config(repo)
    endpoint = getattr(args, "endpoint", None)
    pick = choose_model(replace(config.model, endpoint=endpoint or config.model.endpoint), getattr(args, "model", None))
    check_model_exists(pick.name, endpoint or config.model.endpoint)  # the real error before any about the mode
    mode = getattr(args, "mode", None) or (resume.options.get("mode") if resume else None) or config.agent.mode
    if mode == "ask" and not sys.stdin.isatty():
        raise CliError("ask mode needs a terminal to approve edits; use --mode auto or --mode read-only", 2)
    header = pick.describe()
    threads = None if endpoint or config.model.endpoint else thread_plan(config.model.threads)
    stderr.print(plain(header + (f" · {threads.describe()}" if threads else "")), soft_wrap=True)
    if threads and threads.busy:
        stderr.print(f"[yellow]note:[/] {plain(threads.busy)}", soft_wrap=True)
    as_json = bool(getattr(args, "json", False))

    def emit_json(event: events.Event) -> None:
        data = event.to_json()
        print(json.dumps({"event": data.pop("type"), **data}, default=str), flush=True)

    def emit_summary(data: dict[str, Any]) -> None:
        print(json.dumps({"event": "summary", **data}, default=str), flush=True)

    def on_text(piece: str) -> None:
        stdout.print(strip_terminal_controls(piece), end="", style="dim", markup=False, highlight=False)

    printer = EventPrinter(stream_text=sys.stdout.isatty())
    request = RunRequest(
        task=task, repo=repo, config=config, mode=mode,
        scaffold_mode=getattr(args, "scaffold", None) or (resume.options.get("scaffold_mode") if resume else None),
        model=pick.name, endpoint=endpoint,
        max_turns=getattr(args, "max_turns", None), checks=tuple(getattr(args, "check", []) or ()),
        allow_test_edits=bool(getattr(args, "allow_test_edits", False)),
        allow_network=bool(getattr(args, "allow_network", False)),
        use_library=not getattr(args, "no_library", False), use_judge=not getattr(args, "no_judge", False),
        n_ctx=getattr(args, "n_ctx", None), seed=getattr(args, "seed", 0), session_id=session_id,
    )
    attempts = getattr(args, "attempts", None) or config.agent.attempts
    if attempts > 1 and resume is None:
        from ornith_local.cli.commands.attempts import run_with_attempts

        policy = getattr(args, "attempts_policy", None) or config.agent.attempts_policy
        return run_with_attempts(request, attempts, policy, as_json=as_json, printer=printer, ask=_ask,
                                 summary=lambda done: _attempts_summary(done, repo, as_json, emit_summary))
    try:
        with stderr.status("loading the model…"):
            run = open_run(request, emit=emit_json if as_json else printer,
                           on_text=None if as_json or not sys.stdout.isatty() else on_text, ask=_ask)
    except SetupError as error:
        raise CliError(str(error)) from None
    with run:
        try:
            result = run.loop.run(task, resume=resume)
        except KeyboardInterrupt:
            # The trajectory has no end event, so the run can be picked up where it stopped.
            session = run.trajectory.session_id
            stderr.print(f"\n[yellow]interrupted.[/] session {session}; resume it with: "
                         f"ornith sessions resume {session}", highlight=False, soft_wrap=True)
            return 130
    if as_json:
        emit_summary(summary_json(result, repo))
    else:
        print_summary(result, repo)
    return EXIT_CODES[result.outcome]


def _attempts_summary(done: AttemptsResult, repo: Path, as_json: bool,
                      emit_summary: Callable[[dict[str, Any]], None]) -> None:
    """The chosen attempt's summary, under the parent session (whose undo restores the tree from before)."""
    if as_json:
        emit_summary({**(summary_json(done.result, repo) if done.result else {
            "session_id": done.session_id, "outcome": "failed", "exit_code": EXIT_CODES["failed"]}),
            "attempt": done.chosen, "attempts": [attempt.to_json() for attempt in done.attempts]})
    elif done.result is not None:
        print_summary(done.result, repo)


def summary_json(result: RunResult, repo: Path) -> dict[str, Any]:
    return {"session_id": result.session_id, "outcome": result.outcome, "reason": result.reason,
            "exit_code": EXIT_CODES[result.outcome], "checks": [check.to_json() for check in result.checks],
            "evidence": result.evidence.to_json() if result.evidence else None,
            "findings": [finding.to_json() for finding in result.findings], "judge": result.judge,
            "turns": result.turns, "tokens": result.tokens, "elapsed_s": result.elapsed_s,
            "files_changed": result.files_changed, "error": result.error,
            "undo": f"ornith undo --session {result.session_id} --repo {repo}"}


def run(args: argparse.Namespace) -> int:
    if not args.task.strip():
        raise CliError("the task is empty", exit_code=2)
    if args.max_turns is not None and args.max_turns < 1:
        raise CliError("--max-turns must be at least 1", exit_code=2)
    if args.attempts is not None and args.attempts < 1:
        raise CliError("--attempts must be at least 1", exit_code=2)
    repo = args.repo.resolve()
    if not repo.is_dir():
        raise CliError(f"{args.repo}: not a directory", exit_code=2)
    return execute(task=args.task, repo=repo, args=args)
