"""The transcript: what you asked, what the model wrote (thinking folded away), what the tools did.

Each entry is a small widget; `Transcript` only stacks them and follows the newest one while you
are at the bottom (scroll up and it stays where you are).
"""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from ornith_local.agent.deps import timing_parts
from ornith_local.agent.events import ModelTurn as ModelTurnEvent
from ornith_local.agent.events import ToolFinished
from ornith_local.llm.parsing import (
    ContentDelta,
    ReasoningDelta,
    StreamParser,
    ToolCallDone,
    ToolCallStarted,
    ToolSpecError,
    parse_output,
)
from ornith_local.tui.widgets.diffview import diff_content

OUTPUT_PREVIEW_LINES = 3
OUTPUT_MAX_LINES = 200
ARGUMENT_KEYS = ("command", "path", "pattern", "query", "test", "summary", "reason")


def markup(template: str, **values: object) -> Content:
    """Content from markup whose $names are filled with plain text (never parsed as markup)."""
    return Content.from_markup(template, **{name: str(value) for name, value in values.items()})


def clip_lines(text: str, limit: int) -> tuple[str, int]:
    """The first `limit` lines of `text` and how many lines were left out."""
    lines = text.splitlines()
    return "\n".join(lines[:limit]), max(0, len(lines) - limit)


def describe_arguments(tool: str, arguments: dict[str, Any]) -> str:
    """The one argument a person wants to see first (the command, the path...), else a short JSON."""
    for key in ARGUMENT_KEYS:
        if isinstance(arguments.get(key), str | int) and arguments[key] != "":
            return str(arguments[key]).splitlines()[0][:120]
    shown = ", ".join(f"{key}={value!r}" for key, value in list(arguments.items())[:3])
    return shown[:120]


class UserEntry(Static):
    """The task as typed."""

    def __init__(self, task: str, label: str = "you") -> None:
        super().__init__(markup("[b $accent]$label ›[/] $task", label=label, task=task))


class Notice(Static):
    """One line from the runtime: a step starting, a replan, clamp notes, errors. kind sets the colour."""

    def __init__(self, text: str | Content, kind: str = "info") -> None:
        super().__init__(text if isinstance(text, Content) else Content(text), classes=kind)


class ModelTurn(Vertical):
    """One model turn, streamed: reasoning in a folded 'Thinking' block, the answer below it.

    While streaming, a StreamParser splits the text as it arrives; when the runtime reports the turn,
    the full text is parsed once more and that result is what stays on screen.
    """

    def __init__(self, tools: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.tools = tools  # the run's tool definitions: calls are typed, unknown names marked, as the runtime does
        try:
            self._parser = StreamParser(format="auto", tools=tools)
        except ToolSpecError:
            self.tools, self._parser = None, StreamParser(format="auto")
        self._reasoning = ""
        self._content = ""
        self._calls: list[str] = []  # the calls written so far, "✗ name" for ones that cannot run
        self._writing_call = False
        self.thinking_text = Static("", classes="thinking-text")
        self.thinking = Collapsible(self.thinking_text, title="Thinking…", collapsed=True, classes="thinking")
        self.answer = Static("", classes="answer")
        self.calls = Static("", classes="turn-calls")
        self.footer = Static("", classes="turn-stats")
        self.finished = False
        for part in (self.thinking, self.answer, self.calls, self.footer):
            part.display = False

    def compose(self) -> Any:
        yield self.thinking
        yield self.answer
        yield self.calls
        yield self.footer

    def feed(self, text: str) -> None:
        if self.finished:
            return
        for event in self._parser.feed(text):
            if isinstance(event, ReasoningDelta):
                self._reasoning += event.text
            elif isinstance(event, ContentDelta):
                self._content += event.text
            elif isinstance(event, ToolCallStarted):
                self._writing_call = True
            elif isinstance(event, ToolCallDone):
                self._writing_call = False
                self._calls.append(event.call.name if event.call.valid else f"✗ {event.call.name}")
        self._show(streaming=True)

    def finish(self, turn: ModelTurnEvent) -> None:
        """The loop's model-turn event: final text, token counts and timings."""
        parsed = parse_output(turn.text, format="auto", tools=self.tools)
        self._reasoning = parsed.reasoning or ""
        self._content = parsed.content
        self._calls = [call.name if call.valid else f"✗ {call.name}" for call in parsed.tool_calls]
        self._writing_call = False
        self.finished = True
        self._show(streaming=False)
        stats = turn.stats
        parts = [f"turn {turn.turn}", f"{stats.get('generated_tokens', 0)} tokens"]
        parts += timing_parts(stats)
        if turn.finish_reason == "length":
            parts.append("cut at the token limit")
        for problem in turn.problems:
            parts.append(f"parse: {problem}")
        self.footer.update(Content(" · ".join(parts)))
        self.footer.display = True

    def _show(self, streaming: bool) -> None:
        if self._reasoning.strip():
            self.thinking.display = True
            self.thinking_text.update(Content(self._reasoning.strip()))
            state = "Thinking…" if streaming else "Thought"
            self.thinking.title = f"{state} ({len(self._reasoning.split())} words)"
        text = self._content.strip()
        self.answer.display = bool(text)
        self.answer.update(Content(text))
        calls = ", ".join(self._calls) + (" …" if self._writing_call else "")
        self.calls.display = bool(calls.strip())
        self.calls.update(Content(f"→ {calls.strip()}"))


class ToolCard(Vertical):
    """A tool call as a compact card: what was called, then the result (diff, or output folded)."""

    def __init__(self, tool: str, arguments: dict[str, Any], findings: list[dict[str, Any]]) -> None:
        super().__init__(classes="tool-card")
        self.tool = tool
        self.arguments = arguments
        self.header = Static(markup("[b]$tool[/] $args", tool=tool, args=describe_arguments(tool, arguments)),
                             classes="card-head")
        self.status = Static("", classes="card-status")
        self.body = Vertical(classes="card-body")
        self._unmounted: list[Widget] = []  # body parts that arrived before the card was on screen
        if findings:
            details = "; ".join(str(finding.get("detail", "")) for finding in findings)
            self.set_status(markup("[$error]✗ refused:[/] $details", details=details), "refused")
        else:
            self.set_status(Content("running…"), "running")

    def compose(self) -> Any:
        yield self.header
        yield self.status
        yield self.body

    def on_mount(self) -> None:
        if self._unmounted:
            self.body.mount_all(self._unmounted)
            self._unmounted = []

    def add_part(self, widget: Widget) -> None:
        if self.body.is_attached:
            self.body.mount(widget)
        else:
            self._unmounted.append(widget)

    def set_status(self, content: Content, state: str) -> None:
        self.status.update(content)
        self.remove_class("running", "ok", "failed", "refused")
        self.add_class(state)

    def approval(self, answer: str) -> None:
        if answer == "no":
            self.set_status(markup("[$warning]✗ declined by you[/]"), "refused")
        elif answer == "always":
            self.add_part(Static(markup("[$text-muted]approved for the rest of this run[/]"), classes="card-note"))

    def result(self, finished: ToolFinished) -> None:
        ok = finished.ok
        title = finished.title or ("ok" if ok else "error")
        mark = "[$success]✓[/]" if ok else "[$error]✗[/]"
        self.set_status(markup(f"{mark} $title", title=title), "ok" if ok else "failed")
        diff, text = finished.diff, finished.text
        if diff:
            self.add_part(Static(diff_content(str(diff)), classes="diff"))
            return
        if not text.strip() or text.strip() == title:
            return
        preview, hidden = clip_lines(text, OUTPUT_PREVIEW_LINES)
        self.add_part(Static(Content(preview), classes="output-preview"))
        if hidden:
            full, beyond = clip_lines(text, OUTPUT_MAX_LINES)
            note = f"\n… {beyond} more lines not shown" if beyond else ""
            self.add_part(Collapsible(Static(Content(full + note), classes="output-full"),
                                        title=f"full output ({hidden + OUTPUT_PREVIEW_LINES} lines)",
                                        collapsed=True, classes="output"))


class Transcript(VerticalScroll):
    """The scrolling list of entries; follows new output while you are at the bottom.

    It anchors to the bottom only once the entries overflow it (an anchored but short list would sit at
    the bottom of the screen, chat style); scrolling up releases the anchor, scrolling down restores it.
    """

    can_focus = True

    def watch_virtual_size(self, size: Size) -> None:
        if not self.is_anchored and size.height > self.scrollable_content_region.height > 0:
            self.anchor()

    def add(self, widget: Widget) -> Widget:
        self.mount(widget)
        return widget

    def clear(self) -> None:
        self.remove_children()
        self.anchor(False)

    def toggle_thinking(self) -> bool:
        """Expand every thinking block, or fold them all if any is open; True when now expanded."""
        blocks = list(self.query(".thinking").results(Collapsible))
        expand = all(block.collapsed for block in blocks)
        for block in blocks:
            block.collapsed = not expand
        return expand
