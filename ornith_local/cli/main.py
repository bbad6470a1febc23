"""`ornith`: parse the command line and hand off to one subcommand module.

Each module in `ornith_local.cli.commands` exposes NAME, HELP, `add_arguments(parser)` and
`run(args) -> int`. With no subcommand, `ornith` opens the TUI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from ornith_local import __version__
from ornith_local.cli.argtypes import context_size, endpoint_url
from ornith_local.cli.commands import (
    acp,
    attempts,
    doctor,
    generate,
    hook,
    map,
    mcp,
    models,
    parse,
    precommit,
    run,
    sandbox,
    sessions,
    triage,
    trust,
    undo,
)
from ornith_local.cli.output import CliError, fail, stderr
from ornith_local.config import ConfigError
from ornith_local.config.settings import check_env_names

BUILT: list[ModuleType] = [acp, doctor, generate, parse, models, sandbox, map, run, sessions, undo, triage, precommit,
                          hook, trust, mcp, attempts]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors: keep them to one line and exit 2, as documented.
        raise CliError(f"{message} (see '{self.prog} --help')", exit_code=2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ornith",
        description="A coding agent that runs entirely on your own machine. "
        "Run `ornith` with no subcommand in a repo to open the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"ornith {__version__}")
    tui = parser.add_argument_group("TUI options (when no COMMAND is given)")
    tui.add_argument("--repo", dest="tui_repo", type=Path, metavar="DIR", help="the repository to work in (default: .)")
    tui.add_argument("--model", dest="tui_model", metavar="NAME", help="catalog name or path to a .gguf")
    tui.add_argument("--endpoint", dest="tui_endpoint", metavar="URL", type=endpoint_url,
                     help="OpenAI-compatible server instead")
    tui.add_argument("--mode", dest="tui_mode", choices=["read-only", "ask", "auto"],
                     help="what may change without asking")
    tui.add_argument("--scaffold", dest="tui_scaffold", choices=["self", "fixed"], help="who writes the plan")
    tui.add_argument("--max-turns", dest="tui_max_turns", type=int, metavar="N", help="hard cap on model turns per run")
    tui.add_argument("--n-ctx", dest="tui_n_ctx", type=context_size, metavar="N", help="context window in tokens")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in sorted(BUILT, key=lambda module: str(module.NAME)):
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                    epilog=getattr(module, "EPILOG", None))
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def open_tui(args: argparse.Namespace) -> int:
    """`ornith` alone: the TUI, in a terminal only (scripts get one line pointing at `ornith run`)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError("the TUI needs a terminal; use 'ornith run' for headless use", exit_code=2)
    from ornith_local.config import load_config
    from ornith_local.tui import TuiOptions, run_tui

    repo = (args.tui_repo or Path.cwd()).resolve()
    if not repo.is_dir():
        raise CliError(f"{args.tui_repo}: not a directory", exit_code=2)
    if args.tui_max_turns is not None and args.tui_max_turns < 1:
        raise CliError("--max-turns must be at least 1", exit_code=2)
    trust.ask_to_trust(repo)
    config = load_config(repo)
    options = TuiOptions(
        repo=repo, config=config, mode=args.tui_mode or config.agent.mode,
        scaffold_mode=args.tui_scaffold or config.agent.scaffold, model=args.tui_model,
        endpoint=args.tui_endpoint, max_turns=args.tui_max_turns, n_ctx=args.tui_n_ctx,
        attempts=config.agent.attempts, attempts_policy=config.agent.attempts_policy,
    )
    return run_tui(options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        check_env_names(os.environ)  # every command, also those that never read the config
        args = parser.parse_args(argv)
        if args.command is None:
            return open_tui(args)
        return int(args.handler(args))
    except CliError as error:
        fail(str(error))
        return error.exit_code
    except ConfigError as error:
        fail(str(error))
        return 2
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return 130
    except BrokenPipeError:
        # e.g. `ornith doctor | head`: the reader left; nothing to report.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
