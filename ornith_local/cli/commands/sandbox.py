"""`ornith sandbox run|shell|tiers`: run a command or a shell in the active sandbox tier; list the tiers."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace
from pathlib import Path

from rich.table import Table

from ornith_local.cli.output import CliError, stderr, stdout
from ornith_local.config import load_config
from ornith_local.sandbox import SandboxError, TierSandbox, active_tier, open_sandbox, probe_tiers

NAME = "sandbox"
HELP = "run a command or a shell in the sandbox; list the tiers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run one command in the active tier and exit with its code")
    _common(run)
    run.add_argument("--timeout", type=float, default=None, metavar="S", help="wall-clock limit in seconds")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD...", help="the command and its arguments")
    shell = actions.add_parser("shell", help="an interactive shell inside the sandbox")
    _common(shell)
    tiers = actions.add_parser("tiers", help="try every tier here and say which is active")
    tiers.add_argument("--json", action="store_true", help="print JSON for scripts")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", type=Path, default=Path.cwd(), help="the only writable folder (default: .)")
    parser.add_argument("--allow-network", action="store_true", help="let this run use the network")
    parser.add_argument("--tier", default=None, help="force a tier: bwrap, landlock, macos, fallback")


def _sandbox(args: argparse.Namespace) -> TierSandbox:
    settings = load_config(args.workspace).sandbox
    if args.allow_network:
        settings = replace(settings, allow_network=True)
    try:
        return open_sandbox(settings, tier=args.tier)
    except SandboxError as error:
        raise CliError(str(error), exit_code=2) from None


def _label(sandbox: TierSandbox) -> str:
    if sandbox.unsandboxed:
        return f"[yellow]ornith: tier {sandbox.tier} — UNSANDBOXED (rlimits and timeouts only)[/]"
    return f"[dim]ornith: sandbox tier {sandbox.tier}[/]"


def _run(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise CliError("nothing to run: ornith sandbox run -- CMD [ARGS...]", exit_code=2)
    sandbox = _sandbox(args)
    stderr.print(_label(sandbox))
    try:
        result = sandbox.run(argv, workspace=args.workspace, timeout_s=args.timeout,
                             stdin=None if sys.stdin.isatty() else sys.stdin.read())
    except SandboxError as error:
        raise CliError(str(error)) from None
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.truncated:
        stderr.print(f"[yellow]ornith: output truncated at {sandbox.limits.output_bytes} bytes per stream[/]")
    if result.killed_reason:
        stderr.print(f"[yellow]ornith: killed ({result.killed_reason}) after {result.duration_s:.1f}s[/]")
    return result.exit_code if result.exit_code >= 0 else 128 - result.exit_code


def _shell(args: argparse.Namespace) -> int:
    if not sys.stdin.isatty():
        raise CliError("ornith sandbox shell needs a terminal; use 'ornith sandbox run -- CMD' in scripts", 2)
    sandbox = _sandbox(args)
    stderr.print(_label(sandbox) + " [dim]— interactive shell; exit to leave[/]")
    try:
        session = sandbox.shell(workspace=args.workspace)
    except SandboxError as error:
        raise CliError(str(error)) from None
    with session:
        session.attach()
    return 0


def _tiers(args: argparse.Namespace) -> int:
    probes = probe_tiers()
    active = active_tier(probes)
    if args.json:
        import json

        print(json.dumps({"active": active.name, "tiers": [asdict(probe) for probe in probes]}, indent=2))
        return 0
    table = Table(title="Sandbox tiers (each tried here)", title_justify="left")
    for column in ("tier", "works", "detail"):
        table.add_column(column)
    for probe in probes:
        mark = "[green]✓[/]" if probe.works else "[red]✗[/]"
        name = probe.name + (" [bold](active)[/]" if probe is active else "")
        table.add_row(name, mark, probe.detail + (f"\n[dim]→ {probe.remedy}[/]" if probe.remedy else ""))
    stdout.print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "run":
        return _run(args)
    if args.action == "shell":
        return _shell(args)
    return _tiers(args)
