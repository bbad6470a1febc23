"""User hooks (Claude Code / Codex CLI shape): real hook scripts, run by a real sandbox, around a real run.

The runs go through `session.open_run` with the configuration read from real TOML files (the user's config.toml
or the repo's .ornith.toml) and a scripted model; the tools, the sandbox and the hooks are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ornith_local.agent import events
from ornith_local.agent.hooks import CommandHooks
from ornith_local.agent.state import RunResult
from ornith_local.config import ConfigError, load_config
from ornith_local.config.hooks import HookSettings, HookSpec, user_hooks_dir
from ornith_local.config.paths import app_dirs
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.sandbox import open_sandbox
from ornith_local.session import RunRequest, open_run
from ornith_local.tools.base import ToolResult
from tests.conftest import trust
from tests.loop_support import call, scaffold_json

ORNITH = Path(sys.executable).with_name("ornith")

# A guard like the ones people write for Claude Code: reads the call on stdin, exit 2 with a reason blocks it.
NO_TOUCH = """
import json, sys
call = json.load(sys.stdin)
if "touch" in call["tool_input"].get("command", ""):
    print("touching files is not allowed here", file=sys.stderr)
    sys.exit(2)
"""
# Writes what it was given to a file in the repo, one JSON object a line.
RECORD = """
import json, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(json.load(sys.stdin)) + "\\n")
"""


def write_hook(repo: Path, name: str, source: str) -> str:
    path = repo / ".ornith" / "hooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return f"python3 .ornith/hooks/{name}"


def user_config(text: str) -> None:
    path = app_dirs().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def run_task(repo: Path, replies: list[Any]) -> tuple[RunResult, list[events.Event], ScriptedBackend]:
    """One real run of `repo` with its effective configuration and a scripted model (no judge, a trivial check)."""
    config = load_config(repo)
    config = replace(config, tests=replace(config.tests, baseline=False))
    backend = ScriptedBackend(list(replies))
    seen: list[events.Event] = []
    request = RunRequest(task="do it", repo=repo, config=config, mode="auto", checks=("true",), use_judge=False,
                         use_library=False)
    with open_run(request, emit=seen.append, backend=backend) as run:
        result = run.loop.run(request.task)
    return result, seen, backend


def hook_events(seen: list[events.Event]) -> list[events.HookRan]:
    return [event for event in seen if isinstance(event, events.HookRan)]


def tool_messages(backend: ScriptedBackend) -> list[str]:
    return [message.content for message in backend.calls[-1].messages if message.role == "tool"]


RUN_TOUCH = [scaffold_json(("work", ["run", "edit_file"], 4, "abort")), call("run", command="touch pwned.txt"),
             call("step_done", summary="done")]


def test_a_pre_tool_use_hook_blocks_a_run_call_and_the_model_reads_why(example_repo: Path) -> None:
    command = write_hook(example_repo, "no_touch.py", NO_TOUCH)
    user_config(f"""
        [[hooks.PreToolUse]]
        matcher = "Bash"  # Claude Code's name for ornith's run tool
        command = "{command}"
        timeout_s = 30
    """)
    result, seen, backend = run_task(example_repo, RUN_TOUCH)
    assert result.outcome != "error", result.reason
    assert not (example_repo / "pwned.txt").exists()  # the call never ran
    assert "refused by hook: touching files is not allowed here" in tool_messages(backend)
    [ran] = hook_events(seen)
    assert (ran.hook_event, ran.tool, ran.status, ran.exit_code) == ("PreToolUse", "run", "blocked", 2)
    assert not any(isinstance(event, events.ToolFinished) and event.tool == "run" for event in seen)


def test_control_without_the_hook_the_same_call_runs(example_repo: Path) -> None:
    result, seen, _ = run_task(example_repo, RUN_TOUCH)
    assert result.outcome != "error", result.reason
    assert (example_repo / "pwned.txt").exists() and not hook_events(seen)


def test_a_matcher_that_names_another_tool_leaves_run_alone(example_repo: Path) -> None:
    command = write_hook(example_repo, "no_touch.py", NO_TOUCH)
    user_config(f"""
        [[hooks.PreToolUse]]
        matcher = "Edit|Write"
        command = "{command}"
    """)
    run_task(example_repo, RUN_TOUCH)
    assert (example_repo / "pwned.txt").exists()  # a matcher is a regex on the whole name: "run" is neither


EDIT = {"path": "invoicing/discounts.py", "old_string": "quantity > minimum", "new_string": "quantity >= minimum"}
EDIT_THEN_DONE = [scaffold_json(("fix", ["read_file", "edit_file"], 4, "abort")), call("edit_file", **EDIT),
                  call("step_done", summary="fixed")]


def test_post_tool_use_gets_the_edit_and_stop_gets_the_outcome(example_repo: Path) -> None:
    record = write_hook(example_repo, "record.py", RECORD)  # it writes beside the repo's files: .ornith/ is read-only
    # Codex's config.toml form (Claude Code's settings.json as TOML): a matcher group with its handlers.
    user_config(f"""
        [[hooks.PostToolUse]]
        matcher = "Edit|Write"
        [[hooks.PostToolUse.hooks]]
        type = "command"
        command = "{record} hook-post.jsonl"
        timeout = 30

        [[hooks.Stop]]
        command = "{record} hook-stop.jsonl"

        [[hooks.SessionStart]]
        matcher = "startup"
        command = "{record} hook-start.jsonl"
    """)
    result, seen, _ = run_task(example_repo, EDIT_THEN_DONE)
    assert result.outcome != "error", result.reason
    assert "quantity >= minimum" in (example_repo / "invoicing" / "discounts.py").read_text()
    [post] = [json.loads(line) for line in (example_repo / "hook-post.jsonl").read_text().splitlines()]
    assert post["hook_event_name"] == "PostToolUse" and post["tool_name"] == "edit_file"
    assert post["tool_input"] == EDIT and post["tool_response"]["ok"] is True
    assert "quantity >= minimum" in post["tool_response"]["diff"]
    assert post["cwd"] == str(example_repo.resolve()) and post["session_id"] == result.session_id
    [stop] = [json.loads(line) for line in (example_repo / "hook-stop.jsonl").read_text().splitlines()]
    assert (stop["hook_event_name"], stop["outcome"], stop["reason"]) == ("Stop", result.outcome, result.reason)
    [start] = [json.loads(line) for line in (example_repo / "hook-start.jsonl").read_text().splitlines()]
    assert (start["hook_event_name"], start["source"]) == ("SessionStart", "startup")
    assert [(event.hook_event, event.status) for event in hook_events(seen)] == [
        ("SessionStart", "ok"), ("PostToolUse", "ok"), ("Stop", "ok")]
    assert isinstance(seen[-1], events.RunEnded)  # the Stop hook runs before the run's last event


def test_a_post_tool_use_block_reaches_the_model_beside_the_result(example_repo: Path) -> None:
    user_config("""
        [[hooks.PostToolUse]]
        matcher = "edit_file"
        command = "echo '{\\"decision\\": \\"block\\", \\"reason\\": \\"run the formatter\\"}'"
    """)
    _, seen, backend = run_task(example_repo, EDIT_THEN_DONE)
    [edited] = [text for text in tool_messages(backend) if "discounts.py" in text]
    assert edited.endswith("\nhook: run the formatter")
    assert [event.status for event in hook_events(seen)] == ["feedback"]


NO_KEYS = """
import json, sys
if "sk-" in json.load(sys.stdin)["prompt"]:
    print(json.dumps({"decision": "block", "reason": "the task holds an API key"}))
"""


@pytest.mark.parametrize("task", ["use sk-live-123 to call the API", "call the API"])
def test_a_user_prompt_submit_hook_refuses_a_task_before_the_model_sees_it(example_repo: Path, task: str) -> None:
    command = write_hook(example_repo, "no_keys.py", NO_KEYS)
    user_config(f'[[hooks.UserPromptSubmit]]\ncommand = "{command}"\n')
    config = replace(load_config(example_repo), tests=replace(load_config(example_repo).tests, baseline=False))
    backend = ScriptedBackend([scaffold_json(("look", ["read_file"], 2, "abort")), call("step_done", summary="ok")])
    request = RunRequest(task=task, repo=example_repo, config=config, mode="auto", checks=("true",),
                         use_judge=False, use_library=False)
    with open_run(request, emit=lambda event: None, backend=backend) as run:
        result = run.loop.run(task)
    if "sk-" in task:
        assert (result.outcome, result.reason) == ("aborted", "refused by hook: the task holds an API key")
        assert backend.calls == []  # nothing of the task reached the model
    else:  # control: the same hook lets a clean task through
        assert result.outcome != "aborted" and backend.calls


def test_a_hung_or_crashing_hook_is_a_note_and_the_run_goes_on(example_repo: Path) -> None:
    user_config("""
        [[hooks.PreToolUse]]
        command = "sleep 60"
        timeout_s = 1

        [[hooks.PreToolUse]]
        command = "python3 -c 'raise SystemExit(\\"boom\\")'"
    """)
    started = time.monotonic()
    result, seen, _ = run_task(example_repo, RUN_TOUCH)
    assert time.monotonic() - started < 40
    assert result.outcome != "error", result.reason
    assert (example_repo / "pwned.txt").exists()  # fail open, as in Claude Code: only exit 2 or a deny blocks
    timeout, crash = hook_events(seen)
    assert timeout.status == "timeout" and "timed out after 1 s" in timeout.detail
    assert crash.status == "error" and crash.detail == "exit 1: boom"


REPO_HOOK = """
[[hooks.PreToolUse]]
matcher = "run"
command = "python3 .ornith/hooks/no_touch.py"
"""


def test_an_untrusted_repos_hooks_are_ignored_with_a_warning(example_repo: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    write_hook(example_repo, "no_touch.py", NO_TOUCH)
    (example_repo / ".ornith.toml").write_text(REPO_HOOK)
    _, seen, _ = run_task(example_repo, RUN_TOUCH)
    assert "ignoring hooks.PreToolUse from" in capsys.readouterr().err
    assert (example_repo / "pwned.txt").exists() and not hook_events(seen)


def test_control_the_same_repo_trusted_runs_its_hooks(example_repo: Path) -> None:
    write_hook(example_repo, "no_touch.py", NO_TOUCH)
    (example_repo / ".ornith.toml").write_text(REPO_HOOK)
    trust(example_repo)
    _, seen, _ = run_task(example_repo, RUN_TOUCH)
    assert not (example_repo / "pwned.txt").exists()
    assert [event.status for event in hook_events(seen)] == ["blocked"]


def test_hooks_add_up_across_the_users_config_and_a_trusted_repo(example_repo: Path) -> None:
    user_config('[[hooks.Stop]]\ncommand = "true"\n')
    (example_repo / ".ornith.toml").write_text(REPO_HOOK)
    trust(example_repo)
    hooks = load_config(example_repo).hooks
    assert [(hook.event, hook.command) for hook in hooks.hooks] == [
        ("Stop", "true"), ("PreToolUse", "python3 .ornith/hooks/no_touch.py")]


@pytest.mark.parametrize(("toml", "message"), [
    ('[[hooks.PreToolUse]]\nmatcher = "run"\n', "'hooks.PreToolUse[0].command': expected a command line"),
    ('[[hooks.BeforeEverything]]\ncommand = "true"\n', "'hooks.BeforeEverything': unknown hook event"),
    ('[[hooks.Stop]]\ncommand = "true"\ntimeout_s = -1\n', "'hooks.Stop[0].timeout_s': expected a positive"),
    ('[[hooks.PreToolUse]]\nmatcher = "(run"\ncommand = "true"\n', "'hooks.PreToolUse[0].matcher': not a regular"),
    ('[[hooks.Stop]]\ncommand = "true"\nwhen = "always"\n', "'hooks.Stop[0]': unknown key 'when'"),
    ('[hooks]\nStop = "true"\n', "'hooks.Stop': expected a list of tables"),
    ('[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = "prompt"\ncommand = "x"\n', "only \"command\" hooks run here"),
])
def test_a_bad_hook_entry_is_one_line_naming_the_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    user_config(toml)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(app_dirs().config_file) in str(raised.value) and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_bad_hook_entry_from_the_cli_is_one_line_not_a_traceback(example_repo: Path) -> None:
    user_config('[[hooks.PreToolUse]]\nmatcher = "run"\n')
    done = subprocess.run([str(ORNITH), "run", "do it", "--repo", str(example_repo), "--mode", "auto"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "'hooks.PreToolUse[0].command': expected a command line" in done.stderr


def hooks_of(toml: str, repo: Path) -> CommandHooks:
    user_config(toml)
    return CommandHooks(load_config(repo).hooks, open_sandbox(), repo, session_id="s")


def test_the_users_own_hook_scripts_are_readable_in_the_sandbox(tmp_path: Path) -> None:
    script = user_hooks_dir() / "no_touch.py"  # beside config.toml, outside the repo: hidden from other commands
    script.parent.mkdir(parents=True)
    script.write_text(textwrap.dedent(NO_TOUCH))
    settings = HookSettings((HookSpec("PreToolUse", f"python3 {script}"),))
    seen: list[events.Event] = []
    hooks = CommandHooks(settings, open_sandbox(), tmp_path, session_id="s")
    assert hooks.before_tool("run", {"command": "touch x"}, seen.append) == "touching files is not allowed here"
    hidden = CommandHooks(settings, open_sandbox(), tmp_path, session_id="s", scripts=())
    reason = hidden.before_tool("run", {"command": "touch x"}, seen.append)
    # Control: without the folder shown, the script is not there (python's "can't open file" exits 2 too).
    if open_sandbox().tier != "fallback":
        assert reason is not None and "can't open file" in reason


def test_claude_codes_json_answers_decide_as_they_do_there(tmp_path: Path) -> None:
    deny = json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                              "permissionDecisionReason": "not on Fridays"}})
    allow = json.dumps({"hookSpecificOutput": {"permissionDecision": "allow"}})
    seen: list[events.Event] = []
    denying = hooks_of(f"[[hooks.PreToolUse]]\ncommand = '''echo '{deny}' '''\n", tmp_path)
    assert denying.before_tool("run", {"command": "ls"}, seen.append) == "not on Fridays"
    allowing = hooks_of(f"[[hooks.PreToolUse]]\ncommand = '''echo '{allow}' '''\n", tmp_path)
    assert allowing.before_tool("run", {"command": "ls"}, seen.append) is None  # it grants nothing, blocks nothing
    talking = hooks_of("[[hooks.PostToolUse]]\ncommand = '''echo hello'''\n", tmp_path)
    assert talking.after_tool("run", {}, ToolResult(True, "ok"), seen.append) is None  # plain stdout means nothing
    assert [event.status for event in hook_events(seen)] == ["blocked", "ok", "ok"]


def test_no_hooks_configured_means_none_built(tmp_path: Path) -> None:
    assert not load_config(tmp_path).hooks and load_config(tmp_path).hooks == HookSettings()


@pytest.mark.anyio
async def test_the_tui_shows_a_hook_that_blocked_and_stays_quiet_for_one_that_passed(example_repo: Path) -> None:
    from tui_support import make_app, texts

    from ornith_local.tui.render import EventRenderer

    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        renderer = EventRenderer(app.transcript, app.panel, app.status)
        renderer.event(events.HookRan(hook_event="PreToolUse", command="python3 audit.py", tool="read_file"))
        renderer.event(events.HookRan(hook_event="PreToolUse", command="python3 no_touch.py", tool="run",
                                      status="blocked", exit_code=2, detail="touching files is not allowed here"))
        await pilot.pause()
        shown = texts(app.transcript)
    assert "hook PreToolUse blocked: touching files is not allowed here" in shown
    assert "audit.py" not in shown


def test_the_hook_event_reads_back_from_a_trajectory_line() -> None:
    event = events.HookRan(hook_event="PreToolUse", command="x", tool="run", status="blocked", exit_code=2,
                           detail="no", duration_s=0.1)
    assert events.from_json(json.loads(json.dumps(event.to_json()))) == event


def test_ornith_run_shows_a_blocking_hook_and_keeps_the_file(example_repo: Path) -> None:
    """The real CLI against a scripted OpenAI-compatible server: a PreToolUse hook refuses the edit."""
    from tests.test_cli_run import EDIT as CLI_EDIT
    from tests.test_cli_run import ScriptedServer, run_cli, scaffold_pieces

    user_config("""
        [[hooks.PreToolUse]]
        matcher = "Edit|Write|MultiEdit"
        command = "echo 'edits are frozen' >&2; exit 2"
    """)
    served = ScriptedServer(["".join(scaffold_pieces()), call("edit_file", **CLI_EDIT),
                             call("step_done", summary="changed > to >=")])
    done = run_cli(served, example_repo, "--json")
    assert "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    [hook] = [line for line in lines if line["event"] == "hook"]
    assert (hook["hook_event"], hook["tool"], hook["status"], hook["detail"]) == (
        "PreToolUse", "edit_file", "blocked", "edits are frozen")
    assert "quantity >= minimum" not in (example_repo / "invoicing" / "discounts.py").read_text()
    answered = [m["content"] for m in served.requests[-1]["messages"] if m["role"] == "tool"]
    assert "refused by hook: edits are frozen" in answered
    assert lines[-1]["event"] == "summary"
    # The trajectory kept it: the replay shows the hook's line as a live run does.
    shown = subprocess.run([str(ORNITH), "sessions", "show", lines[-1]["session_id"]], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "hook PreToolUse blocked: edits are frozen" in shown.stdout
