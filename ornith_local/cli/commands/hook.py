"""`ornith hook install|uninstall`: the git pre-commit hook that runs `ornith precommit`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ornith_local.cli.output import CliError, stdout
from ornith_local.precommit.hook import install, uninstall
from ornith_local.precommit.staged import PrecommitError

NAME = "hook"
HELP = "install or remove the git pre-commit hook"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall"],
                        help="install: write the pre-commit hook, chaining any hook already there; "
                        "uninstall: remove it and put the chained hook back")
    parser.add_argument("-C", "--repo", type=Path, default=Path("."), help="the repository (default: .)")


def run(args: argparse.Namespace) -> int:
    try:
        result = install(args.repo.expanduser()) if args.action == "install" else uninstall(args.repo.expanduser())
    except PrecommitError as error:
        raise CliError(str(error), error.exit_code) from None
    except OSError as error:
        raise CliError(f"cannot change the hook: {error.strerror} ({error.filename})") from None
    if result.action == "installed":
        stdout.print(f"installed the ornith pre-commit hook: {result.path}")
        if result.chained is not None:
            stdout.print(f"the hook that was there runs first, unchanged: {result.chained}")
    elif result.action == "updated":
        stdout.print(f"the ornith pre-commit hook was already installed; refreshed: {result.path}")
    elif result.action == "removed":
        stdout.print(f"removed the ornith pre-commit hook: {result.path}")
        if result.chained is not None:
            stdout.print(f"the hook that was there before is back in place: {result.chained}")
    else:
        stdout.print(f"no ornith pre-commit hook to remove at {result.path}")
    return 0
