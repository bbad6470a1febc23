"""Escape sequences in tool output never reach the user's terminal (CLI printer, session replay, TUI)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from ornith_local.agent.events import ModelTurn, ToolFinished
from ornith_local.cli.commands import run as run_command
from ornith_local.sandbox.terminal import strip_controls_deep, strip_terminal_controls
from ornith_local.tools.base import call_tool
from ornith_local.tools.files import WriteFile
from ornith_local.tools.workspace import Workspace
from ornith_local.tui import bridge as bridge_module
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
    assert strip_controls_deep(ModelTurn(turn=2, text=HOSTILE, problems=[HOSTILE])) == ModelTurn(
        turn=2, text=cleaned, problems=[cleaned])


def identity(value: object) -> object:
    return value


@pytest.fixture
def hostile_write(tmp_path: Path) -> ToolFinished:
    """The tool-result event of a real write_file whose content (hence diff) carries the sequences."""
    ws = Workspace.at(tmp_path)
    result = call_tool(WriteFile(ws), {"path": "notes.txt", "content": HOSTILE + "\n"})
    assert result.ok and result.diff is not None and "\x1b]52" in result.diff
    return ToolFinished(tool="write_file", ok=True, title=result.title + " \x1b]0;title\x07", diff=result.diff)


def print_events(printer: run_command.EventPrinter, write: ToolFinished) -> None:
    printer(write)
    printer(ModelTurn(turn=1, text=HOSTILE))


def test_cli_printer_strips_tool_output(hostile_write: ToolFinished, monkeypatch: pytest.MonkeyPatch) -> None:
    console, buffer = terminal()
    monkeypatch.setattr(run_command, "stdout", console)
    with monkeypatch.context() as unguarded:  # control: without the helper the sequences reach the terminal
        unguarded.setattr(run_command, "strip_controls_deep", identity)
        print_events(run_command.EventPrinter(), hostile_write)
    assert "\x1b]52;c;" in buffer.getvalue()
    buffer.truncate(0)
    buffer.seek(0)
    for printer in (run_command.EventPrinter(), run_command.EventPrinter(replay=True)):  # live and `sessions show`
        print_events(printer, hostile_write)
    shown = buffer.getvalue()
    assert "notes.txt" in shown and "real" in shown
    assert not any(marker in shown for marker in ("\x1b]", "\x1bc", "\x9b", "52;c;", "\x1b[2J", "\x1b[1A"))


def bridged(write: ToolFinished) -> tuple[ToolFinished, str]:
    bridge = RunBridge()
    bridge.emit(write)
    bridge.on_text(HOSTILE)
    items = bridge.drain()
    events = [item.event for item in items if isinstance(item, EventItem)]
    assert len(events) == 1 and isinstance(events[0], ToolFinished)
    return events[0], "".join(item.text for item in items if isinstance(item, TextItem))


def test_tui_bridge_hands_the_app_stripped_events_and_text(hostile_write: ToolFinished,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as unguarded:  # control: without the helper the clipboard write gets through
        unguarded.setattr(bridge_module, "strip_controls_deep", identity)
        event, _ = bridged(hostile_write)
    assert "\x1b]52;c;" in str(event.diff)
    event, text = bridged(hostile_write)
    assert "notes.txt" in str(event.diff) and "real" in text
    assert not any(marker in str(event.diff) + event.title + text for marker in ATTACK_MARKERS)
