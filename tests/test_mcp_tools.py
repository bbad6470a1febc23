"""Tools from MCP servers: real servers (the SDK's own MCPServer, written by the test) over stdio and over
streamable HTTP on 127.0.0.1, reached through ornith's `mcp_tools` / `mcp_call` tools, the real agent loop
and the real `open_run`.

What a user cares about: the agent finds and runs a server's tool; the allow-list and the approvals hold (the
server never sees a refused call); a server that hangs, dies or never starts costs one line, quickly; the
repo's `.ornith.toml` starts no server unless the repo is trusted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ornith_local.agent.events import Approval, SetupWarning, ToolCalled, ToolFinished
from ornith_local.agent.scaffold import Permissions, Scaffold, Step, clamp
from ornith_local.agent.trajectory import read_events
from ornith_local.config import ConfigError, load_config
from ornith_local.config.settings import McpServerSettings
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.session import RunRequest, open_run
from ornith_local.tools.base import Effect, Tool, call_tool
from ornith_local.tools.mcp import McpHub, mcp_tools, open_mcp
from ornith_local.tools.mcp.results import render_result
from tests.conftest import trust
from tests.loop_support import call, scaffold_json

SERVER = '''
import os, sys, time
from pathlib import Path
from mcp.server.mcpserver import MCPServer

app = MCPServer("demo")

@app.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)

@app.tool()
def record_note(note: str) -> str:
    """Write a note into the notebook file."""
    with Path(os.environ["NOTEBOOK"]).open("a") as notebook:
        notebook.write(note + "\\n")
    return "noted: " + note

@app.tool()
def sleepy(seconds: float) -> str:
    """Sleep for a while, then answer."""
    time.sleep(seconds)
    return "awake"

@app.tool()
def server_pid() -> str:
    """The server's process id."""
    return str(os.getpid())

@app.tool()
def env_var(name: str) -> str:
    """One variable of the server's environment."""
    return os.environ.get(name, "unset")

if __name__ == "__main__":
    if len(sys.argv) > 1:
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
    else:
        app.run()
'''


@pytest.fixture
def server_script(tmp_path: Path) -> Path:
    path = tmp_path / "demo_server.py"
    path.write_text(SERVER)
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return tmp_path / "notebook.txt"


def stdio_server(script: Path, notebook: Path, **settings: Any) -> McpServerSettings:
    defaults: dict[str, Any] = {"env": [f"NOTEBOOK={notebook}"], "timeout_s": 20.0}
    return McpServerSettings(command=sys.executable, args=[str(script)], **{**defaults, **settings})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def http_url(server_script: Path, notebook: Path) -> Iterator[str]:
    """The same server over streamable HTTP, started by the test, stopped after it."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(server_script), str(port)],
                               env={**os.environ, "NOTEBOOK": str(notebook)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


@pytest.fixture(params=["stdio", "http"])
def any_server(request: pytest.FixtureRequest, server_script: Path, notebook: Path) -> McpServerSettings:
    if request.param == "stdio":
        return stdio_server(server_script, notebook)
    return McpServerSettings(url=request.getfixturevalue("http_url"), timeout_s=20.0)


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}


def test_the_agent_finds_a_servers_tool_and_runs_it(any_server: McpServerSettings, tmp_path: Path) -> None:
    with McpHub({"demo": any_server}, tmp_path) as hub:
        tools, notes = mcp_tools(hub)
        named = by_name(tools)
        assert set(named) == {"mcp_tools", "mcp_call"} and notes == [] and hub.problems() == {}
        found = call_tool(named["mcp_tools"], {"query": "add integers"})
        assert found.ok and found.text.splitlines()[0].startswith('server="demo" tool="add": Add two integers.')
        assert '"a":{' in found.text and '"required":["a","b"]' in found.text  # the schema, to call it right
        result = call_tool(named["mcp_call"], {"server": "demo", "tool": "add", "arguments": {"a": 2, "b": 40}})
        assert result.ok and result.text == "42" and result.title == "demo.add"
        assert named["mcp_call"].effect == "exec" and named["mcp_tools"].effect == "read"


def test_a_tool_outside_the_allow_list_is_never_offered_nor_run(server_script: Path, notebook: Path,
                                                                tmp_path: Path) -> None:
    with McpHub({"demo": stdio_server(server_script, notebook, allow=["add", "env_*"])}, tmp_path) as hub:
        named = by_name(mcp_tools(hub)[0])
        listing = call_tool(named["mcp_tools"], {}).text
        assert "record_note" not in listing and 'tool="add"' in listing and 'tool="env_var"' in listing
        refused = call_tool(named["mcp_call"], {"server": "demo", "tool": "record_note",
                                                "arguments": {"note": "sneaky"}})
        assert not refused.ok and "not allowed by the configuration" in refused.text
        assert len(refused.text.splitlines()) == 1 and not notebook.exists()  # the server never saw it
        # Control: an allowed tool on the same server runs.
        allowed = call_tool(named["mcp_call"], {"server": "demo", "tool": "add", "arguments": {"a": 1, "b": 1}})
        assert allowed.ok and allowed.text == "2"
    with McpHub({"demo": stdio_server(server_script, notebook)}, tmp_path) as hub:  # control: no allow-list
        named = by_name(mcp_tools(hub)[0])
        assert call_tool(named["mcp_call"], {"server": "demo", "tool": "record_note",
                                             "arguments": {"note": "fine"}}).ok
        assert notebook.read_text() == "fine\n"


def test_arguments_that_break_the_tools_schema_never_reach_the_server(server_script: Path, notebook: Path,
                                                                     tmp_path: Path) -> None:
    with McpHub({"demo": stdio_server(server_script, notebook)}, tmp_path) as hub:
        mcp_call = by_name(mcp_tools(hub)[0])["mcp_call"]
        wrong = call_tool(mcp_call, {"server": "demo", "tool": "record_note", "arguments": {"note": 7}})
        assert not wrong.ok and "argument 'note'" in wrong.text and "string" in wrong.text
        missing = call_tool(mcp_call, {"server": "demo", "tool": "record_note", "arguments": {}})
        assert not missing.ok and "'note' is a required property" in missing.text
        assert not notebook.exists()
        unknown = call_tool(mcp_call, {"server": "demo", "tool": "no_such_tool"})
        assert not unknown.ok and "has no tool 'no_such_tool'" in unknown.text
        # Control: the same call with the argument the schema asks for reaches the server.
        assert call_tool(mcp_call, {"server": "demo", "tool": "record_note", "arguments": {"note": "ok"}}).ok
        assert notebook.read_text() == "ok\n"


def test_a_stdio_server_gets_its_configured_env_not_ornith_s(server_script: Path, notebook: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORNITH_TEST_SECRET_TOKEN", "hunter2")  # ornith's own environment, e.g. an API key
    settings = stdio_server(server_script, notebook, env=[f"NOTEBOOK={notebook}", "GREETING=hello"])
    with McpHub({"demo": settings}, tmp_path) as hub:
        def env(name: str) -> str:
            return hub.call("demo", "env_var", {"name": name}).text

        assert env("GREETING") == "hello" and env("ORNITH_TEST_SECRET_TOKEN") == "unset"
        assert env("PATH") == os.environ["PATH"]  # the minimal allow-list the SDK passes on


def test_a_server_that_hangs_costs_one_line_quickly(server_script: Path, notebook: Path, tmp_path: Path) -> None:
    with McpHub({"demo": stdio_server(server_script, notebook, timeout_s=1.0)}, tmp_path) as hub:
        mcp_call = by_name(mcp_tools(hub)[0])["mcp_call"]
        started = time.monotonic()
        result = call_tool(mcp_call, {"server": "demo", "tool": "sleepy", "arguments": {"seconds": 30}})
        assert time.monotonic() - started < 5
        assert not result.ok and result.text == "error: MCP server 'demo', tool 'sleepy': no answer within 1s"
        # Control: the same server answers a call that fits its timeout.
        assert call_tool(mcp_call, {"server": "demo", "tool": "sleepy", "arguments": {"seconds": 0}}).text == "awake"


def test_a_server_command_that_does_not_exist_is_one_warning_and_one_line_errors(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    servers = {"ghost": McpServerSettings(command="ornith-no-such-mcp-server", timeout_s=5.0),
               "down": McpServerSettings(url=f"http://127.0.0.1:{free_port()}/mcp", timeout_s=5.0)}
    started = time.monotonic()
    hub, tools, warnings = open_mcp(servers, tmp_path)
    assert hub is not None
    try:
        assert time.monotonic() - started < 10
        assert len(warnings) == 2 and all("\n" not in line for line in warnings)
        assert warnings[0].startswith("MCP server 'ghost' did not start:")
        assert "ornith-no-such-mcp-server" in warnings[0]
        assert warnings[1].startswith("MCP server 'down' did not start:")
        named = by_name(tools)
        result = call_tool(named["mcp_call"], {"server": "ghost", "tool": "anything"})
        assert not result.ok and len(result.text.splitlines()) == 1 and "not available" in result.text
        assert "'ghost' is not available" in call_tool(named["mcp_tools"], {}).text
    finally:
        hub.close()
    assert capfd.readouterr().err == ""  # the warnings are the caller's to show; nothing else is printed


def test_a_server_killed_mid_call_is_one_line_not_a_hang(server_script: Path, notebook: Path, tmp_path: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    with McpHub({"demo": stdio_server(server_script, notebook)}, tmp_path) as hub:
        mcp_call = by_name(mcp_tools(hub)[0])["mcp_call"]
        pid = int(hub.call("demo", "server_pid", {}).text)
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
        started = time.monotonic()
        result = call_tool(mcp_call, {"server": "demo", "tool": "sleepy", "arguments": {"seconds": 15}})
        assert time.monotonic() - started < 8  # well before the tool would have answered (or the 20 s timeout)
        assert not result.ok and len(result.text.splitlines()) == 1 and "MCP server 'demo'" in result.text
        later = call_tool(mcp_call, {"server": "demo", "tool": "add", "arguments": {"a": 1, "b": 2}})
        assert not later.ok and len(later.text.splitlines()) == 1
    assert "Traceback" not in capfd.readouterr().err


def test_an_exposed_tool_is_a_first_class_tool_with_the_servers_schema(server_script: Path, notebook: Path,
                                                                      tmp_path: Path) -> None:
    settings = stdio_server(server_script, notebook, allow=["add"], expose=["add", "record_note"])
    with McpHub({"my-demo": settings}, tmp_path) as hub:
        tools, notes = mcp_tools(hub)
        named = by_name(tools)
        assert set(named) == {"mcp_tools", "mcp_call", "my_demo_add"}
        assert notes == ["MCP server 'my-demo': cannot expose 'record_note': no such allowed tool"]
        exposed = named["my_demo_add"]
        assert exposed.effect == "exec" and exposed.parameters["required"] == ["a", "b"]
        assert call_tool(exposed, {"a": 3, "b": 4}).text == "7"


def test_read_only_mode_takes_mcp_call_away(tmp_path: Path) -> None:
    with McpHub({}, tmp_path) as hub:
        assert mcp_tools(hub) == ([], [])  # no server configured: no MCP tool at all
    effects: dict[str, Effect] = {"mcp_tools": "read", "mcp_call": "exec"}
    step = Step(name="look", intent="look", tools=("mcp_tools", "mcp_call"), turn_budget=3, exit_condition="done",
                on_failure="abort")
    scaffold = Scaffold(task_kind="explain", goal="look", steps=(step,), acceptance_checks=(),
                        max_total_turns=5)
    read_only = clamp(scaffold, Permissions(tools=effects, mode="read-only", max_turns=5))
    assert read_only.scaffold.steps[0].tools == ("mcp_tools",)
    control = clamp(scaffold, Permissions(tools=effects, mode="ask", max_turns=5))
    assert control.scaffold.steps[0].tools == ("mcp_tools", "mcp_call")


def test_results_summarize_images_and_are_capped() -> None:
    from mcp_types import CallToolResult, ImageContent, TextContent

    image = ImageContent(data="A" * 4000, mime_type="image/png")
    outcome = render_result(CallToolResult(content=[TextContent(text="chart:"), image], is_error=False))
    assert outcome.ok and outcome.text == "chart:\n[image: image/png, 3000 bytes]"
    long = render_result(CallToolResult(content=[TextContent(text="x" * 50_000)], is_error=True))
    assert not long.ok and len(long.text) < 8_100 and long.text.endswith("more characters cut)")


# -- configuration ----------------------------------------------------------------------------------------------

SERVERS_TOML = '[mcp.servers.demo]\ncommand = "{python}"\nargs = ["{script}"]\nenv = ["NOTEBOOK={notebook}"]\n'


def write_servers(repo: Path, script: Path, notebook: Path, extra: str = "") -> None:
    (repo / ".ornith.toml").write_text(SERVERS_TOML.format(python=sys.executable, script=script, notebook=notebook)
                                       + extra)


def test_an_untrusted_repo_starts_no_server(tmp_path: Path, server_script: Path, notebook: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write_servers(tmp_path, server_script, notebook)
    assert load_config(tmp_path, environ={}).mcp.servers == {}
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1 and "ignoring mcp.servers" in lines[0] and "ornith trust" in lines[0]
    trust(tmp_path)  # control: the same bytes, trusted
    servers = load_config(tmp_path, environ={}).mcp.servers
    assert servers["demo"].command == sys.executable and servers["demo"].env == [f"NOTEBOOK={notebook}"]
    assert servers["demo"].allow == ["*"] and servers["demo"].timeout_s == 30.0


def test_user_and_repo_servers_add_up(tmp_path: Path, server_script: Path, notebook: Path) -> None:
    user_config = Path(os.environ["ORNITH_CONFIG_DIR"]) / "config.toml"
    user_config.parent.mkdir(parents=True, exist_ok=True)
    user_config.write_text('[mcp.servers.docs]\nurl = "http://127.0.0.1:8765/mcp"\nallow = ["search_*"]\n')
    write_servers(tmp_path, server_script, notebook)
    trust(tmp_path)
    servers = load_config(tmp_path, environ={}).mcp.servers
    assert set(servers) == {"docs", "demo"} and servers["docs"].allow == ["search_*"]


@pytest.mark.parametrize(("table", "message"), [
    ('[mcp.servers.a]\nargs = ["x"]\n', "set exactly one of command"),
    ('[mcp.servers.a]\ncommand = "x"\nurl = "http://h/mcp"\n', "set exactly one of command"),
    ('[mcp.servers.a]\ncommand = "x"\ntimeout_s = "soon"\n', "'mcp.servers.a.timeout_s': expected a number"),
    ('[mcp.servers.a]\ncommand = "x"\ncolour = 1\n', "'mcp.servers.a': unknown key 'colour'"),
    ('[mcp.servers.a]\nurl = "ftp://x"\n', "server 'a': expected an http:// or https:// URL"),
    ('[mcp.servers.a]\ncommand = "x"\nenv = ["NOPE"]\n', "server 'a': expected NAME=value entries"),
])
def test_a_bad_server_entry_is_a_one_line_config_error(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / ".ornith.toml").write_text(table)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path, environ={})
    assert message in str(raised.value) and "\n" not in str(raised.value)


# -- a real run: open_run, the loop, approvals, the trajectory -------------------------------------------------------

TASK = "Note down that the invoicing tests fail."
PLAN = scaffold_json(("note", ["mcp_tools", "mcp_call"], 4, "abort"))


def run_with_mcp(repo: Path, mode: str, answer: str, scaffold: str = "self") -> tuple[list[Any], list[str]]:
    """A real run (the model scripted) whose model calls mcp_call once; (events, asked tools)."""
    backend = ScriptedBackend([
        *([PLAN] if scaffold == "self" else []),
        call("mcp_call", server="demo", tool="record_note", arguments={"note": "tests fail"}),
        call("step_done", summary="noted"),
    ])
    asked: list[str] = []

    def ask(tool: str, preview: Any, tier: str) -> str:
        asked.append(f"{tool}: {preview.title}")
        return answer

    request = RunRequest(task=TASK, repo=repo, config=load_config(repo, environ={}), mode=mode,  # type: ignore[arg-type]
                         max_turns=8, use_judge=False, use_library=False, quirks=(), scaffold_mode=scaffold)
    with open_run(request, emit=lambda event: None, ask=ask, backend=backend) as run:
        assert "mcp_call" in run.loop.tools and "mcp_tools" in run.loop.tools
        assert run.mcp is not None
        server_pid = int(run.mcp.call("demo", "server_pid", {}).text)
        run.loop.run(TASK)
        events = list(read_events(run.trajectory.path))
    with pytest.raises(ProcessLookupError):  # the run's end stopped the server
        os.kill(server_pid, 0)
    return events, asked


@pytest.fixture
def mcp_repo(example_repo: Path, server_script: Path, notebook: Path) -> Path:
    write_servers(example_repo, server_script, notebook, "[tests]\nbaseline = false\n")
    trust(example_repo)
    return example_repo


def test_an_agent_run_calls_an_mcp_tool_and_the_trajectory_shows_it(mcp_repo: Path, notebook: Path) -> None:
    events, asked = run_with_mcp(mcp_repo, "auto", "yes")
    called = [event for event in events if isinstance(event, ToolCalled) and event.tool == "mcp_call"]
    finished = [event for event in events if isinstance(event, ToolFinished) and event.tool == "mcp_call"]
    assert [event.arguments for event in called] == [
        {"server": "demo", "tool": "record_note", "arguments": {"note": "tests fail"}}]
    assert [(event.ok, event.text) for event in finished] == [(True, "noted: tests fail")]
    assert asked == [] and notebook.read_text() == "tests fail\n"


def test_the_fixed_scaffold_offers_the_mcp_tools_in_its_steps(mcp_repo: Path, notebook: Path) -> None:
    events, _ = run_with_mcp(mcp_repo, "auto", "yes", scaffold="fixed")
    called = [event for event in events if isinstance(event, ToolCalled) and event.tool == "mcp_call"]
    assert len(called) == 1 and called[0].findings == []  # the monitor let it through: the step lists it
    assert notebook.read_text() == "tests fail\n"


def test_ask_mode_asks_before_mcp_call_and_no_means_the_server_never_sees_it(mcp_repo: Path,
                                                                            notebook: Path) -> None:
    events, asked = run_with_mcp(mcp_repo, "ask", "no")
    assert asked == ["mcp_call: call MCP tool demo.record_note"]
    assert [event.answer for event in events if isinstance(event, Approval)] == ["no"]
    assert not any(isinstance(event, ToolFinished) and event.tool == "mcp_call" for event in events)
    assert not notebook.exists()


def test_read_only_mode_starts_no_server(mcp_repo: Path) -> None:
    request = RunRequest(task=TASK, repo=mcp_repo, config=load_config(mcp_repo, environ={}), mode="read-only",
                         use_judge=False, use_library=False, quirks=())
    with open_run(request, emit=lambda event: None, backend=ScriptedBackend([])) as run:
        assert run.mcp is None and "mcp_call" not in run.loop.tools and "mcp_tools" not in run.loop.tools
    control = replace(request, mode="ask")
    with open_run(control, emit=lambda event: None, backend=ScriptedBackend([])) as run:
        assert run.mcp is not None and "mcp_call" in run.loop.tools


def test_control_ask_mode_yes_runs_the_call(mcp_repo: Path, notebook: Path) -> None:
    events, asked = run_with_mcp(mcp_repo, "ask", "yes")
    assert asked == ["mcp_call: call MCP tool demo.record_note"] and notebook.read_text() == "tests fail\n"
    assert json.loads(json.dumps([e.ok for e in events if isinstance(e, ToolFinished) and e.tool == "mcp_call"])) == [
        True]


def ornith(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ornith_local", *args], capture_output=True, text=True, timeout=120)


def test_ornith_mcp_list_shows_each_server_and_its_tools(tmp_path: Path, server_script: Path, notebook: Path) -> None:
    write_servers(tmp_path, server_script, notebook, 'allow = ["add", "env_*"]\nexpose = ["add"]\n'
                  '[mcp.servers.ghost]\ncommand = "ornith-no-such-mcp-server"\n')
    trust(tmp_path)
    listed = ornith("mcp", "list", "--repo", str(tmp_path), "--json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    servers = json.loads(listed.stdout)["servers"]
    tools = {tool["name"]: tool for tool in servers["demo"]["tools"]}
    assert servers["demo"]["error"] is None and tools["add"]["exposed_as"] == "demo_add"
    assert tools["env_var"]["allowed"] and not tools["record_note"]["allowed"]
    assert servers["ghost"]["error"].startswith("did not start:") and servers["ghost"]["tools"] == []
    shown = ornith("mcp", "list", "--repo", str(tmp_path))
    assert "demo (" in shown.stdout and "connected" in shown.stdout and "not available" in shown.stdout
    missing = ornith("mcp", "list", "--repo", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_schemas_shown_to_the_model_drop_titles_but_keep_a_property_named_title() -> None:
    from ornith_local.tools.mcp.tools import lean_schema

    schema = {"title": "noteArguments", "type": "object", "required": ["title"],
              "properties": {"title": {"title": "Title", "type": "string"}}}
    assert lean_schema(schema) == {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}


def test_a_server_that_does_not_start_is_a_warning_event_not_terminal_output(
        example_repo: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The TUI owns the terminal: a warning printed there would tear its screen. It is a live event instead."""
    (example_repo / ".ornith.toml").write_text('[mcp.servers.ghost]\ncommand = "ornith-no-such-mcp-server"\n')
    trust(example_repo)
    seen: list[Any] = []
    request = RunRequest(task=TASK, repo=example_repo, config=load_config(example_repo, environ={}), mode="ask",
                         use_judge=False, use_library=False, quirks=())
    capfd.readouterr()
    with open_run(request, emit=seen.append, backend=ScriptedBackend([])) as run:
        warnings = [event.text for event in seen if isinstance(event, SetupWarning)]
        assert len(warnings) == 1 and warnings[0].startswith("MCP server 'ghost' did not start:")
        assert not any(isinstance(event, SetupWarning) for event in read_events(run.trajectory.path))
    assert capfd.readouterr().err == ""
