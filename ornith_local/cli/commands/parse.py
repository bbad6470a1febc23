"""`ornith parse`: read raw model output on stdin, print reasoning, content, tool calls and problems as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ornith_local.cli.output import CliError
from ornith_local.llm.parsing import FORMATS, StreamParser, ToolSpecError

NAME = "parse"
HELP = "parse raw model output (stdin) into reasoning, content and typed tool calls, as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", default="auto", help=f"tool-call format: {', '.join(FORMATS)} (default: auto)")
    parser.add_argument("--tools", type=Path, metavar="FILE",
                        help="JSON list of OpenAI-style tool definitions, used to type and check arguments")
    thinking = parser.add_mutually_exclusive_group()
    thinking.add_argument("--starts-in-reasoning", dest="starts_in_reasoning", action="store_true", default=None,
                          help="the prompt already opened the thinking block (output begins mid-thought)")
    thinking.add_argument("--no-starts-in-reasoning", dest="starts_in_reasoning", action="store_false",
                          help="the output begins outside any thinking block")
    parser.add_argument("--events", action="store_true",
                        help="also stream the parser's events, one JSON object per line, before the result")
    parser.add_argument("--chunk-size", type=int, default=0, metavar="N",
                        help="with --events: feed the text N characters at a time (default: all at once)")


def _load_tools(path: Path | None) -> object:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise CliError(f"{path}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None


def run(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        raise CliError(f"unknown --format {args.format!r}; choose one of: {', '.join(FORMATS)}", exit_code=2)
    if args.chunk_size < 0:
        raise CliError("--chunk-size must be 0 or more", exit_code=2)
    tools = _load_tools(args.tools)
    if sys.stdin.isatty():
        raise CliError("no input: pipe the model's raw output on stdin, e.g. `ornith parse < output.txt`",
                       exit_code=2)
    try:
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        parser = StreamParser(args.format, tools, args.starts_in_reasoning)
    except ToolSpecError as error:
        raise CliError(f"{args.tools}: {error}") from None
    size = args.chunk_size or max(len(text), 1)
    for start in range(0, len(text), size):
        _print_events(parser.feed(text[start:start + size]), args.events)
    _print_events(parser.finish(), args.events)
    print(json.dumps(parser.result().to_json(), ensure_ascii=False, indent=None if args.events else 2))
    return 0


def _print_events(events: Sequence[object], show: bool) -> None:
    if not show:
        return
    for event in events:
        payload: dict[str, object] = {"event": type(event).__name__}
        for key, value in vars(event).items():
            payload[key] = value.to_json() if hasattr(value, "to_json") else value
        print(json.dumps(payload, ensure_ascii=False))
