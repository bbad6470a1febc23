"""Ask mode's question: may the agent make this edit / run this command? y / n / always-for-this-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ornith_local.tui.bridge import Answer, ApprovalRequest
from ornith_local.tui.widgets.diffview import command_content, diff_content
from ornith_local.tui.widgets.transcript import markup


class ApprovalScreen(ModalScreen[Answer]):
    """Shows the diff or the command and the sandbox tier; answers the runtime's waiting thread."""

    CSS_PATH = "approval.tcss"
    AUTO_FOCUS = None  # Enter must not approve by accident: answer with y / n / a or a click
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('yes')", "Yes"),
        Binding("n", "answer('no')", "No"),
        Binding("a", "answer('always')", "Always this run"),
        Binding("escape", "answer('no')", "No", show=False),
    ]

    def __init__(self, request: ApprovalRequest, repo: Path) -> None:
        super().__init__()
        self.request = request
        self.kind, self.text = request.preview.kind, request.preview.text

    def compose(self) -> Any:
        request = self.request
        with Vertical(id="approval"):
            what, _, target = request.preview.title.partition(" ")
            yield Static(markup("[b]Allow $what[/] $target?", what=what, target=target), id="approval-title")
            yield Static(markup("[$text-muted]tool $tool · sandbox[/] [b]$tier[/]", tool=request.tool,
                                tier=request.sandbox_tier), id="approval-tier")
            with VerticalScroll(id="approval-body"):
                yield Static(self._body(), id="approval-preview")
            with Horizontal(id="approval-buttons"):
                yield Button("Yes (y)", id="yes", variant="success")
                yield Button("No (n)", id="no", variant="error")
                yield Button("Always this run (a)", id="always", variant="primary")

    def _body(self) -> Content:
        if self.kind == "diff":
            return diff_content(self.text)
        if self.kind == "command":
            return command_content(self.text)
        return Content(self.text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(str(event.button.id))

    def action_answer(self, answer: str) -> None:
        value: Answer = "yes" if answer == "yes" else "always" if answer == "always" else "no"
        self.request.answer(value)
        self.dismiss(value)
