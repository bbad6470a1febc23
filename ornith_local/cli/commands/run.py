"""`ornith run "TASK"`: the agent headless, streaming progress, or one JSON event per line with --json."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

from ornith_local.agent.runtime import RunResult
from ornith_local.agent.sessions import ResumeState
from ornith_local.agent.wiring import RunRequest, SetupError, open_run
from ornith_local.cli.argtypes import context_size, endpoint_url
from ornith_local.cli.output import CliError, plain, stderr, stdout
from ornith_local.config import load_config
from ornith_local.llm.gguf import ModelFileError
from ornith_local.models.choice import choose_model
from ornith_local.models.local import resolve_model_path
from ornith_local.models.threads import thread_plan
from ornith_local.models.tiny import TinyModelUnavailable

NAME = "run"
HELP = "run a task headless: propose a scaffold, work inside it, verify"

STATUS_STYLE = {"done": "green", "replan": "yellow", "failed": "red", "abort": "red"}


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


class EventPrinter:
    """Renders runtime events for a person; `sessions show` replays a trajectory through it too."""

    def __init__(self, replay: bool = False, stream_text: bool = False) -> None:
        self.replay = replay
        self.stream_text = stream_text

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event}", None)
        if handler is not None:
            handler(data)

    def on_start(self, data: dict[str, Any]) -> None:
        stdout.print(f"[bold]Task:[/] {escape(str(data.get('task', '')))}")
        stdout.print(f"[dim]model {data.get('backend')} · n_ctx {data.get('n_ctx')} · mode {data.get('mode')} · "
                     f"scaffold {data.get('scaffold_mode')} · sandbox {data.get('sandbox', '?')}[/]")

    def on_scaffold(self, data: dict[str, Any]) -> None:
        scaffold = data["scaffold"]
        tree = Tree(f"[bold]Scaffold[/] ({scaffold['task_kind']}): {escape(scaffold['goal'])}")
        for index, step in enumerate(scaffold["steps"], 1):
            budget = f"{', '.join(step['tools'])}; {step['turn_budget']} turns; on failure {step['on_failure']}"
            tree.add(f"{index}. [bold]{escape(step['name'])}[/] — {escape(step['intent'])} [dim]({budget})[/]")
        for check in scaffold.get("acceptance_checks", []):
            tree.add(f"[dim]check:[/] {escape(check)}")
        stdout.print(tree)
        for note in data.get("clamp_notes", []):
            stdout.print(f"  [yellow]clamped:[/] {escape(note)}")

    def on_step_start(self, data: dict[str, Any]) -> None:
        stdout.print(f"\n[bold cyan]▶ step {data['index']}/{data['total']}: {escape(data['step'])}[/]")

    def on_model_turn(self, data: dict[str, Any]) -> None:
        stats = data.get("stats", {})
        if self.replay:
            stdout.print(f"[dim]{escape(data.get('text', '')[:400])}[/]")
        elif self.stream_text:
            stdout.print()
        stdout.print(f"  [dim]turn {data['turn']}: {stats.get('evaluated_prompt_tokens')}/{stats.get('prompt_tokens')}"
                     f" prompt tokens evaluated, {stats.get('generated_tokens')} generated, "
                     f"{stats.get('total_s')} s[/]")
        for problem in data.get("problems", []):
            stdout.print(f"  [yellow]parse:[/] {escape(problem)}")

    def on_tool_call(self, data: dict[str, Any]) -> None:
        arguments = json.dumps(data.get("arguments", {}))
        stdout.print(f"  [bold]→ {data['tool']}[/] {escape(arguments[:160])}")
        for finding in data.get("findings", []):
            stdout.print(f"    [red]refused:[/] {escape(str(finding.get('detail')))}")

    def on_tool_result(self, data: dict[str, Any]) -> None:
        mark = "[green]✓[/]" if data.get("ok") else "[red]✗[/]"
        stdout.print(f"    {mark} {escape(str(data.get('title') or '')[:160])}")
        if data.get("diff"):
            stdout.print(Syntax(data["diff"], "diff", theme="ansi_dark", background_color="default"))

    def on_loop_broken(self, data: dict[str, Any]) -> None:
        stdout.print(f"    [yellow]repeated call to {data['tool']} not run again[/]")

    def on_step_end(self, data: dict[str, Any]) -> None:
        style = STATUS_STYLE.get(data["status"], "")
        stdout.print(f"  [{style}]{data['status']}[/]: {escape(str(data.get('summary', '')))}")

    def on_replan(self, data: dict[str, Any]) -> None:
        stdout.print(f"\n[yellow]↺ replanning:[/] {escape(str(data.get('reason', '')))}")

    def on_compacted(self, data: dict[str, Any]) -> None:
        stdout.print(f"  [dim]context compacted ({data.get('tokens_before')} tokens → budget {data.get('budget')})[/]")

    def on_checks(self, data: dict[str, Any]) -> None:
        stdout.print("\n[bold]Checks[/]")
        for check in data.get("checks", []):
            mark = "[green]✓[/]" if check["passed"] else "[red]✗[/]"
            stdout.print(f"  {mark} {escape(check['command'])}: {escape(check['summary'])}")

    def on_judge(self, data: dict[str, Any]) -> None:
        style = "green" if data.get("verdict") == "approve" else "red"
        stdout.print(f"[bold]Judge:[/] [{style}]{data.get('verdict')}[/] — {escape(str(data.get('reason', '')))}")

    def on_end(self, data: dict[str, Any]) -> None:
        if self.replay:
            stdout.print(f"\n[bold]Outcome:[/] {data.get('outcome')}")


def print_summary(result: RunResult, repo: Path) -> None:
    outcome_style = {"verified": "bold green", "flagged": "bold red"}.get(result.outcome, "bold yellow")
    label = "gaming suspected" if result.outcome == "flagged" else result.outcome
    table = Table(show_header=False, box=None, padding=(0, 2), title="\nSummary", title_justify="left")
    table.add_row("outcome", f"[{outcome_style}]{label}[/]" + (f" ({escape(result.error)})" if result.error else ""))
    checks = ", ".join(f"{c.name}: {'pass' if c.passed else 'fail'}" for c in result.checks)
    table.add_row("checks", checks or "none ran")
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


def _ask(tool: str, arguments: dict[str, Any], tier: str) -> str:
    detail = arguments.get("command") or arguments.get("path") or ""
    stderr.print(f"\n[bold]Allow {tool}[/] {escape(str(detail))} [dim](sandbox: {tier})[/]")
    if tool == "edit_file":
        stderr.print(Syntax(f"- {arguments.get('old_text', '')}\n+ {arguments.get('new_text', '')}", "diff",
                            theme="ansi_dark", background_color="default"))
    answer = Prompt.ask("[y]es / [n]o / [a]lways for this run", choices=["y", "n", "a"], default="y",
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

    def emit_json(event: str, data: dict[str, Any]) -> None:
        print(json.dumps({"event": event, **data}, default=str), flush=True)

    def on_text(piece: str) -> None:
        stdout.print(piece, end="", style="dim", markup=False, highlight=False)

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
    try:
        with stderr.status("loading the model…"):
            run = open_run(request, emit=emit_json if as_json else printer,
                           on_text=None if as_json or not sys.stdout.isatty() else on_text, ask=_ask)
    except SetupError as error:
        raise CliError(str(error)) from None
    with run:
        result = run.runtime.run(task, resume=resume)
    if as_json:
        emit_json("summary", {"session_id": result.session_id, "outcome": result.outcome, "turns": result.turns,
                              "tokens": result.tokens, "elapsed_s": result.elapsed_s,
                              "files_changed": result.files_changed, "error": result.error,
                              "undo": f"ornith undo --session {result.session_id} --repo {repo}"})
    else:
        print_summary(result, repo)
    return 0 if result.outcome == "verified" else 1


def run(args: argparse.Namespace) -> int:
    if not args.task.strip():
        raise CliError("the task is empty", exit_code=2)
    if args.max_turns is not None and args.max_turns < 1:
        raise CliError("--max-turns must be at least 1", exit_code=2)
    repo = args.repo.resolve()
    if not repo.is_dir():
        raise CliError(f"{args.repo}: not a directory", exit_code=2)
    return execute(task=args.task, repo=repo, args=args)
