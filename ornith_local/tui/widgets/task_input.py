"""The task input: multi-line, with history, `/command` and `@path` completion.

Enter sends; Shift+Enter, Alt+Enter, Ctrl+J or a trailing backslash start a new line. Up and Down
on the first / last line walk the history. While suggestions show, Up/Down pick, Tab or Enter
takes one, Esc hides them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from ornith_local.tui.completion import Suggestion, suggest
from ornith_local.tui.history import InputHistory

NEWLINE_KEYS = frozenset({"shift+enter", "alt+enter", "ctrl+j"})


class CompletionList(OptionList):
    """The suggestions for the token at the cursor; never takes focus from the input."""

    can_focus = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suggestions: list[Suggestion] = []

    def show(self, suggestions: Sequence[Suggestion]) -> None:
        self.suggestions = list(suggestions)
        self.clear_options()
        self.add_options([
            Option(Content.assemble(s.label, ("  " + s.detail, "dim")) if s.detail else Content(s.label))
            for s in suggestions
        ])
        self.display = bool(suggestions)
        if suggestions:
            self.highlighted = 0

    def hide(self) -> None:
        self.suggestions = []
        self.display = False

    @property
    def chosen(self) -> Suggestion | None:
        index = self.highlighted
        suggestions = self.suggestions
        return suggestions[index] if self.display and index is not None and index < len(suggestions) else None


class TaskInput(TextArea):
    """The multi-line box you type tasks and /commands into."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # The input is a few lines high: PageUp / PageDown scroll the transcript instead.
        Binding("pageup", "app.scroll_transcript(-1)", "Scroll up", show=False),
        Binding("pagedown", "app.scroll_transcript(1)", "Scroll down", show=False),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, history: InputHistory, files: Callable[[], Sequence[str]], **kwargs: Any) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.input_history = history
        self.files = files
        self.completion: CompletionList | None = None

    def on_mount(self) -> None:
        self.placeholder = "Ask ornith to do something… (Enter to send, / for commands, @ for files)"
        if self.app.is_headless:
            self.cursor_blink = False

    # --- keys ------------------------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        handled = self._completion_key(key) or self._line_key(key)
        if handled:
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _completion_key(self, key: str) -> bool:
        completion = self.completion
        if completion is None or not completion.display:
            return False
        if key == "up":
            completion.action_cursor_up()
            return True
        if key == "down":
            completion.action_cursor_down()
            return True
        if key in ("tab", "enter"):
            # Keys typed fast run ahead of the Changed messages that refresh the list: decide on what the text
            # offers now, never on a stale list (a fast `/mode auto` + Enter once became `/model `).
            chosen, fresh = completion.chosen, self.current_suggestions()
            typed = [s for s in fresh if self._already_typed(s)]
            completion.hide()
            if chosen is None or chosen not in fresh:
                if key == "tab" and fresh:
                    completion.show(fresh)
                    return True
                return False
            if key == "enter" and typed:
                return False  # Enter on a complete command (or path) sends it
            self.accept(chosen)
            return True
        if key == "escape":
            completion.hide()
            return True
        return False

    def _line_key(self, key: str) -> bool:
        if key in NEWLINE_KEYS:
            self.insert("\n")
            return True
        if key == "enter":
            row, column = self.cursor_location
            line = self.document.get_line(row)
            if column > 0 and line[:column].endswith("\\"):
                self.replace("\n", (row, column - 1), (row, column))
            else:
                self.submit()
            return True
        if key == "up" and self.cursor_location[0] == 0:
            return self._recall(self.input_history.previous(self.text))
        if key == "down" and self.cursor_location[0] == self.document.line_count - 1 and self.input_history.browsing:
            return self._recall(self.input_history.next())
        return False

    def _recall(self, text: str | None) -> bool:
        if text is None:
            return False
        self.load_text(text)
        self.move_cursor(self.document.end)
        return True

    # --- actions ---------------------------------------------------------------------------------

    def submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        self.input_history.add(text)
        self.load_text("")
        if self.completion is not None:
            self.completion.hide()
        self.post_message(self.Submitted(text))

    def accept(self, chosen: Suggestion) -> None:
        row, column = self.cursor_location
        before = self._before_cursor()
        start = chosen.replace_from
        # Map the index in `before` (the text up to the cursor) back to a document location.
        start_row = before.count("\n", 0, start)
        start_column = start - (before.rfind("\n", 0, start) + 1)
        self.replace(chosen.value, (start_row, start_column), (row, column))

    def _already_typed(self, chosen: Suggestion) -> bool:
        return self._before_cursor()[chosen.replace_from:].strip() == chosen.value.strip()

    def _before_cursor(self) -> str:
        row, column = self.cursor_location
        lines = self.text.split("\n")
        return "\n".join([*lines[:row], lines[row][:column] if row < len(lines) else ""])

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.refresh_suggestions()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        if self.completion is not None and self.completion.display:
            self.refresh_suggestions()

    def current_suggestions(self) -> list[Suggestion]:
        """What completes the token at the cursor, as the text is now (nothing after a space)."""
        before = self._before_cursor()
        return suggest(before, self.files()) if before and not before[-1].isspace() else []

    def refresh_suggestions(self) -> None:
        if self.completion is not None:
            self.completion.show(self.current_suggestions())


class Composer(Vertical):
    """The input and its suggestion list, docked at the bottom."""

    def __init__(self, history: InputHistory, files: Callable[[], Sequence[str]]) -> None:
        super().__init__(id="composer")
        self.completion = CompletionList(id="completion")
        self.input = TaskInput(history, files, id="task-input")
        self.input.completion = self.completion

    def compose(self) -> Any:
        yield self.completion
        yield self.input

    def on_mount(self) -> None:
        self.completion.display = False
