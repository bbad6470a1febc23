"""`ornith map`: print the tree-sitter repo map of a project, as the model sees it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ornith_local.cli.output import CliError, stderr
from ornith_local.tools.repomap import DEFAULT_TOKENS, RepoMap
from ornith_local.tools.repomap.languages import available

NAME = "map"
HELP = "print the tree-sitter repo map of a project"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=Path.cwd(), help="project directory (default: .)")
    parser.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, help=f"token budget (default {DEFAULT_TOKENS})")
    parser.add_argument("--focus", nargs="+", default=[], metavar="NAME",
                        help="files or symbol names to center the map on")
    parser.add_argument("--task", default="", help="a task description; names and files it mentions weigh more")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the map and its figures")


def run(args: argparse.Namespace) -> int:
    root: Path = args.path
    if not root.is_dir():
        raise CliError(f"{root}: not a directory", exit_code=2)
    if args.tokens < 16:
        raise CliError("--tokens must be at least 16", exit_code=2)
    if not available():
        raise CliError("no tree-sitter grammar is installed (pip install 'tree-sitter-language-pack<1')")
    repo_map = RepoMap(root)
    with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), console=stderr,
                  transient=True, disable=args.json) as progress:
        task_id = progress.add_task("index", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task_id, completed=done, total=total)

        result = repo_map.build(task=args.task, focus=args.focus, tokens=args.tokens, progress=advance)
    if args.json:
        print(json.dumps({
            "path": str(repo_map.root), "map": result.text, "tokens": result.tokens,
            "files": result.files_total, "files_parsed": result.files_parsed,
            "definitions_total": result.definitions_total, "definitions_shown": result.definitions_shown,
            "focus_files": result.focus_files, "focus_names": result.focus_names,
            "elapsed_s": round(result.elapsed_s, 3),
        }, indent=2))
        return 0
    if not result.files_total:
        stderr.print(f"no source files in a supported language under {root}")
        return 0
    # Plain write, not rich: the map is data to copy, and rich would re-wrap long signatures.
    sys.stdout.write(result.text)
    sys.stdout.flush()
    stderr.print(
        f"[dim]{result.definitions_shown} of {result.definitions_total} definitions from {result.files_total} "
        f"files, ~{result.tokens} tokens, {result.elapsed_s:.2f} s ({result.files_parsed} parsed)[/]"
    )
    return 0
