"""The connected MCP servers of one run: one asyncio loop in a background thread owns every client.

The MCP SDK is async and its clients must be entered and left in the same task, so each server gets one
owner task on the hub's loop that connects, lists the tools, and waits to be closed; calls are sent into
the loop from the agent's thread and waited for with a deadline. Every failure (a command that does not
exist, a server that hangs or dies mid-call, an HTTP server that is not there) becomes one line, never a
traceback or a hung run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fnmatch
import os
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from ornith_local.config.settings import McpServerSettings
from ornith_local.tools.mcp.results import CallOutcome, error_line, render_result

START_GRACE_S = 5.0  # past a server's own timeout: its shutdown after a failed start is bounded by the SDK
CLOSE_WAIT_S = 8.0  # the SDK stops a stdio server in at most ~6 s (stdin closed, SIGTERM, SIGKILL)
MAX_TOOL_PAGES = 50  # a server whose listing never ends cannot hang the start
STDERR_TAIL_BYTES = 4096

T = TypeVar("T")


class McpCallError(Exception):
    """A call that could not be made or did not come back: one line for the model."""


@dataclass(frozen=True)
class RemoteTool:
    """One tool of a connected server, as the server listed it."""

    server: str
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class _Server:
    name: str
    settings: McpServerSettings
    client: Any = None  # mcp.Client once connected
    tools: list[RemoteTool] = field(default_factory=list)
    error: str | None = None  # why it is not connected (did not start, or stopped)
    stop: asyncio.Event | None = None
    errlog: IO[str] | None = None  # a stdio server's stderr, for the one line when it fails

    def allows(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.settings.allow)

    def stderr_tail(self) -> str:
        """The last line the server wrote to stderr (read without moving the file offset it shares)."""
        if self.errlog is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            fd = self.errlog.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - STDERR_TAIL_BYTES)
            text = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            return lines[-1][:300] if lines else ""
        return ""


class McpHub:
    """The configured servers of one run. `start()` connects them all (in parallel, each within its
    `start_timeout_s`); each call has its `timeout_s`; `close()` stops them. A server that fails to start
    is left out, with its reason in `problems()`."""

    def __init__(self, servers: Mapping[str, McpServerSettings], cwd: Path | None = None) -> None:
        self.cwd = cwd
        self._servers = {name: _Server(name, settings) for name, settings in servers.items()}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ornith-mcp", daemon=True)
        self._owners: list[concurrent.futures.Future[None]] = []
        self._closed = False

    # -- life -----------------------------------------------------------------------------------------------

    def start(self) -> McpHub:
        self._thread.start()
        ready: list[concurrent.futures.Future[None]] = []
        for server in self._servers.values():
            started: concurrent.futures.Future[None] = concurrent.futures.Future()
            ready.append(started)
            self._owners.append(asyncio.run_coroutine_threadsafe(self._own(server, started), self._loop))
        longest = max((server.settings.start_timeout_s for server in self._servers.values()), default=0.0)
        concurrent.futures.wait(ready, timeout=longest + START_GRACE_S)
        for server, started in zip(self._servers.values(), ready, strict=True):
            if not started.done() and server.error is None:  # owner stuck past its own deadline
                server.error = f"did not start within {server.settings.start_timeout_s:g}s"
        return self

    def close(self) -> None:
        """Stop every server and the loop; bounded, and safe to call twice."""
        if self._closed or not self._thread.is_alive():
            self._closed = True
            return
        self._closed = True
        for server in self._servers.values():
            if server.stop is not None:
                self._loop.call_soon_threadsafe(server.stop.set)
        concurrent.futures.wait(self._owners, timeout=CLOSE_WAIT_S)
        for owner in self._owners:
            owner.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            self._loop.close()
        for server in self._servers.values():
            if server.errlog is not None:
                server.errlog.close()

    def __enter__(self) -> McpHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what there is ---------------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._servers)

    def problems(self) -> dict[str, str]:
        """Server name -> why it is not available, for each one that is not."""
        return {name: server.error for name, server in self._servers.items() if server.error is not None}

    def tools(self, server: str | None = None) -> list[RemoteTool]:
        """The tools the configuration allows, of every connected server (or of one)."""
        return [tool for name, entry in self._servers.items() if server in (None, name)
                for tool in entry.tools if entry.allows(tool.name)]

    def listed(self, server: str) -> list[RemoteTool]:
        """Every tool the server listed, allowed or not (for `ornith mcp list`)."""
        entry = self._servers.get(server)
        return list(entry.tools) if entry is not None else []

    def allows(self, server: str, tool: str) -> bool:
        entry = self._servers.get(server)
        return entry is not None and entry.allows(tool)

    def settings(self, server: str) -> McpServerSettings | None:
        entry = self._servers.get(server)
        return entry.settings if entry is not None else None

    def find(self, server: str, tool: str) -> RemoteTool:
        """The allowed tool `tool` of `server`, or McpCallError saying what is wrong with the name."""
        entry = self._servers.get(server)
        if entry is None:
            known = ", ".join(self._servers) or "none"
            raise McpCallError(f"no MCP server named '{server}' (configured: {known})")
        if not entry.allows(tool):
            raise McpCallError(f"MCP tool '{server}.{tool}' is not allowed by the configuration "
                               f"(allow = {entry.settings.allow})")
        if entry.error is not None:
            raise McpCallError(f"MCP server '{server}' is not available: {entry.error}")
        for remote in entry.tools:
            if remote.name == tool:
                return remote
        raise McpCallError(f"MCP server '{server}' has no tool '{tool}' (mcp_tools lists them)")

    # -- calls ----------------------------------------------------------------------------------------------

    def call(self, server: str, tool: str, arguments: Mapping[str, Any]) -> CallOutcome:
        """Run an allowed tool; McpCallError (one line) when it cannot be run or does not answer in time."""
        remote = self.find(server, tool)
        entry = self._servers[server]
        client = entry.client
        if client is None:
            raise McpCallError(f"MCP server '{server}' is not available: {entry.error or 'not connected'}")
        timeout = entry.settings.timeout_s
        try:
            result = self._wait(client.call_tool(remote.name, dict(arguments), read_timeout_seconds=timeout),
                                timeout)
        except McpCallError as error:
            raise McpCallError(f"MCP server '{server}', tool '{tool}': {error}") from None
        except Exception as error:  # whatever the SDK raises is one line for the model
            raise McpCallError(f"MCP server '{server}', tool '{tool}': {_why(entry, error, timeout)}") from None
        return render_result(result)

    def _wait(self, work: Coroutine[Any, Any, T], timeout_s: float) -> T:
        if self._closed or not self._thread.is_alive():
            work.close()
            raise McpCallError("the MCP servers are closed")

        async def bounded() -> T:
            async with asyncio.timeout(timeout_s):
                return await work

        future = asyncio.run_coroutine_threadsafe(bounded(), self._loop)
        try:
            return future.result(timeout=timeout_s + START_GRACE_S)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            raise McpCallError(f"no answer within {timeout_s:g}s") from None

    # -- the owner task of one server ------------------------------------------------------------------------

    async def _own(self, server: _Server, started: concurrent.futures.Future[None]) -> None:
        from mcp import Client

        server.stop = asyncio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout(server.settings.start_timeout_s):
                    client = await stack.enter_async_context(
                        Client(self._transport(server), read_timeout_seconds=server.settings.start_timeout_s))
                    server.tools = await _list_tools(client, server.name)
                server.client = client
                started.set_result(None)
                await server.stop.wait()
        except BaseException as error:  # reported as one line; the hub goes on without this server
            if not started.done():
                server.error = f"did not start: {_why(server, error, server.settings.start_timeout_s)}"
            elif server.error is None and not server.stop.is_set():
                server.error = f"stopped: {error_line(error)}"
        finally:
            server.client = None
            if not started.done():
                started.set_result(None)

    def _transport(self, server: _Server) -> Any:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        settings = server.settings
        if settings.url is not None:
            return settings.url
        assert settings.command is not None  # the configuration checks there is exactly one of the two
        env = dict(entry.split("=", 1) for entry in settings.env)
        # The server's stderr, read for the one line when it fails; it lives as long as the server (close()).
        server.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="ornith-mcp-")  # noqa: SIM115
        parameters = StdioServerParameters(command=settings.command, args=list(settings.args), env=env,
                                           cwd=str(self.cwd) if self.cwd else None)
        return stdio_client(parameters, errlog=server.errlog)


async def _list_tools(client: Any, server: str) -> list[RemoteTool]:
    tools: list[RemoteTool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += [RemoteTool(server, tool.name, (tool.description or "").strip(), dict(tool.input_schema or {}))
                  for tool in page.tools]
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _why(server: _Server, error: BaseException, timeout_s: float) -> str:
    """One line for a failure, with the server's last stderr line when it wrote one."""
    line = f"no answer within {timeout_s:g}s" if _is_timeout(error) else error_line(error)
    if line == "Connection closed":
        line = "the server closed the connection (did it exit?)"
    said = server.stderr_tail()
    return line + (f" (its stderr: {said})" if said and said not in line else "")


def _is_timeout(error: BaseException) -> bool:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return isinstance(error, TimeoutError | asyncio.CancelledError)
