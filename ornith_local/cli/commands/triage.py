"""`ornith triage [PATH]`: run the tests, group the failures, rank the suspect code, optionally explain it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ornith_local.cli.output import CliError, stderr, stdout
from ornith_local.config import load_config
from ornith_local.config.settings import Config
from ornith_local.sandbox import SandboxError, open_sandbox
from ornith_local.tools.testing import detect_test_command
from ornith_local.triage import formats
from ornith_local.triage.engine import TriageOptions, no_suite_report, triage
from ornith_local.triage.explain import explain_in_subprocess
from ornith_local.triage.model import TriageReport
from ornith_local.triage.render import render

NAME = "triage"
HELP = "run the tests, group failures and rank the suspect code"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", type=Path, help="the project to triage (default: .)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object (the documented contract)")
    output.add_argument("--markdown", action="store_true", help="Markdown for an issue or PR comment")
    output.add_argument("--sarif", action="store_true", help="SARIF 2.1.0 for code-scanning tools")
    parser.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--no-model", action="store_true", help="never load a model (ranking only)")
    model.add_argument("--model", help="explain with this model (catalog name or .gguf path; default: the "
                       "configured or an installed one)")
    parser.add_argument("--suggest", action="store_true", help="also ask the model for a patch (never applied)")
    parser.add_argument("--model-budget", type=float, default=60.0, metavar="SECONDS",
                        help="the most the model may add to the run, loading included (default 60)")
    parser.add_argument("--explain", type=int, default=3, metavar="N", help="explain the top N clusters (default 3)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stop the suite after this long and report a hang (default: [tests] timeout_s, 600)")
    parser.add_argument("--no-coverage", action="store_true",
                        help="skip per-test coverage (faster; ranks by tracebacks and git history only)")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="overall suspects to list (default 10)")


def _model_choice(args: argparse.Namespace, config: Config) -> tuple[bool, str | None, str]:
    """Whether to explain with a model, which one (None: the configured endpoint's), and if not, why."""
    if args.no_model:
        return False, None, "model skipped (--no-model)"
    from ornith_local.models.choice import choose_model

    # The same rule as `ornith run`, minus the tiny test model: it cannot explain bugs.
    pick = choose_model(config.model, args.model, allow_test_model=False)
    if pick.name or config.model.endpoint:
        return True, pick.name, ""
    return False, None, "no model installed: ranking only (ornith models pull ... for explanations)"


def _check_model(name: str | None, config: Config) -> None:
    if name is None or config.model.endpoint:
        return
    from ornith_local.models.gguf import ModelFileError
    from ornith_local.models.local import resolve_model_path
    from ornith_local.models.tiny import TinyModelUnavailable

    try:
        resolve_model_path(name)
    except (LookupError, FileNotFoundError, ModelFileError, TinyModelUnavailable) as error:
        raise CliError(str(error).strip("'\"")) from None


def _validate(args: argparse.Namespace) -> Path:
    root = args.path.expanduser()
    if not root.is_dir():
        raise CliError(f"{args.path}: not a directory", exit_code=2)
    if args.timeout is not None and args.timeout <= 0:
        raise CliError("--timeout must be positive", exit_code=2)
    if args.model_budget <= 0:
        raise CliError("--model-budget must be positive", exit_code=2)
    if args.top < 1 or args.explain < 0:
        raise CliError("--top must be at least 1 and --explain at least 0", exit_code=2)
    return Path(os.path.realpath(root))


def _emit(report: TriageReport, args: argparse.Namespace) -> None:
    if args.json:
        text = formats.to_json(report) + "\n"
    elif args.markdown:
        text = formats.to_markdown(report)
    elif args.sarif:
        text = formats.to_sarif(report) + "\n"
    else:
        if args.output is None:
            stdout.print(render(report))
            return
        from rich.console import Console

        with args.output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=120, no_color=True).print(render(report))
        return
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CliError(f"{args.output}: cannot write: {error.strerror}") from None


def run(args: argparse.Namespace) -> int:
    root = _validate(args)
    started = time.monotonic()
    config = load_config(root)
    use_model, model, model_note = _model_choice(args, config)
    if use_model:
        _check_model(model, config)
    command = detect_test_command(root)
    if command is None:
        report = no_suite_report(root)
        _emit(report, args)
        return report.exit_code
    try:
        sandbox = open_sandbox(config.sandbox)
    except SandboxError as error:
        raise CliError(str(error)) from None
    options = TriageOptions(timeout_s=args.timeout or config.tests.timeout_s, coverage=not args.no_coverage,
                            suspects_per_cluster=5, top_suspects=args.top)
    with stderr.status(f"running {command.display} in the {sandbox.tier} sandbox…") as status:
        report, _ = triage(root, sandbox, command, options, progress=lambda message: status.update(message + "…"))
        if model_note:
            report.notes.append(model_note)
        if args.suggest and not use_model:
            report.notes.append("--suggest needs a model")
        if use_model and report.clusters and args.explain:
            status.update(f"explaining the top clusters with {model or 'the configured model'} "
                          f"(at most {args.model_budget:.0f} s)…")
            outcome = explain_in_subprocess(report, config.model, model, budget_s=args.model_budget,
                                            max_clusters=args.explain, suggest=args.suggest)
            report.timings["model_s"] = outcome.seconds
            if outcome.note:
                report.notes.append(outcome.note)
    report.timings["total_s"] = time.monotonic() - started
    _emit(report, args)
    return report.exit_code
