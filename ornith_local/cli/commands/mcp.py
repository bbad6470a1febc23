"""`ornith mcp list [--repo DIR]`: the configured MCP servers, whether they start, and the tools they offer.

It starts the servers exactly as a run would (the user's config.toml, and the repo's .ornith.toml when the
repo is trusted), so a server that will not start shows its one-line reason here before any run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ornith_local.cli.output import CliError, plain, stdout
from ornith_local.config import load_config
from ornith_local.tools.mcp import McpHub, exposed_name

NAME = "mcp"
HELP = "list the configured MCP servers and the tools the agent may use from them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["list"], default="list", help="what to do (default: list)")
    parser.add_argument("--repo", type=Path, default=None, metavar="DIR", help="the repository (default: .)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    repo = (args.repo or Path.cwd()).resolve()
    if not repo.is_dir():
        raise CliError(f"{args.repo}: not a directory", exit_code=2)
    servers = load_config(repo).mcp.servers
    if not servers:
        if args.json:
            print(json.dumps({"servers": {}}))
        else:
            stdout.print(plain("no MCP servers configured (add [mcp.servers.NAME] to config.toml; see README)"))
        return 0
    with McpHub(servers, repo) as hub:
        report = {name: _server(hub, name) for name in hub.names}
    if args.json:
        print(json.dumps({"servers": report}, indent=2))
        return 0
    for name, entry in report.items():
        where = entry["command"] or entry["url"]
        status = f"[red]not available: {plain(entry['error'])}[/]" if entry["error"] else "[green]connected[/]"
        stdout.print(f"[bold]{plain(name)}[/] ({plain(where)}): {status}", soft_wrap=True)
        for tool in entry["tools"]:
            mark = "exposed as " + tool["exposed_as"] if tool["exposed_as"] else (
                "allowed" if tool["allowed"] else "not allowed")
            stdout.print(f"  {plain(tool['name'])}  [dim]{plain(mark)}[/]")
    return 0


def _server(hub: McpHub, name: str) -> dict[str, Any]:
    settings = hub.settings(name)
    assert settings is not None
    command = " ".join([settings.command, *settings.args]) if settings.command else None
    return {
        "command": command, "url": settings.url, "error": hub.problems().get(name),
        "tools": [{"name": tool.name, "allowed": hub.allows(name, tool.name),
                   "exposed_as": exposed_name(name, tool.name) if tool.name in settings.expose
                   and hub.allows(name, tool.name) else None} for tool in hub.listed(name)],
    }
