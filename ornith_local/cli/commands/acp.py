"""`ornith acp`: serve ornith to an editor (Zed, JetBrains) over the Agent Client Protocol on stdin/stdout."""

from __future__ import annotations

import argparse

from ornith_local.cli.argtypes import endpoint_url
from ornith_local.cli.output import CliError

NAME = "acp"
HELP = "serve ornith to an editor (Zed, JetBrains) over the Agent Client Protocol on stdin/stdout"
EPILOG = ("The editor starts this command and talks JSON-RPC to it; each session works in the editor's project "
          "(a git repository) with the model your configuration names. See the README for the editor settings.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="catalog name or path to a .gguf (default: config, else the most "
                        "capable installed)")
    parser.add_argument("--endpoint", type=endpoint_url,
                        help="OpenAI-compatible server URL instead of in-process llama.cpp")
    parser.add_argument("--mode", choices=["read-only", "ask", "auto"],
                        help="a new session's mode (default: config); the editor can switch it")


def run(args: argparse.Namespace) -> int:
    from ornith_local.acp import serve
    from ornith_local.acp.agent import AcpDefaults
    from ornith_local.acp.server import stdio_problem

    problem = stdio_problem()
    if problem is not None:
        raise CliError(problem, exit_code=2)

    return serve(AcpDefaults(model=args.model, endpoint=args.endpoint, mode=args.mode))
