"""`ornith acp` driven by the SDK's real ACP client over stdio, as Zed or JetBrains drive it.

The agent is a real subprocess (`python -m ornith_local acp`); its model is a scripted OpenAI-compatible server
on 127.0.0.1 named by the user's configuration (ORNITH_MODEL_ENDPOINT), so the run is real end to end: the HTTP
backend, the loop, the approvals, the sandboxed checks. The event-to-update mapping: tests/test_acp_updates.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acp import PROTOCOL_VERSION, Client, RequestError, spawn_agent_process, text_block
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AllowedOutcome,
    FileEditToolCallContent,
    PermissionOption,
    RequestPermissionResponse,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
    UserMessageChunk,
)

from tests.test_cli_run import EDIT, TASK, ScriptedServer, call, scaffold_pieces

PLAN = "".join(scaffold_pieces())  # one step, "change": read_file and edit_file
SOURCE = Path("invoicing") / "discounts.py"


# --- the real client ----------------------------------------------------------------------------------------

class RecordingClient(Client):
    """An editor: records every update, and answers permission requests with `choice` (None: never answers)."""

    def __init__(self, choice: str | None = "allow") -> None:
        self.choice = choice
        self.updates: list[Any] = []
        self.asked: list[ToolCallUpdate] = []
        self.asking = asyncio.Event()
        self.messages = asyncio.Event()

    async def request_permission(self, session_id: str, tool_call: ToolCallUpdate, options: list[PermissionOption],
                                 **kwargs: Any) -> RequestPermissionResponse:
        self.asked.append(tool_call)
        self.asking.set()
        if self.choice is None:
            await asyncio.Event().wait()  # the person looks away; only a cancel ends this
        assert self.choice in [option.option_id for option in options]
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=self.choice))

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append(update)
        if isinstance(update, AgentMessageChunk):
            self.messages.set()

    def of(self, kind: type) -> list[Any]:
        return [update for update in self.updates if isinstance(update, kind)]

    def text(self) -> str:
        return "".join(update.content.text for update in self.of(AgentMessageChunk))


def agent_env(endpoint: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if endpoint:
        env["ORNITH_MODEL_ENDPOINT"] = endpoint
    return env


async def open_agent(client: RecordingClient, endpoint: str | None, log: Path, *args: str) -> Any:
    handle = log.open("ab")
    return spawn_agent_process(client, sys.executable, "-m", "ornith_local", "acp", *args, env=agent_env(endpoint),
                               transport_kwargs={"stderr": handle})


async def initialize(conn: Any) -> Any:
    return await conn.initialize(protocol_version=PROTOCOL_VERSION)


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[ScriptedServer]:
    served = ScriptedServer(list(request.param[0]), piece_delay_s=request.param[1])
    threading.Thread(target=served.serve_forever, daemon=True).start()
    yield served
    served.shutdown()


FIX = ([PLAN, call("edit_file", **EDIT), call("step_done", summary="changed > to >="),
        '{"reason": "the comparison now includes the minimum", "verdict": "approve"}'], 0.0)


def prompt_once(repo: Path, endpoint: str, log: Path, choice: str | None,
                mode: str = "ask") -> tuple[RecordingClient, Any, str]:
    async def go() -> tuple[RecordingClient, Any, str]:
        client = RecordingClient(choice)
        async with await open_agent(client, endpoint, log, "--mode", mode) as (conn, _process):
            hello = await initialize(conn)
            assert hello.agent_capabilities.load_session is True
            session = await conn.new_session(cwd=str(repo), mcp_servers=[])
            assert session.modes.current_mode_id == mode
            done = await asyncio.wait_for(conn.prompt(session_id=session.session_id, prompt=[text_block(TASK)]), 240)
            return client, done, session.session_id

    return asyncio.run(go())


@pytest.mark.parametrize("scripted", [FIX], indirect=True)
def test_a_prompt_streams_the_plan_the_calls_and_the_outcome(example_repo: Path, scripted: ScriptedServer,
                                                             tmp_path: Path) -> None:
    client, done, session_id = prompt_once(example_repo, scripted.url, tmp_path / "agent.log", "allow")
    assert done.stop_reason == "end_turn"
    plans = client.of(AgentPlanUpdate)
    assert [entry.content for entry in plans[0].entries] == ["change: compare with >="]
    assert plans[-1].entries[0].status == "completed"
    starts = {start.tool_call_id: start for start in client.of(ToolCallStart)}
    edit = next(start for start in starts.values() if start.kind == "edit")
    assert edit.title == "edit_file invoicing/discounts.py" and edit.locations[0].path == "invoicing/discounts.py"
    finished = [update for update in client.of(ToolCallProgress) if update.tool_call_id == edit.tool_call_id]
    assert finished[-1].status == "completed"
    diff = finished[-1].content[0]
    assert isinstance(diff, FileEditToolCallContent) and diff.path == "invoicing/discounts.py"
    assert "quantity > minimum" in diff.old_text and "quantity >= minimum" in diff.new_text
    assert "Outcome: verified" in client.text()
    assert f"ornith undo --session {session_id}" in client.text()
    assert "quantity >= minimum" in (example_repo / SOURCE).read_text()
    trajectory = Path(os.environ["ORNITH_DATA_DIR"]) / "sessions" / f"{session_id}.jsonl"
    assert '"type": "end"' in trajectory.read_text()  # the editor's session is an ornith session


@pytest.mark.parametrize("scripted", [FIX], indirect=True)
def test_reject_in_ask_mode_leaves_the_file_alone(example_repo: Path, scripted: ScriptedServer,
                                                  tmp_path: Path) -> None:
    client, done, _ = prompt_once(example_repo, scripted.url, tmp_path / "agent.log", "reject")
    assert done.stop_reason == "end_turn"
    assert len(client.asked) == 1
    asked = client.asked[0]
    assert asked.title == "edit invoicing/discounts.py" and asked.status == "pending"
    assert isinstance(asked.content[0], FileEditToolCallContent)  # the editor shows the proposed diff natively
    assert "quantity > minimum" in (example_repo / SOURCE).read_text()
    failed = [update for update in client.of(ToolCallProgress) if update.tool_call_id == asked.tool_call_id]
    assert failed and failed[-1].status == "failed"


@pytest.mark.parametrize("scripted", [FIX], indirect=True)
def test_control_allow_in_ask_mode_makes_the_edit(example_repo: Path, scripted: ScriptedServer,
                                                  tmp_path: Path) -> None:
    client, _, _ = prompt_once(example_repo, scripted.url, tmp_path / "agent.log", "allow")
    assert len(client.asked) == 1
    assert "quantity >= minimum" in (example_repo / SOURCE).read_text()


@pytest.mark.parametrize("scripted", [FIX], indirect=True)
def test_cancel_while_the_editor_is_asking_ends_the_prompt_and_changes_nothing(
        example_repo: Path, scripted: ScriptedServer, tmp_path: Path) -> None:
    async def go() -> str:
        client = RecordingClient(choice=None)  # the question stays open
        async with await open_agent(client, scripted.url, tmp_path / "agent.log", "--mode", "ask") as (conn, _):
            await initialize(conn)
            session = await conn.new_session(cwd=str(example_repo), mcp_servers=[])
            prompt = asyncio.ensure_future(conn.prompt(session_id=session.session_id, prompt=[text_block(TASK)]))
            await asyncio.wait_for(client.asking.wait(), 120)
            await conn.cancel(session_id=session.session_id)
            return str((await asyncio.wait_for(prompt, 30)).stop_reason)

    assert asyncio.run(go()) == "cancelled"
    assert "quantity > minimum" in (example_repo / SOURCE).read_text()


SLOW = ([PLAN, ["I will look at the comparison first. "] * 400], 0.05)  # a reply of ~20 s, a token at a time


@pytest.mark.parametrize("scripted", [SLOW], indirect=True)
def test_cancel_ends_the_prompt_with_cancelled_and_load_replays_the_session(
        example_repo: Path, scripted: ScriptedServer, tmp_path: Path) -> None:
    log = tmp_path / "agent.log"

    async def cancel_midway() -> tuple[str, str, float]:
        client = RecordingClient()
        async with await open_agent(client, scripted.url, log) as (conn, _process):
            await initialize(conn)
            session = await conn.new_session(cwd=str(example_repo), mcp_servers=[])
            prompt = asyncio.ensure_future(conn.prompt(session_id=session.session_id, prompt=[text_block(TASK)]))
            await asyncio.wait_for(client.messages.wait(), 120)  # the model is writing
            asked_at = time.monotonic()
            await conn.cancel(session_id=session.session_id)
            done = await asyncio.wait_for(prompt, 60)
            return done.stop_reason, session.session_id, time.monotonic() - asked_at

    stop_reason, session_id, took = asyncio.run(cancel_midway())
    assert stop_reason == "cancelled" and took < 10  # not after the ~20 s reply
    assert "Traceback" not in log.read_text()

    async def load_and_go_on() -> tuple[RecordingClient, int, str]:
        client = RecordingClient()
        async with await open_agent(client, scripted.url, log) as (conn, _process):
            await initialize(conn)
            await conn.load_session(cwd=str(example_repo), session_id=session_id, mcp_servers=[])
            replayed = len(client.updates)  # the history arrives before the response
            done = await asyncio.wait_for(conn.prompt(session_id=session_id, prompt=[text_block("go on")]), 240)
            return client, replayed, done.stop_reason

    client, replayed, stop_reason = asyncio.run(load_and_go_on())
    history = client.updates[:replayed]
    assert isinstance(history[0], UserMessageChunk) and history[0].content.text == TASK
    plans = [update for update in history if isinstance(update, AgentPlanUpdate)]
    assert [entry.content for entry in plans[0].entries] == ["change: compare with >="]
    assert stop_reason == "end_turn"  # the interrupted run picked up where it stopped, and ended
    assert f"Resuming the interrupted task: {TASK}" in client.text() and "Outcome:" in client.text()
    trajectory = Path(os.environ["ORNITH_DATA_DIR"]) / "sessions" / f"{session_id}.jsonl"
    assert '"type": "resumed"' in trajectory.read_text()


def test_a_folder_that_is_not_a_repo_is_a_one_line_error_and_the_agent_lives_on(tmp_path: Path,
                                                                                  example_repo: Path) -> None:
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    log = tmp_path / "agent.log"

    async def go() -> tuple[RequestError, str, RecordingClient]:
        client = RecordingClient()
        async with await open_agent(client, "http://127.0.0.1:9", log) as (conn, _process):  # nothing listens
            await initialize(conn)
            with pytest.raises(RequestError) as refused:
                await conn.new_session(cwd=str(plain_dir), mcp_servers=[])
            session = await conn.new_session(cwd=str(example_repo), mcp_servers=[])
            await conn.set_session_mode(session_id=session.session_id, mode_id="read-only")
            with pytest.raises(RequestError, match="unknown mode 'yolo'"):
                await conn.set_session_mode(session_id=session.session_id, mode_id="yolo")
            done = await asyncio.wait_for(conn.prompt(session_id=session.session_id, prompt=[text_block(TASK)]), 120)
            return refused.value, done.stop_reason, client

    error, stop_reason, client = asyncio.run(go())
    assert "not a git repository" in str(error) and "\n" not in str(error)
    assert stop_reason == "end_turn"  # the model is unreachable: said in the chat, and the agent is still there
    assert "127.0.0.1:9" in client.text()
    assert "Traceback" not in log.read_text()


def test_by_hand_in_a_terminal_it_says_an_editor_starts_it() -> None:
    import pexpect

    child = pexpect.spawn(sys.executable, ["-m", "ornith_local", "acp"], encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert "an editor starts it" in child.before and child.exitstatus == 2


def test_a_malformed_line_is_one_line_on_stderr_and_the_next_request_is_answered() -> None:
    hello = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}})
    done = subprocess.run([sys.executable, "-m", "ornith_local", "acp"], input=f"not json\n{hello}\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0  # the editor closed stdin: a clean exit
    (answer,) = [json.loads(line) for line in done.stdout.splitlines()]  # stdout carries the protocol only
    assert answer["id"] == 1 and answer["result"]["agentCapabilities"]["loadSession"] is True
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "JSON-RPC" in line] == [
        "ornith acp: Error parsing JSON-RPC message: JSONDecodeError: Expecting value: line 1 column 1 (char 0)"]


NOISY = """
import asyncio, os, sys
from acp import run_agent
from ornith_local.acp import agent, server
original = agent.OrnithAgent.initialize
async def noisy(self, *args, **kwargs):
    print("a stray print"); os.write(1, b"a native library's log\\n")
    return await original(self, *args, **kwargs)
agent.OrnithAgent.initialize = noisy
if sys.argv[1] == "guarded":
    server.serve(agent.AcpDefaults())
else:
    asyncio.run(run_agent(agent.OrnithAgent(agent.AcpDefaults())))
"""


@pytest.mark.parametrize("how", ["guarded", "control: the SDK's stdio alone"])
def test_stray_output_never_reaches_the_protocol_stream(how: str) -> None:
    hello = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}})
    done = subprocess.run([sys.executable, "-c", NOISY, how.split(":")[0]], input=hello + "\n",
                          capture_output=True, text=True, timeout=60)
    stray = "a stray print" in done.stdout or "a native library's log" in done.stdout
    assert stray is (how != "guarded")
    if how == "guarded":
        assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [1]
        assert "a stray print" in done.stderr and "a native library's log" in done.stderr
