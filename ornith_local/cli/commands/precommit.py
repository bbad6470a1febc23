"""`ornith precommit`: run the checks on exactly what is staged; on failure, propose a verified fix as a patch.

Exit codes, as git hooks expect: 0 the checks pass (or nothing to check, or warn-only), 1 a check
fails (the commit is blocked; `git commit --no-verify` skips the hook), 2 a usage or configuration
problem. The index is never written; `--apply` writes the suggestion to the working tree only.

The git hook runs this module directly (`python -m ornith_local.cli.commands.precommit --hook`): it
needs nothing else from the CLI, and so starts faster than `ornith precommit`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from ornith_local.cli.output import CliError, fail, stderr, stdout
from ornith_local.config import ConfigError
from ornith_local.precommit.checks import CheckResult
from ornith_local.precommit.engine import (
    StagedRun,
    apply_to_worktree,
    clear_suggestion,
    patch_path,
    patched_files,
    save_suggestion,
    saved_suggestion,
    staged_run,
    verify_saved,
)
from ornith_local.precommit.staged import PrecommitError

if TYPE_CHECKING:
    from ornith_local.precommit.suggest import SuggestOutcome

NAME = "precommit"
HELP = "check staged changes and propose a fix as a patch"
MARKS = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "timeout": "[red]✗[/]", "skipped": "[dim]-[/]"}
SHOWN_OUTPUT_LINES = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-C", "--repo", type=Path, default=Path("."), help="the repository (default: .)")
    parser.add_argument("--apply", action="store_true",
                        help="apply the suggestion to the working tree (never the index) once the checks pass on it")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--no-model", action="store_true", help="checks only, no fix suggestion")
    model.add_argument("--model", help="suggest with this model (catalog name or .gguf path; default: "
                       "[precommit] model, [model] name, or the most capable installed)")
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help="time for a suggestion, model loading and re-checking included "
                        "(default: [precommit] time_budget_s, 60)")
    parser.add_argument("--warn-only", action="store_true",
                        help="report failing checks but exit 0 (default: [precommit] warn_only)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the report")
    parser.add_argument("--hook", action="store_true",
                        help="run as the git hook does: nothing staged is not an error")


def _print(args: argparse.Namespace, *objects: Any) -> None:
    if not args.json:
        stdout.print(*objects, soft_wrap=True)


def coloured_diff(patch: str) -> Text:
    text = Text()
    for line in patch.splitlines():
        style = "bold" if line.startswith(("diff --git", "--- ", "+++ ")) else \
            "green" if line.startswith("+") else "red" if line.startswith("-") else \
            "cyan" if line.startswith("@@") else ""
        text.append(line + "\n", style=style)
    return text


def _report_checks(args: argparse.Namespace, results: list[CheckResult]) -> None:
    for result in results:
        detail = f"{result.duration_s:.1f} s" if result.status != "skipped" else result.note
        if result.status == "timeout":
            detail = result.note
        if result.checked_nothing:  # one line: what is missing or why no test ran, and what to do about it
            _print(args, Text.assemble("  ", Text.from_markup(MARKS[result.status]), f" {result.check.name}  ",
                                       (result.note, "red")))
            continue
        _print(args, f"  {MARKS[result.status]} {result.check.name}  [dim]{detail}[/]")
        if result.failed:
            lines = result.output.splitlines()
            shown = lines[-SHOWN_OUTPUT_LINES:]
            if len(lines) > len(shown):
                _print(args, f"    [dim][… {len(lines) - len(shown)} lines][/]")
            _print(args, Text("\n".join(f"    {line}" for line in shown)))


def _json(args: argparse.Namespace, data: dict[str, Any]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        sys.stdout.flush()


def _check_json(result: CheckResult) -> dict[str, Any]:
    return {"name": result.check.name, "status": result.status, "command": result.command,
            "source": result.check.source, "exit_code": result.exit_code, "seconds": round(result.duration_s, 3),
            "note": result.note, "checked_nothing": result.checked_nothing,
            "output": result.output if result.failed else ""}


def _apply_saved(args: argparse.Namespace, run: StagedRun, budget: float) -> str | None:
    """`--apply` with a suggestion already saved for this exact staged content: re-check it, then apply."""
    patch = saved_suggestion(run)
    if patch is None:
        return None
    verdict = verify_saved(run, patch, budget)
    if isinstance(verdict, str) or any(r.failed for r in verdict):
        why = verdict if isinstance(verdict, str) else "the checks fail on it"
        _print(args, f"[yellow]the saved suggestion is not used: {why}[/]")
        return None
    return patch


def _finish_failure(args: argparse.Namespace, run: StagedRun, warn_only: bool, data: dict[str, Any]) -> int:
    if args.apply and data.get("applied"):
        _print(args, "[green]applied to the working tree[/] (the index is unchanged): review it, then "
                     "[bold]git add[/] the fix")
        code = 0
    elif warn_only:
        _print(args, "[yellow]checks failed; warn-only: the commit goes ahead[/]")
        code = 0
    else:
        skip = " (or git commit --no-verify to skip the check)" if args.hook else ""
        _print(args, f"[red]checks failed: commit blocked[/]{skip}")
        code = 1
    data["exit_code"] = code
    _json(args, data)
    return code


def _suggestion_lines(args: argparse.Namespace, run: StagedRun, outcome: SuggestOutcome,
                      data: dict[str, Any]) -> str | None:
    data["model"] = outcome.model
    data["attempts"] = [{"outcome": a.outcome, "seconds": round(a.seconds, 2)} for a in outcome.attempts]
    for attempt in outcome.attempts:
        if attempt.outcome != "offered":
            _print(args, f"  [dim]not offered: {attempt.outcome}[/]")
    suggestion = outcome.suggestion
    if suggestion is None:
        note = outcome.note or "no suggestion passed the checks and the guard"
        data["note"] = note
        _print(args, f"[yellow]no fix suggested[/]: {note}")
        return None
    saved = save_suggestion(run, suggestion)
    relative = saved.relative_to(run.repo.root) if saved.is_relative_to(run.repo.root) else saved
    data["suggestion"] = {"patch": suggestion.patch, "cause": suggestion.cause, "files": suggestion.files,
                          "model": suggestion.model, "seconds": round(suggestion.seconds, 2), "path": str(saved)}
    _print(args, f"[bold]suggested fix[/] from {suggestion.model} in {suggestion.seconds:.1f} s "
                 f"(the checks pass on it): {suggestion.cause}")
    _print(args, coloured_diff(suggestion.patch))
    _print(args, f"saved to {relative}; apply it to the working tree (never the index): [bold]ornith precommit "
                 f"--apply[/] (re-checks it, keeps unstaged edits) or git apply {relative}")
    return suggestion.patch


def run(args: argparse.Namespace) -> int:
    if args.budget is not None and args.budget <= 0:
        raise CliError("--budget must be positive", exit_code=2)
    try:
        with staged_run(args.repo.expanduser(), needs_files=not args.hook) as staged:
            return _run(args, staged)
    except PrecommitError as error:
        raise CliError(str(error), error.exit_code) from None


def _run(args: argparse.Namespace, run: StagedRun) -> int:
    from ornith_local.precommit.model import choose_model

    data: dict[str, Any] = {"status": "passed", "staged": run.staged.present + run.staged.deleted,
                            "sandbox": run.sandbox.tier, "checks": [], "suggestion": None, "exit_code": 0}
    if not run.staged.files:  # --hook with nothing staged (git commit --allow-empty): nothing to check
        data["status"] = "nothing-staged"
        _json(args, data)
        return 0
    if not run.checks:
        _print(args, "ornith precommit: no checks configured or detected; set [precommit] checks in .ornith.toml")
        data["status"] = "no-checks"
        _json(args, data)
        return 0
    count = len(run.staged.files)
    _print(args, f"[bold]ornith precommit[/]: {count} staged file{'s' * (count != 1)}, "
                 f"checks in the {run.sandbox.tier} sandbox")
    with stderr.status("running the checks on the staged content…"):
        results = run.check()
    data["checks"] = [_check_json(r) for r in results]
    _report_checks(args, results)
    failures = [r for r in results if r.failed]
    if not failures:
        clear_suggestion(run.repo)  # an older suggestion was for content that is no longer staged
        _print(args, "[green]checks pass[/]" + ("; nothing to apply" if args.apply else ""))
        _json(args, data)
        return 0
    data["status"] = "failed"
    warn_only = args.warn_only or run.config.precommit.warn_only
    budget = args.budget or run.config.precommit.time_budget_s
    patch = _apply_saved(args, run, budget) if args.apply else None
    if all(r.checked_nothing for r in failures):
        # A missing runner or a run with no test: no edit to the staged code fixes that, so no model is asked.
        data["note"] = "no fix to suggest: the failing checks tested nothing (see above)"
    elif patch is None:
        choice = choose_model(run.config, args.model, args.no_model)
        label = choice.label or "the model"
        with stderr.status(f"asking {label} for a fix (at most {budget:.0f} s)…"):
            outcome = run.suggest(failures, choice, budget)
        patch = _suggestion_lines(args, run, outcome, data)
    else:
        data["suggestion"] = {"patch": patch, "path": str(patch_path(run.repo)), "saved": True}
        _print(args, "[bold]the saved suggestion[/] passes the checks:")
        _print(args, coloured_diff(patch))
    if args.apply and patch is not None:
        apply_to_worktree(run, patch, patched_files(patch))
        data["applied"] = True
    return _finish_failure(args, run, warn_only, data)


def main(argv: Sequence[str] | None = None) -> int:
    """The git hook's entry point: this command alone, with the CLI's error conventions."""
    parser = argparse.ArgumentParser(prog="ornith precommit", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CliError as error:
        fail(str(error))
        return error.exit_code
    except ConfigError as error:
        fail(str(error))
        return 2
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
