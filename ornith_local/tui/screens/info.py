"""Small screens: a scrollable view (diff, help, scaffold JSON) and a yes/no confirmation."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import RenderableType
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Markdown, Static

from ornith_local.tui.completion import SLASH_COMMANDS


class ViewScreen(ModalScreen[None]):
    """A title and one scrollable renderable; Esc or q closes it."""

    CSS_PATH = "info.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, body: RenderableType | Content | Markdown, *, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.title_text = title
        self.body = body

    def compose(self) -> Any:
        with Vertical(id="view"):
            yield Static(Content(self.title_text), classes="view-title")
            with VerticalScroll(id="view-body"):
                yield self.body if isinstance(self.body, Markdown) else Static(self.body, id="view-content")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#view-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question with y / n; Esc is no."""

    CSS_PATH = "info.tcss"
    AUTO_FOCUS = None
    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No"),
                Binding("escape", "answer(False)", "No", show=False)]

    def __init__(self, question: str, detail: RenderableType | Content = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> Any:
        with Vertical(id="confirm"):
            yield Static(Content(self.question), classes="view-title")
            with VerticalScroll(id="confirm-body"):
                yield Static(self.detail)
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


KEYS = (
    ("Enter", "send the task or command"),
    ("Shift+Enter, Alt+Enter, Ctrl+J, \\ + Enter", "new line in the task"),
    ("Up / Down", "history (on the first / last line), or pick a suggestion"),
    ("Tab", "take the highlighted suggestion"),
    ("Ctrl+C or Esc", "interrupt the run; press again to quit"),
    ("Ctrl+P", "command palette"),
    ("Ctrl+B", "show or hide the scaffold panel"),
    ("Ctrl+O", "expand or fold every thinking block"),
    ("PageUp / PageDown", "scroll the transcript"),
    ("Ctrl+S", "sessions: replay or resume past runs"),
    ("Ctrl+T", "light or dark theme"),
    ("Ctrl+L", "clear the transcript"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
)


def cell(text: str) -> str:
    """Text for a Markdown table cell: a `|` (as in `/mode [read-only|ask|auto]`) would split the row."""
    return text.replace("|", "\\|")


def help_markdown() -> str:
    commands = "\n".join(f"| `{cell(command.usage)}` | {cell(command.help)} |" for command in SLASH_COMMANDS)
    keys = "\n".join(f"| {key} | {what} |" for key, what in KEYS)
    return (
        "# ornith\n\nType a task in plain words; ornith plans a scaffold, works inside it, and the runtime "
        "checks the result. Mention files with `@path`.\n\n"
        "In **ask** mode every edit and command waits for you: **y** yes, **n** no, **a** always for this run.\n\n"
        f"## Commands\n\n| command | what it does |\n|---|---|\n{commands}\n\n"
        f"## Keys\n\n| key | what it does |\n|---|---|\n{keys}\n"
    )
