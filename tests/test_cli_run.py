"""`ornith run` in a real terminal (a pty, through pexpect), against a scripted OpenAI-compatible server.

The model side is a real HTTP server speaking the streaming chat API (`--endpoint`), so the CLI runs its
whole real path: the HTTP backend, the loop, the tools' previews, the approval prompt, the summary.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Parsed:
    """A reply as a server with a tool parser sends it: one call in `tool_calls`, the thought apart."""

    id: str
    name: str
    arguments: dict[str, Any]
    reasoning: str = "Looking at the comparison."


class ScriptedServer(ThreadingHTTPServer):
    """Answers each chat request with the next scripted reply, streamed as server-sent events.

    A reply given as a list of pieces is streamed one piece per event, `piece_delay_s` apart: a slow model.
    """

    def __init__(self, replies: list[str | list[str] | Parsed], piece_delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), ReplyHandler)
        self.replies = replies
        self.piece_delay_s = piece_delay_s
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ReplyHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_POST(self) -> None:
        self.server.requests.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
        reply = self.server.replies.pop(0) if self.server.replies else call("step_done", summary="nothing left")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if isinstance(reply, Parsed):  # a server with a tool and reasoning parser: calls come apart from the text
            self.event({"choices": [{"index": 0, "delta": {"reasoning_content": reply.reasoning}}]})
            self.event({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": reply.id, "type": "function",
                 "function": {"name": reply.name, "arguments": json.dumps(reply.arguments)}}]},
                "finish_reason": "tool_calls"}]})
            self.wfile.write(b"data: [DONE]\n\n")
            return
        pieces = [reply] if isinstance(reply, str) else reply
        for piece in pieces:
            self.event({"choices": [{"index": 0, "delta": {"content": piece}}]})
            time.sleep(self.server.piece_delay_s)
        self.event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": len(pieces)}})
        self.wfile.write(b"data: [DONE]\n\n")

    def event(self, chunk: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()

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


def scaffold_pieces() -> list[str]:
    plan = json.dumps({
        "task_kind": "fix_bug", "goal": "make 10 items get the bulk rate", "acceptance_checks": [],
        "context": {"summarize_after_turns": 4}, "max_total_turns": 6,
        "steps": [{"name": "change", "intent": "compare with >=", "tools": ["read_file", "edit_file"],
                   "turn_budget": 3, "exit_condition": "the comparison is >=", "on_failure": "abort"}],
    })
    return [plan[start:start + 12] for start in range(0, len(plan), 12)]


def run_cli(served: ScriptedServer, repo: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`ornith run TASK` in auto mode without the judge against `served`, as a user runs it (no terminal)."""
    threading.Thread(target=served.serve_forever, daemon=True).start()
    try:
        return subprocess.run(
            [str(ORNITH), "run", TASK, "--repo", str(repo), "--endpoint", served.url, "--mode", "auto", "--no-judge",
             *options], capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    finally:
        served.shutdown()


@pytest.mark.parametrize("as_json", [False, True], ids=["log", "json"])
def test_a_slowly_written_plan_shows_progress_headless(example_repo: Path, as_json: bool) -> None:
    """The scaffold's JSON is not streamed to the screen; a slow model writing it still shows it is working."""
    pieces = scaffold_pieces()
    served = ScriptedServer([pieces, call("edit_file", **EDIT), call("step_done", summary="changed > to >=")],
                            piece_delay_s=3.0 / len(pieces))  # ~3 s of writing: past the 1 s before progress shows
    done = run_cli(served, example_repo, *(["--json"] if as_json else []))
    assert "Traceback" not in done.stderr
    if as_json:
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        writing = [line for line in lines if line["event"] == "writing"]
        assert writing and all(line["what"] == "the plan" and line["elapsed_s"] >= 1.0 for line in writing)
        counts = [line["tokens"] for line in writing]
        assert counts == sorted(counts) and counts[-1] <= len(pieces)
        assert lines[-1]["event"] == "summary" and lines[-1]["outcome"] == "verified"
        trajectory = Path(os.environ["ORNITH_DATA_DIR"]) / "sessions" / f"{lines[-1]['session_id']}.jsonl"
        assert '"type": "scaffold"' in trajectory.read_text() and '"writing"' not in trajectory.read_text()
    else:
        shown = re.findall(r"writing the plan: (\d+) tokens? \((\d+) s\)", done.stderr)
        assert shown and int(shown[0][1]) >= 1
        assert "verified" in done.stdout


def test_a_server_that_parses_calls_drives_a_whole_run(example_repo: Path) -> None:
    """vLLM / SGLang / Ollama with a tool parser: the plan comes as a forced `propose_scaffold` call, each turn's
    call in `tool_calls` with the reasoning apart; the history goes back in that form, results under the ids."""
    served = ScriptedServer([
        Parsed("srv-0", "propose_scaffold", json.loads("".join(scaffold_pieces()))),
        Parsed("srv-1", "read_file", {"path": "invoicing/discounts.py"}),
        Parsed("srv-2", "edit_file", EDIT),
        Parsed("srv-3", "step_done", {"summary": "changed > to >="}),
    ])
    done = run_cli(served, example_repo, "--json")
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["outcome"] == "verified", done.stdout[-2000:]
    assert "quantity >= minimum" in (example_repo / "invoicing" / "discounts.py").read_text()
    plan_request = served.requests[0]
    assert plan_request["tool_choice"] == {"type": "function", "function": {"name": "propose_scaffold"}}
    assert "response_format" not in plan_request
    last = served.requests[3]["messages"]  # the request that answered with step_done
    calls = [m for m in last if m["role"] == "assistant" and m.get("tool_calls")]
    assert [c["tool_calls"][0]["id"] for c in calls] == ["srv-1", "srv-2"]
    assert all(c["reasoning_content"] == "Looking at the comparison." for c in calls)
    results = [m["tool_call_id"] for m in last if m["role"] == "tool"]
    assert results == ["srv-1", "srv-2"]
    assert "did not call a tool" not in json.dumps(last)


def test_an_ornith_model_is_reminded_in_its_own_call_format_and_thinks_before_it_plans(example_repo: Path) -> None:
    """Served by any OpenAI-compatible server under its catalog name: the run header says it thinks first, and a
    turn without a call is answered with a reminder that shows a Qwen3-XML call, the format Ornith was trained on."""
    served = ScriptedServer(["".join(scaffold_pieces()), "I will look at the file first.",
                             call("edit_file", **EDIT), call("step_done", summary="changed > to >=")])
    done = run_cli(served, example_repo, "--model", "ornith-1.0-9b", "--json")
    assert "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    start = next(line for line in lines if line["event"] == "start")
    assert start["thinking"] == 2048  # [model] max_reasoning_tokens, the default budget
    reminder = served.requests[2]["messages"][-1]
    assert reminder["role"] == "user" and reminder["content"].startswith("You did not call a tool.")
    assert "<function=step_done>\n<parameter=summary>" in reminder["content"]
    assert '"name"' not in reminder["content"]  # not the Hermes JSON the 1.5B coder is shown
    assert lines[-1]["outcome"] == "verified"
