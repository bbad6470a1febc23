"""`ornith run` in a real terminal (a pty, through pexpect), against a scripted OpenAI-compatible server.

The model side is a real HTTP server speaking the streaming chat API (`--endpoint`), so the CLI runs its
whole real path: the HTTP backend, the loop, the tools' previews, the approval prompt, the summary.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pexpect
import pytest

ORNITH = Path(sys.executable).with_name("ornith")
TASK = "Fix the bulk discount: 10 items should already get the 5% rate"
EDIT = {"path": "invoicing/discounts.py", "old_string": "quantity > minimum", "new_string": "quantity >= minimum"}


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


class ScriptedServer(ThreadingHTTPServer):
    """Answers each chat request with the next scripted reply, streamed as server-sent events."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), ReplyHandler)
        self.replies = replies

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ReplyHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        reply = self.server.replies.pop(0) if self.server.replies else call("step_done", summary="nothing left")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunks = [{"choices": [{"index": 0, "delta": {"content": reply}}]},
                  {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 100, "completion_tokens": 20}}]
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    served = ScriptedServer([
        call("step_done", summary="bulk_discount_rate compares with >"),  # understand
        call("edit_file", **EDIT), call("step_done", summary="changed > to >="),  # change
        call("step_done", summary="checked"),  # verify
    ])
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()


ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROMPT = r"\[y\]es / \[n\]o / \[a\]lways for this run"


def plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


def spawn(repo: Path, endpoint: str) -> pexpect.spawn:
    return pexpect.spawn(str(ORNITH), ["run", TASK, "--repo", str(repo), "--endpoint", endpoint, "--mode", "ask",
                                       "--scaffold", "fixed", "--no-judge"],
                         encoding="utf-8", timeout=240, dimensions=(50, 160))


def test_ask_mode_shows_the_edit_as_a_diff_and_applies_it_on_yes(example_repo: Path, server: ScriptedServer) -> None:
    source = example_repo / "invoicing" / "discounts.py"
    child = spawn(example_repo, server.url)
    child.expect(PROMPT)
    shown = plain(child.before)
    assert "edit invoicing/discounts.py" in shown
    assert "-        if quantity > minimum:" in shown and "+        if quantity >= minimum:" in shown
    assert "quantity >= minimum" not in source.read_text()  # nothing happens before the yes
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert "quantity >= minimum" in source.read_text()
    assert "outcome" in plain(child.before) and child.exitstatus == 0


def test_ctrl_c_says_which_session_to_resume(example_repo: Path, server: ScriptedServer) -> None:
    child = spawn(example_repo, server.url)
    child.expect(PROMPT)
    child.sendintr()
    child.expect(r"interrupted\.(?:\x1b\[[0-9;]*m)* session (\S+); resume it with: ornith sessions resume (\S+)")
    first, second = child.match.group(1), child.match.group(2)
    child.expect(pexpect.EOF)
    child.close()
    assert first == second and child.exitstatus == 130
    assert "Traceback" not in child.before
