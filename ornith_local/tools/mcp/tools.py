"""The agent's tools over the MCP servers: `mcp_tools` (search), `mcp_call` (run one) and the `expose`d ones.

A small context window cannot carry every server's every schema in every prompt, and the prompt's prefix
must stay the same for the whole run (KV-cache reuse), so by default the model sees two fixed tools and looks
up what it needs. A server's `expose = [...]` tools are offered first-class from the start, schema and all.
Every call is effect "exec": ornith cannot know what a server's tool does, so ask mode asks first and
read-only mode refuses, as for a command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.config.settings import McpServerSettings
from ornith_local.tools.base import CallPreview, Effect, Tool, ToolError, ToolResult, schema
from ornith_local.tools.mcp.hub import McpCallError, McpHub, RemoteTool
from ornith_local.tools.mcp.results import argument_problem, cap

MAX_FOUND = 8  # tools shown with their schemas per search
MAX_NAMES = 40  # further matches named only
MAX_SCHEMA_CHARS = 1_500
MAX_DESCRIPTION_CHARS = 400
TOOL_NAME = re.compile(r"[^A-Za-z0-9_]")  # what every chat template and parser accepts in a tool's name


def exposed_name(server: str, tool: str) -> str:
    return TOOL_NAME.sub("_", f"{server}_{tool}")[:64]


def lean_schema(node: Any, *, names: bool = False) -> Any:
    """The schema without its "title" annotations (pydantic adds one to every level): tokens a small context
    cannot spare. `names`: `node` maps property names to schemas, so its keys are kept whatever they are."""
    if isinstance(node, dict):
        return {key: lean_schema(value, names=key in ("properties", "$defs", "definitions") and not names)
                for key, value in node.items() if names or key != "title"}
    if isinstance(node, list):
        return [lean_schema(item) for item in node]
    return node


def _args_preview(server: str, tool: str, arguments: Mapping[str, Any]) -> CallPreview:
    shown = json.dumps(dict(arguments), ensure_ascii=False, indent=1, default=str)
    return CallPreview("text", f"MCP server '{server}', tool '{tool}', arguments:\n{shown}",
                       f"call MCP tool {server}.{tool}")


def _run(hub: McpHub, server: str, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
    try:
        remote = hub.find(server, tool)
        problem = argument_problem(remote.input_schema, arguments)
        if problem is not None:
            raise ToolError(f"{server}.{tool}: {problem} (mcp_tools shows its schema)")
        outcome = hub.call(server, tool, arguments)
    except McpCallError as error:
        raise ToolError(str(error)) from None
    title = f"{server}.{tool}" + ("" if outcome.ok else ": the tool reported an error")
    return ToolResult(ok=outcome.ok, text=outcome.text if outcome.ok else f"error: {outcome.text}", title=title,
                      data={"server": server, "tool": tool})


def _describe(tool: RemoteTool) -> str:
    description = tool.description or "(no description)"
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[:MAX_DESCRIPTION_CHARS] + "..."
    arguments = cap(json.dumps(lean_schema(tool.input_schema), ensure_ascii=False, separators=(",", ":")),
                    MAX_SCHEMA_CHARS)
    return f'server="{tool.server}" tool="{tool.name}": {description}\n  arguments schema: {arguments}'


def _score(tool: RemoteTool, words: list[str]) -> int:
    name, text = tool.name.lower(), f"{tool.server} {tool.name} {tool.description}".lower()
    return sum(3 if word in name else 1 for word in words if word in text)


@dataclass
class McpToolsSearch:
    """`mcp_tools`: which allowed tools the connected servers have, by keyword, with their schemas."""

    hub: McpHub
    name: str = "mcp_tools"
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "query": {"type": "string", "description": "keywords to look for in tool names and descriptions; "
                                                   "empty lists every tool"},
        "server": {"type": "string", "description": "only this server's tools"},
    }, []))

    def __post_init__(self) -> None:
        servers = ", ".join(self.hub.names)
        self.description = (f"Find tools on the connected MCP servers ({servers}) by keyword: each match with its "
                            "server, name, description and arguments schema. Run one with mcp_call.")

    @property
    def effect(self) -> Effect:
        return "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        query = str(args.get("query") or "")
        return CallPreview("text", f"mcp_tools(query={query!r})", f"search MCP tools {query}".strip())

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        query, server = str(args.get("query") or ""), args.get("server")
        if server is not None and server not in self.hub.names:
            raise ToolError(f"no MCP server named '{server}' (configured: {', '.join(self.hub.names) or 'none'})")
        words = [word for word in re.split(r"[^a-z0-9]+", query.lower()) if word]
        tools = self.hub.tools(server if isinstance(server, str) else None)
        if words:
            ranked = sorted(((_score(tool, words), index) for index, tool in enumerate(tools)), key=lambda p: -p[0])
            tools = [tools[index] for score, index in ranked if score > 0]
        lines = [_describe(tool) for tool in tools[:MAX_FOUND]]
        more = [f"{tool.server}.{tool.name}" for tool in tools[MAX_FOUND:MAX_FOUND + MAX_NAMES]]
        if more:
            lines.append("more matches (search for one by name for its schema): " + ", ".join(more))
        if not lines:
            lines.append(f"no MCP tool matches {query!r}" if words else "the connected MCP servers offer no tools")
        lines += [f"MCP server '{name}' is not available: {why}" for name, why in self.hub.problems().items()
                  if server in (None, name)]
        found = min(len(tools), MAX_FOUND)
        return ToolResult(ok=True, text="\n".join(lines), title=f"{found} MCP tool{'s' * (found != 1)} found")


@dataclass
class McpCall:
    """`mcp_call`: run an allowed tool of a connected server with an arguments object."""

    hub: McpHub
    name: str = "mcp_call"
    description: str = ("Run a tool of a connected MCP server (find it and its arguments schema with mcp_tools "
                        "first). Returns the tool's result.")
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "server": {"type": "string", "description": "the server's name, as mcp_tools shows it"},
        "tool": {"type": "string", "description": "the tool's name on that server"},
        "arguments": {"type": "object", "description": "the tool's arguments, matching its schema"},
    }, ["server", "tool"]))

    @property
    def effect(self) -> Effect:
        return "exec"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        arguments = args.get("arguments")
        return _args_preview(str(args.get("server")), str(args.get("tool")),
                             arguments if isinstance(arguments, Mapping) else {})

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        arguments = args.get("arguments") or {}
        if not isinstance(arguments, Mapping):
            raise ToolError("argument 'arguments' must be an object of the tool's arguments")
        return _run(self.hub, str(args["server"]), str(args["tool"]), arguments)


@dataclass
class ExposedMcpTool:
    """One MCP tool offered under its own name (`<server>_<tool>`), its schema rendered from the start."""

    hub: McpHub
    remote: RemoteTool
    name: str = ""
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = exposed_name(self.remote.server, self.remote.name)
        description = self.remote.description or self.remote.name
        self.description = f"[MCP server {self.remote.server}] {description}"[:MAX_DESCRIPTION_CHARS]
        self.parameters = {"type": "object", "properties": {}, **lean_schema(self.remote.input_schema)}

    @property
    def effect(self) -> Effect:
        return "exec"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return _args_preview(self.remote.server, self.remote.name, args)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        return _run(self.hub, self.remote.server, self.remote.name, args)


def mcp_tools(hub: McpHub, taken: frozenset[str] = frozenset()) -> tuple[list[Tool], list[str]]:
    """The run's MCP tools (none when no server is configured) and one line for each `expose`d tool left out.

    `taken`: names already used by ornith's own tools; an exposed tool never replaces one.
    """
    if not hub.names:
        return [], []
    tools: list[Tool] = [McpToolsSearch(hub), McpCall(hub)]
    notes: list[str] = []
    names = set(taken) | {tool.name for tool in tools}
    for server in hub.names:
        settings = hub.settings(server)
        available = {tool.name: tool for tool in hub.tools(server)}
        for wanted in settings.expose if settings is not None else []:
            exposed = ExposedMcpTool(hub, available[wanted]) if wanted in available else None
            if exposed is None:
                if server not in hub.problems():
                    notes.append(f"MCP server '{server}': cannot expose '{wanted}': no such allowed tool")
            elif exposed.name in names:
                notes.append(f"MCP server '{server}': cannot expose '{wanted}' as {exposed.name}: the name is taken")
            else:
                names.add(exposed.name)
                tools.append(exposed)
    return tools, notes


def open_mcp(servers: Mapping[str, McpServerSettings], cwd: Path,
             taken: frozenset[str] = frozenset()) -> tuple[McpHub | None, list[Tool], list[str]]:
    """Start the configured servers (stdio ones in `cwd`) and build their tools: (the hub to close when the run
    ends, or None when no server is configured; the tools; one warning line per server or tool left out)."""
    if not servers:
        return None, [], []
    hub = McpHub(servers, cwd).start()
    tools, notes = mcp_tools(hub, taken)
    warnings = [f"MCP server '{name}' {why}" for name, why in hub.problems().items()]
    return hub, tools, warnings + notes
