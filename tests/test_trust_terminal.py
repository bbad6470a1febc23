"""Escape sequences in tool output never reach the user's terminal (CLI printer, session replay, TUI)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from ornith_local.cli.commands import run as run_command
from ornith_local.sandbox.terminal import strip_controls_deep, strip_terminal_controls
from ornith_local.tools.base import call_tool
from ornith_local.tools.files import WriteFile
from ornith_local.tools.workspace import Workspace
from ornith_local.tui.bridge import EventItem, RunBridge, TextItem

# What a hostile file or command output carries: a clipboard write (OSC 52), a window title, a hidden link
# (OSC 8), clear-screen and cursor-up (CSI), a full reset (ESC c), an 8-bit CSI and a carriage return that
# would overwrite the line shown before it.
HOSTILE = ("ok \x1b]52;c;cm0gLXJmIH4K\x07 \x1b]0;pwned\x1b\\ \x1b]8;;http://evil.example\x1b\\docs\x1b]8;;\x1b\\ "
           "\x1b[2J\x1b[1A \x1bc \x9b31m \x90dcs\x9c fake\rreal")
ATTACK_MARKERS = ("\x1b]", "\x1bc", "\x9b", "\x90", "52;c;", "\r", "\x1b[2J", "\x1b[1A")


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=200, color_system="standard"), buffer


def test_the_helper_strips_every_sequence_and_keeps_text() -> None:
    cleaned = strip_terminal_controls(HOSTILE)
    assert not any(marker in cleaned for marker in ATTACK_MARKERS)
    assert cleaned.startswith("ok ") and "docs" in cleaned and cleaned.endswith("fakereal")
    assert strip_terminal_controls("tab\there\ncafé ☃ → 1\r\n") == "tab\there\ncafé ☃ → 1\n"
    assert strip_controls_deep({"a": [HOSTILE, ("\x1b[31mx",)], "n": 3}) == {"a": [cleaned, ("x",)], "n": 3}


@pytest.fixture
def hostile_write(tmp_path: Path) -> dict[str, object]:
    """The tool_result event of a real write_file whose content (hence diff) carries the sequences."""
    ws = Workspace.at(tmp_path)
    result = call_tool(WriteFile(ws), {"path": "notes.txt", "content": HOSTILE + "\n"})
    assert result.ok and result.diff is not None and "\x1b]52" in result.diff
    return {"tool": "write_file", "ok": True, "title": result.title + " \x1b]0;title\x07", "diff": result.diff}


def test_cli_printer_strips_tool_output(hostile_write: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    console, buffer = terminal()
    monkeypatch.setattr(run_command, "stdout", console)
    # Control: the same event rendered by Rich without the helper puts the sequences on the terminal.
    run_command.EventPrinter().on_tool_result(hostile_write)
    assert "\x1b]52;c;" in buffer.getvalue()
    buffer.truncate(0)
    buffer.seek(0)
    for printer in (run_command.EventPrinter(), run_command.EventPrinter(replay=True)):  # live and `sessions show`
        printer("tool_result", hostile_write)
        printer("model_turn", {"turn": 1, "text": HOSTILE, "stats": {}})
    shown = buffer.getvalue()
    assert "notes.txt" in shown and "real" in shown
    assert not any(marker in shown for marker in ("\x1b]", "\x1bc", "\x9b", "52;c;", "\x1b[2J", "\x1b[1A"))


def test_tui_bridge_hands_the_app_stripped_events_and_text(hostile_write: dict[str, object]) -> None:
    bridge = RunBridge()
    bridge.emit("tool_result", hostile_write)
    bridge.on_text(HOSTILE)
    items = bridge.drain()
    events = [item for item in items if isinstance(item, EventItem)]
    texts = [item.text for item in items if isinstance(item, TextItem)]
    assert events and texts
    shown = repr(events[0].data) + "".join(texts)
    assert "notes.txt" in shown and "real" in shown
    assert not any(marker in events[0].data["diff"] + "".join(texts) for marker in ATTACK_MARKERS)
    # Control: the event as the runtime emitted it still holds the clipboard write.
    assert "\x1b]52;c;" in str(hostile_write["diff"])
