"""/model: the models on this machine and in the catalog; Enter switches (pulling first if needed)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ornith_local.models.local import LocalModel, find_local_models


def size_text(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB" if size else "?"


class ModelsScreen(ModalScreen[str | None]):
    """Dismisses with the chosen model's name, or None."""

    CSS_PATH = "info.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"), Binding("enter", "choose", "Use this model", priority=True),
    ]

    def __init__(self, current: str | None, models: list[LocalModel] | None = None) -> None:
        super().__init__()
        self.current = current
        self.models = models if models is not None else find_local_models()

    def compose(self) -> Any:
        with Vertical(id="view"):
            yield Static(Content("Models"), classes="view-title")
            yield DataTable(id="models-table", cursor_type="row")
            yield Static(Content("Enter: use the model (a catalog model not on disk is pulled first) · Esc: close"),
                         classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "model", "size", "status")
        for model in self.models:
            mark = "●" if model.name == self.current or (model.path and model.path.name == self.current) else ""
            status = Text(model.status, style="green" if model.status.startswith("ready") else "dim")
            table.add_row(mark, model.name, size_text(model.size_bytes), status, key=model.name)
        table.focus()

    def action_choose(self) -> None:
        table = self.query_one(DataTable)
        if self.models and 0 <= table.cursor_row < len(self.models):
            self.dismiss(self.models[table.cursor_row].name)

    def action_close(self) -> None:
        self.dismiss(None)
