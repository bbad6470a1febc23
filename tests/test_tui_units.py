"""The TUI's plain parts, without a terminal: completion, history, the bridge, previews, model info, CLI entry."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ornith_local.agent.events import ModelTurn, RunEnded
from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.sandbox import open_sandbox
from ornith_local.tools import default_tools
from ornith_local.tools.base import CallPreview
from ornith_local.tools.edit import EditFile
from ornith_local.tools.files import WriteFile
from ornith_local.tools.run import RunCommand
from ornith_local.tools.workspace import Workspace
from ornith_local.tui.bridge import AskItem, DoneItem, EventItem, RunBridge, RunInterrupted, TextItem
from ornith_local.tui.changes import last_checkpoint
from ornith_local.tui.completion import current_token, match_paths, parse_slash, suggest
from ornith_local.tui.history import InputHistory
from ornith_local.tui.interrupt import kill_sandboxed_commands, sandboxed_children
from ornith_local.tui.modelinfo import describe, quantisation_of
from ornith_local.tui.session import GuardedBackend

FILES = ["README.md", "invoicing/__init__.py", "invoicing/discounts.py", "invoicing/invoice.py",
         "tests/test_discounts.py"]


# --- completion ------------------------------------------------------------------------------------


def test_slash_commands_complete_only_at_the_start() -> None:
    assert [s.value for s in suggest("/he", FILES)] == ["/help "]
    assert [s.value for s in suggest("/mode", FILES)][:2] == ["/mode ", "/model "]
    assert suggest("fix /he", FILES) == []
    assert suggest("line one\n/he", FILES) == []


def test_at_paths_rank_prefix_then_name_then_substring() -> None:
    assert match_paths("inv", FILES)[:3] == ["invoicing/__init__.py", "invoicing/discounts.py", "invoicing/invoice.py"]
    assert match_paths("disc", FILES) == ["invoicing/discounts.py", "tests/test_discounts.py"]
    assert match_paths("idc", FILES) == ["invoicing/discounts.py"]  # a subsequence still matches
    assert match_paths("zzz", FILES) == []
    [suggestion] = suggest("look at @invoice.", FILES)
    assert suggestion.replace_from == len("look at ") and suggestion.value == "@invoicing/invoice.py "


def test_tokens_and_slash_parsing() -> None:
    assert current_token("fix @inv") == (4, "@inv")
    assert current_token("") == (0, "")
    assert parse_slash("/mode auto") == ("mode", "auto")
    assert parse_slash("  /HELP ") == ("help", "")
    assert parse_slash("fix the /etc path") is None
    assert parse_slash("//not a command") is None


# --- history ---------------------------------------------------------------------------------------


def test_history_persists_skips_repeats_and_keeps_the_draft(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = InputHistory(path)
    for entry in ["one", "two", "two", "  ", "multi\nline"]:
        history.add(entry)
    again = InputHistory(path)
    assert again.entries == ["one", "two", "multi\nline"]
    assert again.previous("draft") == "multi\nline"
    assert again.previous("") == "two"
    assert again.next() == "multi\nline"
    assert again.next() == "draft"
    assert not again.browsing
    path.write_text('"ok"\nnot json\n')
    assert InputHistory(path).entries == ["ok"]


# --- the bridge ------------------------------------------------------------------------------------


def test_bridge_merges_text_and_keeps_order() -> None:
    bridge = RunBridge()
    bridge.on_text("a")
    bridge.on_text("b")
    bridge.emit(ModelTurn(turn=1))
    bridge.on_text("c")
    assert bridge.drain() == [TextItem("ab"), EventItem(ModelTurn(turn=1)), TextItem("c")]
    assert bridge.drain() == []


def test_ask_blocks_the_runtime_thread_until_answered() -> None:
    bridge = RunBridge()
    answers: list[str] = []
    preview = CallPreview("diff", "+x\n", "edit x")
    thread = threading.Thread(target=lambda: answers.append(bridge.ask("edit_file", preview, "bwrap")))
    thread.start()
    deadline = time.monotonic() + 10
    items: list[object] = []
    while not items and time.monotonic() < deadline:
        items = list(bridge.drain())
    [item] = items
    assert isinstance(item, AskItem) and item.request.sandbox_tier == "bwrap"
    assert thread.is_alive() and answers == []
    item.request.answer("always")
    thread.join(10)
    assert answers == ["always"]


def test_interrupt_raises_in_the_runtime_and_declines_a_pending_question() -> None:
    bridge = RunBridge()
    outcome: list[BaseException] = []

    def runtime() -> None:
        try:
            bridge.ask("run", CallPreview("command", "make", "run `make`"), "bwrap")
        except RunInterrupted as stop:
            outcome.append(stop)

    thread = threading.Thread(target=runtime)
    thread.start()
    while not bridge.drain():
        time.sleep(0.01)
    bridge.interrupt()
    thread.join(10)
    assert outcome and isinstance(outcome[0], RunInterrupted)
    with pytest.raises(RunInterrupted):
        bridge.on_text("more")
    bridge.emit(RunEnded(outcome="failed"))  # a finished run is still recorded as finished
    bridge.finish(interrupted=True)
    assert isinstance(bridge.drain()[-1], DoneItem)


def test_guarded_backend_lets_an_interrupt_stop_any_generation_at_its_next_token() -> None:
    bridge = RunBridge()
    backend = GuardedBackend(ScriptedBackend(["one two three", "four five six"]), bridge)
    completion = backend.chat([Message("user", "hi")], GenerateOptions())
    assert completion.text == "one two three"
    assert bridge.drain() == []  # the scaffold's JSON never reaches the transcript
    seen: list[str] = []

    def progress(piece: str) -> None:  # the plan's progress counter: Esc pressed after its first token
        seen.append(piece)
        bridge.interrupt()

    with pytest.raises(RunInterrupted):
        backend.chat([Message("user", "hi")], GenerateOptions(), progress)
    assert seen == ["four"]


# --- previews, checkpoints, model info --------------------------------------------------------------


def test_each_tool_previews_its_own_call_and_a_preview_is_never_empty(example_repo: Path) -> None:
    workspace = Workspace.at(example_repo)
    edit = EditFile(workspace).preview({"path": "invoicing/discounts.py", "old_string": "quantity > minimum",
                                        "new_string": "quantity >= minimum"})
    assert edit.kind == "diff" and edit.title == "edit invoicing/discounts.py"
    assert "-        if quantity > minimum:" in edit.text and "+        if quantity >= minimum:" in edit.text
    missing = EditFile(workspace).preview({"path": "invoicing/discounts.py", "old_string": "nowhere",
                                           "new_string": "x"})
    assert missing.kind == "diff" and "not found" in missing.text and "+x" in missing.text
    created = WriteFile(workspace).preview({"path": "NEW.md", "content": "hello\n"})
    assert created.kind == "diff" and "+hello" in created.text
    command = RunCommand(workspace, open_sandbox()).preview({"command": "make test"})
    assert command.kind == "command" and command.text == "make test" and "sandbox" in command.title
    outside = WriteFile(workspace).preview({"path": "../outside.txt", "content": "x"})
    assert outside.kind == "text" and "outside the workspace" in outside.text
    for tool in default_tools(workspace):
        preview = tool.preview({"path": "invoicing/discounts.py"})
        assert preview.text.strip() and preview.title.strip(), tool.name
    assert not (example_repo / "NEW.md").exists()  # a preview never writes


def test_no_checkpoint_before_any_run(example_repo: Path) -> None:
    assert last_checkpoint(example_repo) is None


def test_quantisation_and_backend_description() -> None:
    assert quantisation_of("gemma-3-270m-q4_k_m.gguf") == "Q4_K_M"
    assert quantisation_of("Qwen3-9B-IQ4_XS.gguf") == "IQ4_XS"
    assert quantisation_of("model-f16.gguf") == "F16"
    assert quantisation_of("model.gguf", {"general.file_type": 7}) == "Q8_0"
    assert quantisation_of("model.gguf") == ""
    info = describe(ScriptedBackend([], context=4096))
    assert (info.name, info.backend, info.n_ctx, info.gpu_layers) == ("scripted", "scripted", 4096, "")


def test_describe_the_real_tiny_model(tiny_model_path: Path) -> None:
    from ornith_local.llm.llama_cpp_backend import LlamaCppBackend

    info = describe(LlamaCppBackend(tiny_model_path, n_ctx=512))
    assert (info.name, info.quantisation, info.backend) == ("gemma-3-270m", "Q4_K_M", "llama.cpp CPU")
    assert info.gpu_layers.startswith("0/") and info.n_ctx == 512


# --- interrupting sandboxed commands --------------------------------------------------------------


def test_only_this_process_s_own_session_leaders_are_killed() -> None:
    leader = subprocess.Popen(["sleep", "30"], start_new_session=True)
    plain = subprocess.Popen(["sleep", "30"])
    try:
        assert leader.pid in sandboxed_children()
        assert plain.pid not in sandboxed_children()
        assert kill_sandboxed_commands() >= 1
        assert leader.wait(10) != 0
        assert plain.poll() is None
    finally:
        for process in (leader, plain):
            process.kill()
            process.wait()


# --- the entry point -------------------------------------------------------------------------------


def test_ornith_without_a_terminal_points_at_ornith_run(tmp_path: Path) -> None:
    ornith = Path(sys.executable).with_name("ornith")
    result = subprocess.run([str(ornith)], capture_output=True, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
                            timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.endswith("the TUI needs a terminal; use 'ornith run' for headless use")


def test_every_stylesheet_ships_inside_the_package() -> None:
    """The app and its screens load .tcss files from next to their modules (packaged with `ornith_local`)."""
    import ornith_local
    from ornith_local.tui.app import OrnithApp
    from ornith_local.tui.screens import approval, info, models, sessions

    package = Path(ornith_local.__file__).parent
    paths = [Path(path) for path in OrnithApp.CSS_PATH]
    for module, screen in [(approval, approval.ApprovalScreen), (info, info.ViewScreen),
                           (models, models.ModelsScreen), (sessions, sessions.SessionsScreen)]:
        paths.append(Path(module.__file__).with_name(str(screen.CSS_PATH)))
    for path in paths:
        assert path.is_file() and package in path.parents, path
    assert sorted(p.name for p in (package / "tui").rglob("*.tcss")) == sorted({p.name for p in paths})
