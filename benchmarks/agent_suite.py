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
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.edit_syntax import edit_syntax, snapshot_reader
from benchmarks.suite_attempts import run_with_attempts
from benchmarks.triage_score import wilson
from ornith_local.agent import events
from ornith_local.agent.quirks import CATALOG
from ornith_local.agent.state import RunResult
from ornith_local.agent.trajectory import read_events
from ornith_local.attempts import Policy
from ornith_local.config import Config, load_config
from ornith_local.guard.monitor import is_test_path
from ornith_local.llm.backend import Backend
from ornith_local.models.local import resolve_model_path
from ornith_local.sandbox import Sandbox, open_sandbox
from ornith_local.session import RunRequest, SetupError, open_run
from ornith_local.tools.listing import list_files
from ornith_local.tools.testing.detect import detect_test_command

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", "node_modules", ".venv", "*.pyc")
DEFAULT_MAX_TURNS = 16  # per task; `ornith run` defaults to 40, which costs too long on a 2-core CPU
HELDBACK_TIMEOUT_S = 300.0


class SuiteError(ValueError):
    """A task folder that cannot be used, worded as one line."""


@dataclass(frozen=True)
class SuiteTask:
    id: str
    folder: Path
    task: str
    category: str
    language: str
    snapshot: Path
    checks: tuple[str, ...]  # acceptance commands for the agent's run; () = the detected test command
    heldback_files: tuple[str, ...]  # relative paths, as they are placed in the repo for the held-back check
    heldback: str | None  # the held-back command; None = the detected test command
    easy: bool = False
    visible_covers_bug: bool = True  # False: the visible checks pass on the snapshot; only the held-back see the bug

    @property
    def withheld(self) -> tuple[str, ...]:
        """What the run's guard treats as unreadable: the held-back files' paths (they are not there anyway)."""
        return self.heldback_files


def python_command(command: str) -> str:
    return command.replace("{python}", shlex.quote(sys.executable))


def load_task(folder: Path) -> SuiteTask:
    spec_path = folder / "task.toml"
    try:
        spec = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SuiteError(f"{spec_path}: {error}") from None
    if not str(spec.get("task", "")).strip():
        raise SuiteError(f"{spec_path}: no task sentence")
    snapshot = (PROJECT_ROOT / spec["repo"]) if "repo" in spec else folder / "repo"
    if not snapshot.is_dir():
        raise SuiteError(f"{spec_path}: the snapshot {snapshot} does not exist")
    heldback_root = folder / "heldback"
    files = tuple(sorted(path.relative_to(heldback_root).as_posix() for path in heldback_root.rglob("*")
                         if path.is_file() and "__pycache__" not in path.parts)) if heldback_root.is_dir() else ()
    if not files:
        raise SuiteError(f"{spec_path}: no held-back checks in {heldback_root}")
    covers = spec.get("visible_covers_bug", True)
    if not isinstance(covers, bool):
        raise SuiteError(f"{spec_path}: visible_covers_bug must be true or false, not {covers!r}")
    clash = [name for name in files if (snapshot / name).exists()]
    if clash:
        raise SuiteError(f"{spec_path}: held-back files would overwrite the snapshot's {', '.join(clash)}")
    return SuiteTask(
        id=folder.name, folder=folder, task=str(spec["task"]).strip(), category=str(spec.get("category", "other")),
        language=str(spec.get("language", "python")), snapshot=snapshot,
        checks=tuple(python_command(check) for check in spec.get("checks", [])), heldback_files=files,
        heldback=python_command(spec["heldback"]) if spec.get("heldback") else None, easy=bool(spec.get("easy")),
        visible_covers_bug=covers,
    )


def load_tasks(names: Sequence[str] = (), root: Path = TASKS_DIR) -> list[SuiteTask]:
    folders = sorted(path for path in root.iterdir() if (path / "task.toml").is_file())
    if names:
        known = {folder.name: folder for folder in folders}
        missing = [name for name in names if name not in known]
        if missing:
            raise SuiteError(f"unknown task(s): {', '.join(missing)} (known: {', '.join(sorted(known))})")
        folders = [known[name] for name in names]
    return [load_task(folder) for folder in folders]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=ornith-suite", "-c", "user.email=suite@ornith.local",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True)


def prepare_workspace(task: SuiteTask, dest: Path) -> Path:
    """A fresh git copy of the snapshot: what the agent sees. Nothing held back is in it."""
    shutil.copytree(task.snapshot, dest, ignore=SNAPSHOT_IGNORE)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", f"snapshot of {task.id}")
    return dest


@dataclass
class CheckOutcome:
    passed: bool
    command: str
    summary: str
    output: str = ""


def apply_reference_solution(task: SuiteTask, work: Path) -> list[str]:
    """Copy the task's solution/ files over the workspace: proves the held-back checks can pass (tests only)."""
    root = task.folder / "solution"
    changed = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(root)
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, work / rel)
            changed.append(rel.as_posix())
    return changed


def _run_command(argv: list[str], work: Path, sandbox: Sandbox, timeout_s: float) -> CheckOutcome:
    result = sandbox.run(argv, workspace=work, timeout_s=timeout_s)
    output = (result.stdout + "\n" + result.stderr).strip()
    tail = output.splitlines()[-1:] or [""]
    summary = "timed out" if result.timed_out else f"exit {result.exit_code}: {tail[0][:120]}"
    return CheckOutcome(result.exit_code == 0 and not result.timed_out, shlex.join(argv), summary, output[-4000:])


def run_visible(task: SuiteTask, work: Path, sandbox: Sandbox, timeout_s: float = HELDBACK_TIMEOUT_S) -> CheckOutcome:
    """The checks the agent's run is verified against (the task's checks, else the detected test command), as
    they stand in `work`: on the snapshot they fail where the visible tests cover the bug, and pass where not."""
    if task.checks:
        outcomes = [_run_command(shlex.split(check), work, sandbox, timeout_s) for check in task.checks]
        failed = [outcome for outcome in outcomes if not outcome.passed]
        shown = failed[0] if failed else outcomes[-1]
        return CheckOutcome(not failed, "; ".join(outcome.command for outcome in outcomes), shown.summary,
                            shown.output)
    detected = detect_test_command(work)
    if detected is None:
        return CheckOutcome(False, "(none)", "no test command detected for the visible checks")
    return _run_command(list(detected.argv), work, sandbox, timeout_s)


def run_heldback(task: SuiteTask, work: Path, sandbox: Sandbox, timeout_s: float = HELDBACK_TIMEOUT_S) -> CheckOutcome:
    """After the run: restore the snapshot's tests, add the held-back files, run the held-back command."""
    for rel in list_files(task.snapshot):
        if is_test_path(rel):  # whatever the agent did to a test, the check runs the original
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(task.snapshot / rel, target)
    for rel in task.heldback_files:
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(task.folder / "heldback" / rel, target)
    if task.heldback:
        argv = shlex.split(task.heldback)
    else:
        detected = detect_test_command(work)
        if detected is None:
            return CheckOutcome(False, "(none)", "no test command detected for the held-back check")
        argv = list(detected.argv)
    return _run_command(argv, work, sandbox, timeout_s)


def heldback_peeks(task: SuiteTask, trajectory: Path) -> list[str]:
    """Tool calls that went looking for the held-back checks (e.g. `run cat …/heldback/…`): a guard flag.

    The runtime's monitor sees path arguments; a shell command can name any path, so the runner checks every
    call's arguments too. (The run's sandbox hides the tasks folder, so such a call reads nothing: the attempt
    is what is counted.)
    """
    needles = {"heldback", str(TASKS_DIR), "benchmarks/tasks", *(Path(name).name for name in task.heldback_files)}
    found = []
    for event in read_events(trajectory):
        if not isinstance(event, events.ToolCalled):
            continue
        text = json.dumps(event.arguments)
        hits = sorted(needle for needle in needles if needle in text)
        if hits:
            found.append(f"{event.tool}: {', '.join(hits)}")
    return found


@dataclass
class TaskRun:
    task: str
    category: str
    language: str
    scaffold: str
    solved: bool  # held-back checks pass and no guard flag
    heldback_passed: bool
    outcome: str  # the runtime's own verdict: verified / unverified / failed / flagged / aborted / error
    guard_flags: list[str]
    judge: str | None
    turns: int
    tokens_prompt: int
    tokens_evaluated: int
    tokens_generated: int
    wall_s: float
    steps: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    scaffold_fallback: bool = False
    heldback: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    trajectory: str | None = None
    error: str | None = None
    quirks: list[str] = field(default_factory=list)  # the quirks asked for ("catalog": the model's own)
    visible_covers_bug: bool = True  # the task's: do its visible tests show the bug?
    diagnostics: bool = True  # edits carried their new syntax/lint errors (--diagnostics on)
    edits: int = 0  # edit_file / write_file calls that changed a file in a language the syntax check knows
    unparseable_edits: int = 0  # of those, the ones after which the file did not parse
    parse_recovery_turns: list[int] = field(default_factory=list)  # per broken file: turns until it parsed again
    unrecovered_parse: int = 0  # files still unparseable at the end

    @property
    def false_verified(self) -> bool:
        """The runtime said `verified` and the held-back checks fail: the one verdict that must never happen."""
        return self.outcome == "verified" and not self.heldback_passed


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
        if options.attempts > 1:
            chosen, picked, backend, why = run_with_attempts(request, options.attempts, options.attempts_policy,
                                                             backend, emit)
            if chosen is None or picked is None:
                return TaskRun(task.id, task.category, task.language, scaffold, False, False, "failed", [], None, 0,
                               0, 0, 0, round(time.monotonic() - started, 1), error=why,
                               visible_covers_bug=task.visible_covers_bug), backend
            result, trajectory = chosen, picked
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
        unrecovered_parse=syntax.unrecovered,
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


SUBSETS = {True: "visible_covers_bug", False: "visible_misses_bug"}  # JSON keys of the two task subsets
SUBSET_LABELS = {"all": "all", "visible_covers_bug": "visible covers bug", "visible_misses_bug": "visible misses bug"}


def rate(successes: int, n: int) -> dict[str, Any]:
    """A share of the runs with its Wilson 95% interval (n is small: a bare percentage overstates what it shows)."""
    low, high = wilson(successes, n)
    return {"rate": round(successes / n, 4) if n else None, "ci95": [round(low, 4), round(high, 4)]}


def tally(runs: Sequence[TaskRun]) -> dict[str, Any]:
    """The counts and rates of a group of runs (one scaffold mode, or one subset of its tasks)."""
    n = len(runs)
    unverified = sum(run.outcome == "unverified" for run in runs)
    solved = sum(run.solved for run in runs)
    return {
        "tasks": n, "solved": solved, "heldback_passed": sum(run.heldback_passed for run in runs),
        "verified": sum(run.outcome == "verified" for run in runs), "unverified": unverified,
        "false_verified": sum(run.false_verified for run in runs),
        "flagged": sum(bool(run.guard_flags) for run in runs),
        "solve_rate": rate(solved, n), "unverified_rate": rate(unverified, n),
        "turns": sum(run.turns for run in runs), "tokens_evaluated": sum(run.tokens_evaluated for run in runs),
        "tokens_generated": sum(run.tokens_generated for run in runs),
        "wall_s": round(sum(run.wall_s for run in runs), 1),
        **parse_recovery(runs),
    }


def parse_recovery(runs: Sequence[TaskRun]) -> dict[str, Any]:
    """The share of edits that left a file unparseable, and the mean turns until such a file parsed again."""
    edits = sum(run.edits for run in runs)
    unparseable = sum(run.unparseable_edits for run in runs)
    turns = [count for run in runs for count in run.parse_recovery_turns]
    return {"edits": edits, "unparseable_edits": unparseable, "unparseable_share": rate(unparseable, edits),
            "mean_turns_to_parse": round(sum(turns) / len(turns), 2) if turns else None,
            "unrecovered_parse": sum(run.unrecovered_parse for run in runs)}


def _by_mode(runs: Sequence[TaskRun]) -> dict[str, list[TaskRun]]:
    groups: dict[str, list[TaskRun]] = {}
    for run in runs:
        groups.setdefault(run.scaffold, []).append(run)
    return groups


def totals(runs: Sequence[TaskRun]) -> dict[str, dict[str, Any]]:
    """Per scaffold mode, every task."""
    return {mode: tally(group) for mode, group in _by_mode(runs).items()}


def subset_totals(runs: Sequence[TaskRun]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per scaffold mode, the tasks whose visible tests cover the bug and those whose tests miss it (when any)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for mode, group in _by_mode(runs).items():
        out[mode] = {}
        for covers, name in SUBSETS.items():
            members = [run for run in group if run.visible_covers_bug is covers]
            if members:
                out[mode][name] = tally(members)
    return out


def _rate_cell(counted: dict[str, Any]) -> str:
    low, high = counted["ci95"]
    return "n/a" if counted["rate"] is None else f"{counted['rate']:.0%} [{low * 100:.0f}-{high:.0%}]"


def _columns(rows: list[tuple[str, ...]], rule_after: Sequence[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "  ".join("-" * width for width in widths)
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index in rule_after:
            lines.append(rule)
    return lines


def format_summary(runs: Sequence[TaskRun]) -> str:
    """Per scaffold mode: every task, then each subset (visible tests cover the bug / miss it)."""
    header = ("scaffold", "tasks", "runs", "solved", "solve rate (95% CI)", "held-back", "verified", "unverified",
              "unverified rate (95% CI)", "false-verified", "flagged", "turns", "tok eval", "tok gen", "wall s",
              "unparseable edits", "turns to parse")
    rows: list[tuple[str, ...]] = [header]
    subsets = subset_totals(runs)
    for mode, total in totals(runs).items():
        groups = [("all", total)]
        if len(subsets[mode]) > 1:  # one subset only: it is the same as "all"
            groups += list(subsets[mode].items())
        for name, counted in groups:
            rows.append((mode, SUBSET_LABELS[name], str(counted["tasks"]), f"{counted['solved']}/{counted['tasks']}",
                         _rate_cell(counted["solve_rate"]), str(counted["heldback_passed"]), str(counted["verified"]),
                         str(counted["unverified"]), _rate_cell(counted["unverified_rate"]),
                         str(counted["false_verified"]), str(counted["flagged"]), str(counted["turns"]),
                         str(counted["tokens_evaluated"]), str(counted["tokens_generated"]),
                         f"{counted['wall_s']:.0f}", f"{counted['unparseable_edits']}/{counted['edits']}",
                         "n/a" if counted["mean_turns_to_parse"] is None else f"{counted['mean_turns_to_parse']:g}"))
    return "\n".join(_columns(rows, rule_after=[0]))


def format_table(runs: Sequence[TaskRun]) -> str:
    """A row per run, then the summary per scaffold mode (`format_summary`)."""
    header = ("task", "visible", "scaffold", "solved", "held-back", "outcome", "guard", "turns", "tok eval", "tok gen",
              "wall s")
    rows: list[tuple[str, ...]] = [header]
    for run in runs:
        guard = ", ".join(run.guard_flags)[:40] or "clean"
        outcome = f"{run.outcome} (FALSE)" if run.false_verified else run.outcome
        rows.append((run.task, "covers" if run.visible_covers_bug else "misses", run.scaffold,
                     "yes" if run.solved else "no", "pass" if run.heldback_passed else "fail", outcome, guard,
                     str(run.turns), str(run.tokens_evaluated), str(run.tokens_generated), f"{run.wall_s:.0f}"))
    lines = _columns(rows, rule_after=[0])
    if runs:
        lines += ["", format_summary(runs)]
    if any(run.false_verified for run in runs):
        lines.append("(FALSE): the runtime reported verified, but the held-back checks fail")
    return "\n".join(lines)


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
