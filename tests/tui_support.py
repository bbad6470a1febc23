"""Helpers for the TUI tests: an app on a real repo copy with a scripted model, and waiting for it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.syntax import Syntax
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static

from ornith_local.config import load_config
from ornith_local.llm.backend import Completion, GenerateOptions, Message, OnText
from ornith_local.llm.scripted import Reply, ScriptedBackend
from ornith_local.tui.app import OrnithApp
from ornith_local.tui.history import InputHistory
from ornith_local.tui.session import Mode, TuiOptions

WAIT_S = 60.0  # a generous ceiling so a broken test fails instead of hanging; never a timing assertion

# The runtime's plain-text turn between a step that only looks and one that edits.
REFLECTION = "invoicing/discounts.py: bulk_discount_rate should compare with >= instead of >."
EDIT = {"path": "invoicing/discounts.py", "old_string": "quantity > minimum", "new_string": "quantity >= minimum"}


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


def scaffold(*steps: tuple[str, list[str], int, str], max_total_turns: int = 12, kind: str = "fix_bug") -> str:
    return json.dumps({
        "task_kind": kind, "goal": "fix the bulk discount off-by-one", "acceptance_checks": [],
        "context": {"summarize_after_turns": 4}, "max_total_turns": max_total_turns,
        "steps": [{"name": n, "intent": f"{n} the code", "tools": t, "turn_budget": b, "exit_condition": "done",
                   "on_failure": f} for n, t, b, f in steps],
    })


TWO_STEPS = scaffold(("locate", ["read_file", "search"], 3, "replan"), ("fix", ["edit_file", "read_file"], 3, "retry"))


def fix_replies(*, thinking: bool = True) -> list[Reply]:
    """A scaffold, a read, step_done, the reflection, the edit, step_done, the judge's verdict."""
    think = "<think>The bulk tiers compare with >, so exactly 10 items miss the 5% rate.</think>" if thinking else ""
    return [
        TWO_STEPS,
        think + call("read_file", path="invoicing/discounts.py"),
        call("step_done", summary="the comparison in bulk_discount_rate is off by one"),
        REFLECTION,
        call("edit_file", **EDIT),
        call("step_done", summary="changed > to >="),
        '{"verdict": "approve", "reason": "a general fix"}',
    ]


class GatedBackend(ScriptedBackend):
    """A scripted model that streams word by word and can be held mid-reply (to interrupt it)."""

    def __init__(self, replies: list[Reply], hold_at_call: int | None = None) -> None:
        super().__init__(replies)
        self.hold_at_call = hold_at_call
        self.holding = threading.Event()
        self.release = threading.Event()

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        if on_text is not None and self.hold_at_call is not None and len(self.calls) == self.hold_at_call:
            user_on_text = on_text

            def held(piece: str) -> None:
                user_on_text(piece)
                self.holding.set()
                while not self.release.wait(0.02):
                    user_on_text("")  # the runtime's callback is where an interrupt lands

            on_text = held
        return super().chat(messages, options, on_text)


def make_app(repo: Path, replies: Sequence[Reply] | None = None, *, mode: Mode = "ask", backend: Any = None,
             factory: Callable[[str | None], Any] | None = None, history: list[str] | None = None,
             load_on_start: bool = True) -> OrnithApp:
    options = TuiOptions(repo=repo, config=load_config(repo), mode=mode)
    the_backend = backend if backend is not None else ScriptedBackend(list(replies or []))
    return OrnithApp(options, factory or (lambda name: the_backend),
                     history=InputHistory(None, list(history or [])), load_on_start=load_on_start)


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


async def send(pilot: Pilot[Any], text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


def texts(root: Widget) -> str:
    """The plain text of every Static under `root` (diffs and commands included), in screen order."""
    parts = []
    for static in root.query(Static):
        if not all(node.display for node in static.ancestors_with_self if isinstance(node, Widget)):
            continue
        content = static.content
        parts.append(content.code if isinstance(content, Syntax) else str(content))
    return "\n".join(parts)



async def notes_shown(pilot: Pilot[Any]) -> str:
    """The text of the notifications on screen (the toasts a user sees), after the screen caught up."""
    await pilot.pause()
    return "\n".join(str(toast.render()) for toast in pilot.app.screen.query("Toast"))
