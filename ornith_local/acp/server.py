"""Serve the agent on stdin/stdout, the way an editor starts it.

Stdout carries the protocol and nothing else: the real stdout is kept for it, and file descriptor 1 then points
at stderr, so a stray print, rich's console or a native library's log can never corrupt a JSON-RPC message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from typing import BinaryIO

from acp import run_agent, stdio_streams
from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES

from ornith_local.acp.agent import AcpDefaults, OrnithAgent


def stdio_problem() -> str | None:
    """Why stdin/stdout cannot carry the protocol (a terminal, a regular file), in one line; None when they can."""
    if sys.stdin.isatty():
        return ("ornith acp speaks the Agent Client Protocol on stdin/stdout: an editor starts it "
                "(see the README for Zed and JetBrains)")
    # What asyncio can watch: pipes and sockets; stdout may also be a terminal (/dev/null cannot be read so).
    for name, stream, terminal_ok in (("stdin", sys.stdin, False), ("stdout", sys.stdout, True)):
        try:
            mode = os.fstat(stream.fileno()).st_mode
        except (OSError, ValueError):
            return f"ornith acp needs {name}, and it is closed"
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (terminal_ok and stat.S_ISCHR(mode))):
            return f"ornith acp needs {name} to be a pipe, as an editor starts it"
    return None


class OneLine(logging.Formatter):
    """The SDK logs a malformed message or a failed handler with its traceback: here, one line on stderr."""

    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        return f"ornith acp: {record.getMessage()}" + (f": {type(error).__name__}: {error}" if error else "")


def serve(defaults: AcpDefaults) -> int:
    """Run until the editor closes stdin; the exit status is 0 then."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    asyncio.run(_serve(OrnithAgent(defaults), protocol))
    return 0


async def _serve(agent: OrnithAgent, protocol: BinaryIO) -> None:
    # The SDK's stdio streams write to sys.stdout: while they are made, that is the kept protocol stream.
    shown, sys.stdout = sys.stdout, protocol
    try:
        reader, writer = await stdio_streams(limit=DEFAULT_STDIO_BUFFER_LIMIT_BYTES)
    finally:
        sys.stdout = shown
    try:
        await run_agent(agent, writer, reader)
    finally:
        agent.stop_all()
