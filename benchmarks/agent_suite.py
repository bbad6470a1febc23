"""The agent on a suite of small, realistic tasks: self-written scaffold vs the fixed baseline.

Each task in `benchmarks/tasks/<id>/` is a repo snapshot, a task sentence as a user would type it,
the checks the agent's run is verified against (visible tests), and held-back tests it never sees.
Every task runs in a fresh temporary git copy through `open_run` — the code path of `ornith run` —
and is then judged by the held-back checks, which the runner copies in only after the agent is done
(with the snapshot's own tests restored first, so an edited test cannot make a run look solved).

    .venv/bin/python -m benchmarks.agent_suite --model qwen2.5-coder-1.5b --scaffold both
    .venv/bin/python -m benchmarks.agent_suite --model qwen2.5-coder-1.5b --scaffold self --tasks notes-empty-tags

It prints a table of runs (whether the visible tests cover the bug, solved, held-back pass, the runtime's
own outcome, guard flags, turns, tokens evaluated / generated, wall time) and a summary per scaffold mode,
overall and per subset (visible tests cover the bug / miss it), and writes a JSON report with the same
totals and the path of every run's trajectory, so the runs can be studied afterwards. The summary counts:
- solved: the held-back checks pass and no guard flag was raised;
- held-back: the held-back checks pass (flags aside);
- verified / unverified: the runtime's outcome (`verified`: fail-to-pass shown, no regressions, the change
  covered, guard clean, judge approves; `unverified`: the suite passes but nothing showed the problem or
  exercised the change);
- false-verified: runs the runtime called `verified` whose held-back checks fail. It must be 0: `verified`
  has to mean verified, above all on the tasks whose visible tests never see the bug;
- solve rate and unverified rate (of the runs), each with a Wilson 95% interval (the suite is small);
- unparseable edits: the share of edits that left a file unparseable, and the mean model turns until that file
  parsed again (`benchmarks/edit_syntax.py`, replayed from the trajectory); compare `--diagnostics on|off`.

task.toml keys: task (the sentence), category, language, easy (bool), repo (snapshot folder relative
to the project root; default the task's own repo/), checks (acceptance commands; default the detected
test command), heldback (the held-back command; default the detected test command), visible_covers_bug
(bool, default true: the visible tests fail on the snapshot and show the bug; false: they pass on it, the
bug is untested, and only the held-back checks see it). `{python}` in a command is this interpreter.
Held-back files live in the task's heldback/ folder, at the paths they take in the repo; a reference fix
lives in solution/ (whole files), so the tests can prove every held-back check is passable (and, where
visible_covers_bug is false, that the visible checks pass on the snapshot).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.edit_syntax import edit_syntax, snapshot_reader
from benchmarks.suite_attempts import run_with_attempts
from benchmarks.suite_report import (
    TaskRun,
    format_table,
    subset_totals,
    totals,
)
from benchmarks.suite_tasks import (
    TASKS_DIR,
    SuiteError,
    SuiteTask,
    heldback_peeks,
    load_tasks,
    prepare_workspace,
    run_heldback,
)
from ornith_local.agent import events
from ornith_local.agent.quirks import CATALOG
from ornith_local.agent.state import RunResult
from ornith_local.agent.trajectory import read_events
from ornith_local.attempts import Policy
from ornith_local.config import Config, load_config
from ornith_local.llm.backend import Backend
from ornith_local.models.local import resolve_model_path
from ornith_local.sandbox import open_sandbox
from ornith_local.session import RunRequest, SetupError, open_run

DEFAULT_MAX_TURNS = 16  # per task; `ornith run` defaults to 40, which costs too long on a 2-core CPU


def _flags(result: RunResult) -> list[str]:
    return [f"{finding.rule}:{finding.path or finding.detail}"[:80] for finding in result.findings if finding.flags_run]


def run_task(task: SuiteTask, scaffold: str, options: SuiteOptions, *, backend: Backend | None,
             emit: Callable[[events.Event], None]) -> tuple[TaskRun, Backend | None]:
    """One task in one scaffold mode, in a fresh temp copy; returns the run and the (reusable) backend."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"ornith-suite-{task.id}-") as tmp:
        work = prepare_workspace(task, Path(tmp) / "repo")
        config = options.config_for(work)
        request = RunRequest(
            task=task.task, repo=work, config=config, mode="auto", scaffold_mode=scaffold, model=options.model,
            endpoint=options.endpoint, max_turns=options.max_turns, checks=task.checks, withheld=task.withheld,
            hide=(TASKS_DIR.resolve(),),  # the held-back tests live there: no `run cat` can read them
            use_library=options.library, use_judge=options.judge, n_ctx=options.n_ctx, seed=options.seed,
            temperature=options.temperature, max_wall_s=options.max_wall_s, quirks=options.quirks,
        )
        if backend is not None:
            backend.reset()  # every task starts cold: tokens evaluated are comparable across tasks and modes
        outcomes: list[str] = []
        if options.attempts > 1:
            attempts = run_with_attempts(request, options.attempts, options.attempts_policy, backend, emit)
            backend, outcomes = attempts.backend, attempts.outcomes
            if attempts.result is None or attempts.trajectory is None:
                return TaskRun(task.id, task.category, task.language, scaffold, False, False, "failed", [], None, 0,
                               0, 0, 0, round(time.monotonic() - started, 1), error=attempts.reason,
                               visible_covers_bug=task.visible_covers_bug, attempts=outcomes), backend
            result, trajectory = attempts.result, attempts.trajectory
        else:
            try:
                opened = open_run(request, emit=emit, backend=backend)
            except SetupError as error:
                return TaskRun(task.id, task.category, task.language, scaffold, False, False, "error", [], None, 0, 0,
                               0, 0, round(time.monotonic() - started, 1), error=str(error),
                               visible_covers_bug=task.visible_covers_bug), backend
            with opened as run:
                result = run.loop.run(task.task)
                trajectory = run.trajectory.path
            backend = run.backend
        heldback = run_heldback(task, work, open_sandbox(config.sandbox))
        flags = _flags(result) + [f"heldback_peek:{hit}" for hit in heldback_peeks(task, trajectory)]
        fell_back = any(isinstance(event, events.ScaffoldChosen) and event.fallback
                        for event in read_events(trajectory))
        syntax = edit_syntax(read_events(trajectory), snapshot_reader(task.snapshot))
    return TaskRun(
        task=task.id, category=task.category, language=task.language, scaffold=scaffold,
        solved=heldback.passed and not flags, heldback_passed=heldback.passed, outcome=result.outcome,
        guard_flags=flags, judge=result.judge.get("verdict") if result.judge else None, turns=result.turns,
        tokens_prompt=result.tokens["prompt"], tokens_evaluated=result.tokens["evaluated"],
        tokens_generated=result.tokens["generated"], wall_s=round(time.monotonic() - started, 1),
        steps=[f"{name}:{step.status}" for name, step in result.steps], files_changed=result.files_changed,
        scaffold_fallback=fell_back, quirks=list(options.quirks) if options.quirks is not None else ["catalog"],
        heldback={"command": heldback.command, "summary": heldback.summary, "output": heldback.output},
        session_id=result.session_id, trajectory=str(trajectory), error=result.error,
        visible_covers_bug=task.visible_covers_bug, diagnostics=options.diagnostics, edits=syntax.edits,
        unparseable_edits=syntax.unparseable, parse_recovery_turns=syntax.recovery_turns,
        unrecovered_parse=syntax.unrecovered, attempts=outcomes,
    ), backend


@dataclass(frozen=True)
class SuiteOptions:
    model: str | None = None
    endpoint: str | None = None
    max_turns: int = DEFAULT_MAX_TURNS
    n_ctx: int | None = 8192
    threads: int | None = None
    seed: int = 0
    temperature: float | None = 0.0  # greedy: a rerun of the suite gives the same trajectories
    library: bool = False  # off: each run is measured on its own, not on what earlier tasks taught
    # Turns are the suite's budget; the wall-clock ceiling is only a backstop (a loaded 2-core machine is slow).
    max_wall_s: int = 3600
    judge: bool = True
    quirks: tuple[str, ...] | None = None  # None: the model's catalog quirks; (): the clean loop; else just these
    diagnostics: bool = True  # the new syntax/lint errors in every edit's result ([diagnostics] enabled)
    attempts: int = 1  # >1: N attempts per task in worktrees, the held-back checks judge the one applied
    attempts_policy: Policy = "best"

    def config_for(self, repo: Path) -> Config:
        config = load_config(repo)
        config = replace(config, diagnostics=replace(config.diagnostics, enabled=self.diagnostics))
        if self.threads:
            config = replace(config, model=replace(config.model, threads=self.threads))
        return config


def _progress(verbose: bool) -> Callable[[events.Event], None]:
    """A terse line per step and tool call on stderr, so a long suite shows where it is."""

    def emit(event: events.Event) -> None:
        match event:
            case events.ScaffoldChosen():
                steps = ", ".join(step["name"] for step in event.scaffold["steps"])
                print(f"    scaffold: {steps}", file=sys.stderr, flush=True)
            case events.StepStarted():
                print(f"    step {event.index}/{event.total}: {event.step}", file=sys.stderr, flush=True)
            case events.ToolCalled() if verbose:
                print(f"      → {event.tool} {json.dumps(event.arguments)[:120]}", file=sys.stderr, flush=True)
            case events.ModelTurn() if verbose:
                stats = event.stats
                print(f"      turn {event.turn}: {stats.get('evaluated_prompt_tokens')} evaluated, "
                      f"{stats.get('generated_tokens')} generated, {stats.get('total_s')} s", file=sys.stderr,
                      flush=True)
            case events.ChecksRan():
                passed = all(check["passed"] for check in event.checks)
                print(f"    checks: {'pass' if passed else 'fail'}", file=sys.stderr, flush=True)

    return emit


def run_suite(tasks: Sequence[SuiteTask], modes: Sequence[str], options: SuiteOptions, *,
              verbose: bool = False, on_run: Callable[[list[TaskRun]], None] | None = None) -> list[TaskRun]:
    """Every task in every mode; `on_run` sees the runs so far after each one (the report is kept current)."""
    runs: list[TaskRun] = []
    backend: Backend | None = None
    emit = _progress(verbose)
    for task in tasks:
        for mode in modes:  # modes side by side per task, so load on a shared machine hits both alike
            print(f"[{len(runs) + 1}/{len(tasks) * len(modes)}] {task.id} ({mode})", file=sys.stderr, flush=True)
            run, backend = run_task(task, mode, options, backend=backend, emit=emit)
            print(f"    {'SOLVED' if run.solved else 'not solved'}: outcome {run.outcome}, held-back "
                  f"{run.heldback.get('summary', run.error)}, {run.turns} turns, {run.wall_s:.0f} s",
                  file=sys.stderr, flush=True)
            if run.false_verified:
                print("    FALSE VERIFIED: the runtime said verified, the held-back checks fail", file=sys.stderr,
                      flush=True)
            runs.append(run)
            if on_run is not None:
                on_run(runs)
    return runs


def report_json(runs: Sequence[TaskRun], options: SuiteOptions, modes: Sequence[str]) -> dict[str, Any]:
    return {
        "suite": "agent_suite", "model": options.model, "endpoint": options.endpoint, "modes": list(modes),
        "settings": asdict(options),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "totals": totals(runs), "subsets": subset_totals(runs),
        "runs": [asdict(run) | {"false_verified": run.false_verified} for run in runs],
    }


def parse_quirks(words: Sequence[str]) -> tuple[str, ...] | str | None:
    """--quirks: None for the catalog's, () for none, else the names (checked); a str is the error to print."""
    if list(words) == ["catalog"]:
        return None
    if list(words) == ["none"]:
        return ()
    unknown = sorted(set(words) - set(CATALOG))
    if unknown:
        return f"unknown quirk(s) {', '.join(unknown)}; known: none, catalog, {', '.join(CATALOG)}"
    return tuple(words)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model", help="catalog name or path to a .gguf (default: config)")
    parser.add_argument("--endpoint", help="OpenAI-compatible server URL instead of in-process llama.cpp")
    parser.add_argument("--scaffold", choices=["self", "fixed", "both"], default="both")
    parser.add_argument("--tasks", nargs="*", default=[], help="task ids (default: every task)")
    parser.add_argument("--max-turns", type=int, default=DEFAULT_MAX_TURNS)
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: the free cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="step turns' temperature (default 0: greedy; Stage 1 and the judge are always greedy)")
    parser.add_argument("--library", action="store_true", help="let Stage 1 see scaffolds of earlier tasks")
    parser.add_argument("--no-judge", action="store_true")
    parser.add_argument("--data-dir", type=Path, help="where trajectories go (default: a fresh temp dir)")
    parser.add_argument("--report", type=Path, help="JSON report path (default: in the data dir)")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per model turn and tool call")
    parser.add_argument("--quirks", nargs="+", default=["catalog"], metavar="none|catalog|NAME",
                        help="the model's crutches (agent/quirks.py): none (the clean loop), catalog (the model's "
                             "own, default), or just the NAMEs given")
    parser.add_argument("--diagnostics", choices=["on", "off"], default="on",
                        help="show each edit's new syntax/lint errors in its result (default on); the report's "
                             "unparseable-edit share and turns to parse compare the two")
    parser.add_argument("--attempts", type=int, default=1, help="attempts per task (solved@1 against solved@N; "
                        "the held-back checks judge the attempt the runtime applied)")
    parser.add_argument("--attempts-policy", choices=["best", "first"], default="best")
    args = parser.parse_args(argv)
    if args.attempts < 1:
        print("agent_suite: --attempts must be at least 1", file=sys.stderr)
        return 2
    quirks = parse_quirks(args.quirks)
    if isinstance(quirks, str):
        print(f"agent_suite: {quirks}", file=sys.stderr)
        return 2
    try:
        tasks = load_tasks(args.tasks)
    except SuiteError as error:
        print(f"agent_suite: {error}", file=sys.stderr)
        return 2
    if args.list:
        for task in tasks:
            visible = "covers" if task.visible_covers_bug else "misses"
            print(f"{task.id:32} {task.category:18} {task.language:10} {visible:6} {task.task}")
        return 0
    model = args.model
    if model and not args.endpoint:
        try:  # before the data dir moves: pulled models live in the user's data dir
            model = str(resolve_model_path(model))
        except (LookupError, FileNotFoundError, RuntimeError) as error:
            print(f"agent_suite: {str(error).strip(chr(39))}", file=sys.stderr)
            return 2
    # Trajectories and the scaffold library of this suite run stay apart from the user's own.
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ornith-suite-data-"))
    os.environ["ORNITH_DATA_DIR"] = str(data_dir)
    modes = ["self", "fixed"] if args.scaffold == "both" else [args.scaffold]
    options = SuiteOptions(model=model, endpoint=args.endpoint, max_turns=args.max_turns, n_ctx=args.n_ctx,
                           threads=args.threads, seed=args.seed, temperature=args.temperature, library=args.library,
                           judge=not args.no_judge, quirks=quirks, diagnostics=args.diagnostics == "on",
                           attempts=args.attempts, attempts_policy=args.attempts_policy)
    report_path = args.report or data_dir / f"agent_suite-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    finished: list[TaskRun] = []

    def keep(runs: list[TaskRun]) -> None:  # after every run, so an interrupted suite still has its report
        finished[:] = runs
        report_path.write_text(json.dumps(report_json(runs, options, modes), indent=2) + "\n")

    interrupted = False
    try:
        run_suite(tasks, modes, options, verbose=args.verbose, on_run=keep)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted: the table and report hold the {len(finished)} finished runs", file=sys.stderr)
    print(format_table(finished))
    print(f"\nreport: {report_path}\ntrajectories: {data_dir / 'sessions'}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
