"""The hand-off between the runtime's thread and the UI.

The runtime calls `emit`, `on_text` and `ask` from its worker thread. They only append to a queue;
the UI drains it on its own schedule (a few dozen times a second), so a model streaming hundreds of
tokens a second never floods the event loop and a key press is handled at once. `ask` blocks the
worker thread until the person answers. `interrupt()` makes the next callback raise `RunInterrupted`,
which unwinds the runtime cleanly: its trajectory then has no end event, so the run can be resumed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from ornith_local.agent.events import Event, ModelTurn, RunEnded
from ornith_local.sandbox.terminal import strip_controls_deep, strip_terminal_controls
from ornith_local.tools.base import CallPreview

Answer = Literal["yes", "no", "always"]
_WAIT_SLICE_S = 0.1


class RunInterrupted(BaseException):
    """Raised inside the runtime's thread when the person interrupts the run.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way up swallows it.
    """


@dataclass
class ApprovalRequest:
    """One call waiting for y / n / always; `answer()` is called from the UI thread."""

    tool: str
    preview: CallPreview  # the tool's own rendering of the call: the diff, or the command
    sandbox_tier: str
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _answer: Answer = "no"

    def answer(self, value: Answer) -> None:
        self._answer = value
        self._done.set()

    @property
    def answered(self) -> bool:
        return self._done.is_set()


@dataclass(frozen=True)
class TextItem:
    text: str


@dataclass(frozen=True)
class EventItem:
    event: Event


@dataclass(frozen=True)
class AskItem:
    request: ApprovalRequest


@dataclass(frozen=True)
class DoneItem:
    """The run's thread is done: how it ended (outcome), or why it stopped early."""

    outcome: str | None = None
    error: str | None = None
    interrupted: bool = False
    session_id: str | None = None


Item = TextItem | EventItem | AskItem | DoneItem


class RunBridge:
    """One run's queue of streamed text, runtime events and approval requests."""

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._lock = threading.Lock()
        self._interrupted = threading.Event()
        self._pending: ApprovalRequest | None = None
        self.turn_pieces = 0  # pieces (about one token each) streamed in the current turn, and since when
        self.turn_started = 0.0
        self.session_id: str | None = None

    # --- the runtime's side (worker thread) ------------------------------------------------------

    def emit(self, event: Event) -> None:
        if isinstance(event, ModelTurn):
            self.turn_pieces = 0
        self._put(EventItem(strip_controls_deep(event)))  # no escape sequence reaches the terminal
        if not isinstance(event, RunEnded):  # a finished run is recorded as finished, interrupted or not
            self.check()

    def on_text(self, piece: str) -> None:
        self.check()
        if piece:
            if not self.turn_pieces:
                self.turn_started = time.monotonic()
            self.turn_pieces += 1
            self._put(TextItem(strip_terminal_controls(piece)))

    def finish(self, *, outcome: str | None = None, error: str | None = None, interrupted: bool = False) -> None:
        self._put(DoneItem(outcome, error, interrupted, self.session_id))

    def ask(self, tool: str, preview: CallPreview, sandbox_tier: str) -> str:
        self.check()
        request = ApprovalRequest(tool, preview, sandbox_tier)
        self._pending = request
        self._put(AskItem(request))
        try:
            while not request._done.wait(_WAIT_SLICE_S):
                self.check()
        finally:
            self._pending = None
        self.check()
        return request._answer

    def check(self) -> None:
        """Raise RunInterrupted in the runtime's thread once the person asked to stop."""
        if self._interrupted.is_set():
            raise RunInterrupted

    # --- the UI's side ---------------------------------------------------------------------------

    def drain(self, limit: int = 10_000) -> list[Item]:
        """Everything queued so far (up to `limit` items), oldest first, adjacent text merged."""
        with self._lock:
            count = min(limit, len(self._items))
            items = [self._items.popleft() for _ in range(count)]
        merged: list[Item] = []
        for item in items:
            if isinstance(item, TextItem) and merged and isinstance(merged[-1], TextItem):
                merged[-1] = TextItem(merged[-1].text + item.text)
            else:
                merged.append(item)
        return merged

    def interrupt(self) -> None:
        self._interrupted.set()
        pending = self._pending
        if pending is not None and not pending.answered:
            pending.answer("no")

    @property
    def interrupted(self) -> bool:
        return self._interrupted.is_set()

    def _put(self, item: Item) -> None:
        with self._lock:
            self._items.append(item)
