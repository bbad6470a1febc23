"""Tools from MCP servers the user configured ([mcp.servers.NAME] in config.toml or a trusted .ornith.toml).

`McpHub` connects the servers (stdio commands and streamable HTTP URLs) on a background event loop;
`mcp_tools(hub)` turns them into ornith tools (`mcp_tools`, `mcp_call`, and any `expose`d ones) that the
loop, the approvals, the monitor and the trajectory treat like every other tool.
"""

from ornith_local.tools.mcp.hub import McpCallError, McpHub, RemoteTool
from ornith_local.tools.mcp.results import CallOutcome
from ornith_local.tools.mcp.tools import ExposedMcpTool, McpCall, McpToolsSearch, exposed_name, mcp_tools, open_mcp

__all__ = ["CallOutcome", "ExposedMcpTool", "McpCall", "McpCallError", "McpHub", "McpToolsSearch", "RemoteTool",
           "exposed_name", "mcp_tools", "open_mcp"]
