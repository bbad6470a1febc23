"""`ornith trust [--revoke] [PATH]`: let a repo's `.ornith.toml` set its security-relevant keys.

Untrusted, a repo's sandbox tier, network, timeouts, test command, test env and pre-commit checks are
ignored (with one line saying so). Trust covers the file's exact bytes: any later change, by you,
a `git pull` or a command the model ran, needs `ornith trust` again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.markup import escape
from rich.prompt import Confirm

from ornith_local.cli.output import CliError, stderr, stdout
from ornith_local.config.settings import REPO_CONFIG_NAME, parse_toml, thaw_repo_config
from ornith_local.config.trust import content_digest, is_trusted, revoke_repo, security_keys_in, trust_repo

NAME = "trust"
HELP = "trust (or --revoke) the security settings in a repo's .ornith.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=None, help="the repository (default: .)")
    parser.add_argument("--revoke", action="store_true", help="stop trusting the repo")


def _read(repo: Path) -> bytes:
    path = repo / REPO_CONFIG_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{repo} has no {REPO_CONFIG_NAME}: nothing to trust", exit_code=2) from None
    except OSError as error:
        raise CliError(f"{path}: cannot read: {error.strerror}") from None


def run(args: argparse.Namespace) -> int:
    repo = (args.path or Path.cwd()).resolve()
    if not repo.is_dir():
        raise CliError(f"{args.path}: not a directory", exit_code=2)
    if args.revoke:
        found = revoke_repo(repo)
        thaw_repo_config(repo)
        stdout.print(f"{'no longer trusting' if found else 'was not trusted:'} {escape(str(repo))}")
        return 0
    data = _read(repo)
    keys = security_keys_in(parse_toml(repo / REPO_CONFIG_NAME, data))
    trust_repo(repo, data)
    thaw_repo_config(repo)
    what = ", ".join(keys) if keys else "no security-relevant keys yet"
    stdout.print(f"trusted {escape(str(repo / REPO_CONFIG_NAME))} as it is now ({what})")
    return 0


def ask_to_trust(repo: Path) -> None:
    """Before a run in a terminal: offer to trust a repo whose `.ornith.toml` sets security keys.

    Called before the config is first read (and frozen). Without a terminal nothing is asked; the keys
    are then ignored with one line from the config loader.
    """
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    path = repo / REPO_CONFIG_NAME
    try:
        data = path.read_bytes()
        keys = security_keys_in(parse_toml(path, data))
    except Exception:
        return
    if not keys or is_trusted(repo, content_digest(data)):
        return
    stderr.print(f"[bold]{escape(str(path))}[/] sets {escape(', '.join(keys))}, which decide how commands "
                 "are sandboxed and which commands run.")
    if Confirm.ask("Trust this repo's settings (remembered until the file changes)?", default=False,
                   console=stderr):
        trust_repo(repo, data)
        thaw_repo_config(repo)
