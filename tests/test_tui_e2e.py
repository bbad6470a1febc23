"""End to end: the real `ornith` TUI in tmux, the real tiny GGUF through llama.cpp, a copy of the example.

Nothing is scripted: the keys go in through tmux, the screen is read back with `tmux capture-pane`.
Gemma 3 270M is a base model: it streams text, and even its `<tool_call>` blocks name functions from
the repo map rather than tools, so it never proposes an edit and this test cannot approve one honestly
(approvals, y / n / always, are covered by the pilot tests with a scripted model and real tools, sandbox
and git). What it asserts is the whole UI flow the real model does drive: loading with model / quantisation / backend /
GPU layers / sandbox in the status bar, a multi-line task, the fixed scaffold in the panel, real
tokens streaming into the transcript, Ctrl+C interrupting generation inside llama.cpp, the
interrupted session resumed from the sessions screen, the run's end with the runtime's own checks,
/diff and /sessions, and a second Ctrl+C quitting with exit status 0.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.timeout(2400)]

ORNITH = Path(sys.executable).with_name("ornith")
WIDTH, HEIGHT = 150, 45
STATUS_AT_START = (r"gemma-3-270m Q4_K_M · llama\.cpp CPU · GPU 0/18 · ctx 0/4\.1k · – tok/s · TTFT – · "
                   r"sandbox (bwrap|landlock|fallback) · guard clean · mode ask · fixed scaffold")


class TmuxTui:
    """One tmux server (its own socket) running one command in a fixed-size window."""

    def __init__(self, name: str) -> None:
        self.socket = f"{name}-{os.getpid()}"
        self.socket_path = ""

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        return result.stdout

    def start(self, command: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-s", "e2e", "-x", str(WIDTH),
                        "-y", str(HEIGHT), command], check=True, timeout=30)
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "e2e", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "e2e", "-l", text)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float, why: str = "") -> str:
        check = (lambda screen: what in screen) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {why or what!r}; the screen was:\n{screen}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


def launch(repo: Path, data: Path, *flags: str, name: str = "ornith-e2e") -> TmuxTui:
    env = {"ORNITH_DATA_DIR": str(data / "data"), "ORNITH_CONFIG_DIR": str(data / "config"),
           "TERM": "xterm-256color"}
    if os.environ.get("ORNITH_CACHE_DIR"):
        env["ORNITH_CACHE_DIR"] = os.environ["ORNITH_CACHE_DIR"]
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    # COLUMNS / LINES (set under pytest) would override the pane's real size: drop them.
    command = (f"cd {shlex.quote(str(repo))} && env -u COLUMNS -u LINES {exports} {shlex.quote(str(ORNITH))} "
               f"{' '.join(flags)}; "
               f"echo ORNITH-EXITED-$?; sleep 3600")
    tui = TmuxTui(name)
    tui.start(command)
    return tui


def status_line(screen: str) -> str:
    """The status bar: the last line with the speed and time-to-first-token fields (turn lines have them too)."""
    return next((line for line in reversed(screen.splitlines()) if "tok/s" in line and "TTFT" in line), "")


@pytest.fixture
def tmux_available() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")


def test_the_real_tui_with_the_real_tiny_model(example_repo: Path, tiny_model_path: Path, tmp_path: Path,
                                                tmux_available: None) -> None:
    before = (example_repo / "invoicing" / "discounts.py").read_text()
    tui = launch(example_repo, tmp_path, "--mode", "ask", "--scaffold", "fixed", "--max-turns", "1",
                 "--n-ctx", "4096")
    try:
        tui.wait_for("model ready: gemma-3-270m Q4_K_M", 180, "the model to load")
        # The screen is redrawn piece by piece: wait for the whole status bar rather than read it once.
        tui.wait_for(lambda s: re.search(STATUS_AT_START, status_line(s)) is not None, 60, "the status bar")

        tui.type("Explain what bulk_discount_rate does")
        tui.keys("C-j")  # a new line inside the task, not a send
        tui.type("in @invoicing/disc")
        tui.wait_for("invoicing/discounts.py", 30, "the @path completion")
        tui.keys("Tab")
        tui.wait_for("in @invoicing/discounts.py", 30, "the completed path")
        tui.keys("Enter")

        screen = tui.wait_for("▶ step 1/3: understand", 120, "the first step")
        assert "you › Explain what bulk_discount_rate does" in screen
        assert "in @invoicing/discounts.py" in screen
        assert "scaffold (other, 3 steps): understand → change → verify" in screen
        assert "1. understand" in screen and "2. change" in screen and "3. verify" in screen  # the panel

        screen = tui.wait_for(lambda s: bool(re.search(r"generating · (\d{2,}) tokens", s)), 600,
                              "real tokens streaming from llama.cpp")
        tui.keys("C-c")  # interrupt inside the model's generation loop
        screen = tui.wait_for("interrupted. The run stopped cleanly", 120, "the interrupt")
        assert "Esc to interrupt" not in screen  # the activity line is gone: nothing is running

        tui.type("/sessions")
        tui.keys("Enter")
        screen = tui.wait_for("Enter: replay", 30, "the sessions screen")
        assert "interrupted" in screen and "Explain what bulk_discount_rate" in screen
        tui.keys("r")  # resume: the same session goes on with the real model
        tui.wait_for("resuming", 30, "the resume")
        screen = tui.wait_for(lambda s: "files changed: none" in s and "Esc to interrupt" not in s, 1500,
                              "the end of the resumed run")
        assert "outcome" in screen and "Checks" in screen
        assert re.search(r"\d+ passed, \d+ failed", screen)  # the runtime's own checks, in the sandbox
        tui.wait_for(lambda s: re.search(r"ctx [1-9][\d.]*k?/4\.1k", status_line(s)) is not None, 30,
                     "the context used by the real turn in the status bar")

        tui.type("/diff")
        tui.keys("Enter")
        tui.wait_for("no run has edited this repository yet", 30, "the /diff answer")

        tui.keys("C-c")
        tui.keys("C-c")
        tui.wait_for("ORNITH-EXITED-0", 60, "ornith to quit with status 0")
    finally:
        tui.close()
    assert (example_repo / "invoicing" / "discounts.py").read_text() == before
