"""The incremental parser: feed text as the model writes it, get events, and at the end the result.

It holds back what could still turn into a tag (so no half-written tag ever reaches the user), and what only the
rest of the output can decide: a Qwen3-XML call (its values are raw text, so where it ends depends on what follows)
and a call opened before any reasoning closer (a draft inside the reasoning if a `</think>` comes after it, a real
call that ends the reasoning if none does). Both are settled at `finish()` (an XML call is announced with
ToolCallStarted as soon as it opens). Every decision depends on the text alone, never on how it was split into
chunks: the result after `finish()` equals `parse_output` on the whole text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from ornith_local.llm.parsing import formats, gemma4, hermes, qwen_xml
from ornith_local.llm.parsing.gemma4 import GemmaScanner
from ornith_local.llm.parsing.qwen_xml import XmlScanner
from ornith_local.llm.parsing.scanning import CallScanner, ScanOutcome, held_suffix, skip_ws
from ornith_local.llm.parsing.schema import ToolSpec, load_tools, type_call
from ornith_local.llm.parsing.sniff import SniffingScanner
from ornith_local.llm.parsing.types import (
    ContentDelta,
    Event,
    ParsedOutput,
    Problem,
    ProblemFound,
    ReasoningDelta,
    ToolCall,
    ToolCallDone,
    ToolCallStarted,
)


class StreamParser:
    """format: "auto" or a catalog `tool_call_format`. tools: OpenAI-style definitions, for typing.

    starts_in_reasoning: True when the prompt already opened the thinking block (the output then
    begins mid-thought and only the closing tag appears); False when it did not. None (auto) holds
    text back until a tag decides it, which costs streaming latency for models that never think.
    """

    def __init__(self, format: str = "auto", tools: object = None, starts_in_reasoning: bool | None = None) -> None:
        self._format = formats.check_format(format)
        self._tools = tool_specs(tools)
        self._mode = "pending" if starts_in_reasoning is None else "reasoning" if starts_in_reasoning else "content"
        self._reasoning_seen = bool(starts_in_reasoning)
        self._closes = formats.reasoning_closes(self._format)
        self._buf = ""
        self._at = 0  # where the unread text starts in _buf (reading moves it; the buffer is cut only now and then)
        self._tail: list[str] = []  # pieces received while a call waits for the end of the output
        self._held: list[str] = []
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._block_started = False  # whether the current reasoning block has shown text yet
        self._calls: list[ToolCall] = []
        self._problems: list[Problem] = []
        self._scanner: CallScanner | None = None
        self._opening = ""
        self._fenced = False
        self._fences = 0  # ``` lines among the complete lines of the content so far
        self._partial_line = ""  # the content's last line, not ended yet
        self._finished = False
        self._ended = False  # Gemma 4's `<turn|>` was seen: the rest is not part of this turn
        self._after_turn = ""
        self._drafted_from = ""  # "pending" or "reasoning": a call opener waiting for the end of the output

    # --- public --------------------------------------------------------------------------------

    def feed(self, chunk: str) -> list[Event]:
        if self._finished:
            raise RuntimeError("StreamParser.feed() after finish()")
        if self._mode == "drafted" or (self._mode == "call" and getattr(self._scanner, "holds_to_end", False)):
            self._tail.append(chunk)  # nothing is decided before the end: keep the pieces, join them once
            return []
        self._join_tail()
        self._buf += chunk
        return self._pump(at_end=False)

    def _join_tail(self) -> None:
        if self._tail:
            self._buf += "".join(self._tail)
            self._tail = []

    def finish(self) -> list[Event]:
        if self._finished:
            return []
        self._join_tail()
        events = self._pump(at_end=True)
        if self._after_turn.strip():
            self._add_problem(Problem("text_after_turn_end", f"text after the end of your turn (`{formats.TURN_END}`) "
                                      "was ignored.", "warning"), events)
        if self._mode == "pending":
            self._emit_content("".join(self._held), events)
            self._held = []
        elif self._mode == "reasoning":
            close = " or ".join(f"`{c}`" for c in self._closes)
            self._add_problem(Problem("reasoning_unterminated", f"the output ended inside the reasoning (no {close}), "
                                      "so it has no answer and no tool call.", "warning"), events)
        self._finished = True
        return events

    def result(self) -> ParsedOutput:
        """The parsed output so far; complete once finish() was called."""
        reasoning = "".join(self._reasoning).rstrip()
        return ParsedOutput(
            reasoning=reasoning if self._reasoning_seen and reasoning else None,
            content="".join(self._content).rstrip(),
            tool_calls=list(self._calls),
            problems=list(self._problems),
        )

    # --- the loop ------------------------------------------------------------------------------

    def _pump(self, at_end: bool) -> list[Event]:
        events: list[Event] = []
        while True:
            if self._ended:
                self._after_turn = (self._after_turn + self._buf[self._at:self._at + 200])[:200]
                self._buf, self._at = "", 0
                return events
            if self._mode == "call":
                assert self._scanner is not None
                outcome = self._scanner.advance(self._buf, at_end, self._at)
                if outcome is None:
                    return events
                self._settle(outcome, events)
                self._read_to(self._at + outcome.consumed)
                self._mode = "content"
                continue
            if self._mode == "drafted":
                if not at_end:
                    return events
                self._decide_drafted(events)
                continue
            markers = self._watched()
            found = _find(self._buf, markers, self._at)
            if found is None or (not at_end and _may_grow(self._buf, found, markers)):
                # (held_suffix reads only the last few characters of what is unread.)
                stop = found[0] if found is not None else len(self._buf) - (
                    0 if at_end else held_suffix(self._buf[max(self._at, len(self._buf) - 64):], markers))
                self._text(self._buf[self._at:stop], events)
                self._read_to(stop)
                return events
            at, marker = found
            if self._mode == "reasoning" and marker == hermes.OPEN:
                genuine = _opens_a_function(self._buf, at + len(marker), at_end)
                if genuine is None:  # `<tool_call>` at the end of the text so far: wait for what follows
                    self._text(self._buf[self._at:at], events)
                    self._read_to(at)
                    return events
                if not genuine:  # a mention of the tag in the reasoning
                    self._text(self._buf[self._at:at + len(marker)], events)
                    self._read_to(at + len(marker))
                    continue
            self._text(self._buf[self._at:at], events)
            self._read_to(at + len(marker))
            self._on_marker(marker, events)

    def _read_to(self, position: int) -> None:
        """Everything before `position` is read. The read part is cut off only once it is most of the buffer (cutting
        it after every call copied the rest of a long output once per call: quadratic)."""
        self._at = position
        if self._at > _COMPACT_AFTER and 2 * self._at > len(self._buf):
            self._unread()

    def _unread(self) -> str:
        """The buffer cut to what is unread, for the rare paths that rewrite it."""
        if self._at:
            self._buf, self._at = self._buf[self._at:], 0
        return self._buf

    def _watched(self) -> tuple[str, ...]:
        fmt = self._format
        opens = formats.reasoning_opens(fmt) + formats.call_opens(fmt)
        ends = formats.turn_ends(fmt)
        if self._mode == "reasoning":
            return self._closes + formats.calls_ending_reasoning(self._closes) + ends
        if self._mode == "pending":
            return opens + self._closes + ends
        return opens + formats.stray_closes(fmt) + ends

    def _on_marker(self, marker: str, events: list[Event]) -> None:
        if marker == formats.TURN_END:
            self._flush_held(events)
            self._ended = True
            return
        if marker in formats.stray_closes(self._format) and self._mode == "content":
            self._add_problem(Problem("stray_tag", f"a stray `{marker}` outside any reasoning was left out of your "
                                      "answer.", "warning"), events)
            return
        if marker in self._closes:
            if self._mode == "pending":
                self._reasoning_seen = True
                self._emit_reasoning("".join(self._held), events)
                self._held = []
            self._mode = "content"
            return
        if self._mode in ("pending", "reasoning") and marker in (hermes.OPEN, qwen_xml.FUNC):
            # Written before any reasoning closer: a draft inside the reasoning if a closer comes after the call,
            # otherwise (Qwen3.5) the call ends the reasoning. Only the whole output tells.
            self._drafted_from, self._mode = self._mode, "drafted"
            self._buf = marker + self._unread()
            return
        if self._mode == "reasoning":  # Gemma 4's `<|tool_call>` ends the thought channel
            self._mode = "content"
        self._flush_held(events)
        if marker in formats.REASONING_CLOSE:
            self._mode, self._reasoning_seen, self._block_started = "reasoning", True, False
            self._closes = (formats.REASONING_CLOSE[marker],)
            return
        self._start_call(marker, events)

    def _decide_drafted(self, events: list[Event]) -> None:
        """At the end of the output: was the call opener inside the reasoning, or did it end the reasoning?"""
        self._unread()
        marker = hermes.OPEN if self._buf.startswith(hermes.OPEN) else qwen_xml.FUNC
        skip = len(marker) if marker == hermes.OPEN else 0
        outcome = self._scanner_for(marker).advance(self._buf[skip:], True)
        assert outcome is not None  # at the end of the output every scanner decides
        after = len(marker) if outcome.dropped else skip + outcome.consumed
        closes = self._closes if self._drafted_from == "reasoning" else formats.reasoning_closes(self._format)
        found = _find(self._buf[after:], closes)
        if found is not None:
            end = after + found[0]
            if self._drafted_from == "pending":
                self._reasoning_seen = True
                self._emit_reasoning("".join(self._held), events)
                self._held = []
            self._emit_reasoning(self._buf[:end], events)
            self._buf = self._buf[end + len(found[1]):]
            self._mode = "content"
            return
        self._mode = "pending" if self._drafted_from == "pending" else "content"
        self._flush_held(events)
        self._buf = self._buf[len(marker):]
        self._start_call(marker, events)

    def _scanner_for(self, marker: str) -> CallScanner:
        if marker == gemma4.OPEN:
            return GemmaScanner()
        if marker == qwen_xml.FUNC:
            return XmlScanner(bare=True, tools=self._tools)
        return SniffingScanner(prefer_xml=self._format == "qwen3_xml", tools=self._tools)

    def _start_call(self, marker: str, events: list[Event]) -> None:
        # An odd number of ``` fence lines so far: the call sits inside a Markdown code block.
        self._fenced = (self._fences + self._partial_line.lstrip().startswith("```")) % 2 == 1
        self._opening = marker
        self._scanner = self._scanner_for(marker)
        if marker == qwen_xml.FUNC:  # a bare `<function=...>` with no `<tool_call>` around it
            self._opening = ""
            self._buf = marker + self._unread()
        self._mode = "call"
        events.append(ToolCallStarted(marker))

    def _settle(self, outcome: ScanOutcome, events: list[Event]) -> None:
        if outcome.dropped:
            self._emit_content(self._opening + self._buf[self._at:self._at + outcome.consumed], events)
        for raw in outcome.calls:
            call, problems = type_call(raw, len(self._calls), self._tools)
            if self._fenced:
                problems.append(Problem("call_in_code_fence", f"your call to {call.name} was inside a Markdown "
                                        "code block; it was read as a call, but write calls without ``` fences.",
                                        "warning", call.index))
            self._calls.append(call)
            events.append(ToolCallDone(call))
            for problem in problems:
                self._add_problem(problem, events)
        for problem in outcome.problems:
            self._add_problem(problem, events)

    # --- text ----------------------------------------------------------------------------------

    def _text(self, text: str, events: list[Event]) -> None:
        if not text:
            return
        if self._mode == "pending":
            self._held.append(text)
        elif self._mode == "reasoning":
            self._emit_reasoning(text, events)
        else:
            self._emit_content(text, events)

    def _flush_held(self, events: list[Event]) -> None:
        if self._mode == "pending":
            self._emit_content("".join(self._held), events)
            self._held = []
            self._mode = "content"

    def _emit_content(self, text: str, events: list[Event]) -> None:
        if not self._content:
            text = text.lstrip()  # leading blank lines (e.g. after `</think>`) are not content
        if text:
            self._content.append(text)
            events.append(ContentDelta(text))
            # Fence lines counted as the content grows (counting them again at every call was quadratic).
            lines = (self._partial_line + text).splitlines(keepends=True)
            self._partial_line = lines.pop() if lines and lines[-1].splitlines()[0] == lines[-1] else ""
            self._fences += sum(1 for line in lines if line.lstrip().startswith("```"))

    def _emit_reasoning(self, text: str, events: list[Event]) -> None:
        if not self._block_started:
            text = text.lstrip()
            if not text:
                return
            self._block_started = True
            if self._reasoning:
                text = "\n\n" + text  # a second reasoning block
        self._reasoning.append(text)
        events.append(ReasoningDelta(text))

    def _add_problem(self, problem: Problem, events: list[Event]) -> None:
        self._problems.append(problem)
        events.append(ProblemFound(problem))


def _find(buf: str, markers: tuple[str, ...], start: int = 0) -> tuple[int, str] | None:
    """The earliest marker in buf from `start`; at the same place, the longest. One pass that stops there (searching
    for each marker apart would read the whole rest of the output once per call: quadratic)."""
    if not markers:
        return None
    found = _alternation(markers).search(buf, start)
    return None if found is None else (found.start(), found.group())


@functools.lru_cache(maxsize=64)
def _alternation(markers: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(m) for m in sorted(set(markers), key=len, reverse=True)))


def _may_grow(buf: str, found: tuple[int, str], markers: tuple[str, ...]) -> bool:
    """`<|channel>` might still become `<|channel>thought`: wait before deciding."""
    at, marker = found
    rest = buf[at:]
    return any(len(m) > len(marker) and m.startswith(rest) for m in markers)


def _opens_a_function(buf: str, pos: int, at_end: bool) -> bool | None:
    """After `<tool_call>` in the reasoning: is a `<function=` next (vLLM's qwen3 reasoning parser: only then does
    the tag end the reasoning)? None while the text so far cannot tell."""
    pos = skip_ws(buf, pos)
    rest = buf[pos:pos + len("<function") + 1]  # (a copy of the whole rest, once per tag, was quadratic)
    if rest.startswith("<function") and len(rest) > len("<function"):
        return rest[len("<function")] == "=" or rest[len("<function")].isspace()
    if not at_end and "<function".startswith(rest):
        return None
    return False


def tool_specs(tools: object) -> Mapping[str, ToolSpec] | None:
    """None (no typing), specs from load_tools, or the raw definitions list."""
    if tools is None:
        return None
    if isinstance(tools, Mapping) and all(isinstance(v, ToolSpec) for v in tools.values()):
        return {str(k): v for k, v in tools.items()}
    return load_tools(tools)


def parse_output(
    text: str, format: str = "auto", tools: object = None, starts_in_reasoning: bool | None = None
) -> ParsedOutput:
    """Parse a whole model output: reasoning, content, typed tool calls and the problems found."""
    parser = StreamParser(format, tools, starts_in_reasoning)
    # Fed in pieces (the result does not depend on the split): the parser's buffer then stays near one piece
    # long, so moving past each call costs a piece, not the rest of a long output.
    for start in range(0, len(text), _PIECE):
        parser.feed(text[start:start + _PIECE])
    parser.finish()
    return parser.result()


_PIECE = 1 << 16
_COMPACT_AFTER = 1 << 16  # characters read before the buffer may be cut


