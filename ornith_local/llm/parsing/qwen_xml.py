"""Qwen3-Coder / Qwen3.5 XML calls:
`<tool_call><function=NAME><parameter=ARG>value</parameter>...</function></tool_call>`.

Values are raw text (code, newlines, `<`, even `</parameter>` or a whole quoted call), so where a call ends can
depend on everything after it: a closer is real only if the rest of the text is consistent with it
(xml_structure.py). The scanner therefore decides at the end of the output; a stream shows `ToolCallStarted` at
once and the call when the output is complete. A function name that cannot be one (`<function={{ tc.name }}>`
in a template) is text, decided as soon as it is seen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ornith_local.llm.parsing.scanning import RawCall, ScanOutcome, call_label, guess_name, skip_ws, truncated
from ornith_local.llm.parsing.schema import ToolSpec
from ornith_local.llm.parsing.types import Problem
from ornith_local.llm.parsing.xml_structure import (
    CLOSE,
    END_FUNC,
    END_PARAM,
    FUNC_OPEN,
    FunctionEnd,
    ParamReader,
    find_function_end,
)

OPEN = "<tool_call>"
FUNC = "<function="
PARAM = "<parameter="
FORMAT = "qwen3_xml"
__all__ = ["CLOSE", "END_FUNC", "END_PARAM", "FORMAT", "FUNC", "OPEN", "PARAM", "XmlScanner"]
# A name still being written, or one that can never be a name (spaces, braces, quotes inside).
_NAME_SO_FAR = re.compile(r"<function=[\"']?[\w.\-]{0,200}\Z")


class XmlScanner:
    """bare=True: the call began with `<function=` and no `<tool_call>` around it."""

    def __init__(self, bare: bool = False, tools: Mapping[str, ToolSpec] | None = None) -> None:
        self._bare = bare
        self._tools = tools
        self.holds_to_end = not bare  # the stream may keep what follows unread until the end of the output

    def advance(self, body: str, at_end: bool, start: int = 0) -> ScanOutcome | None:
        if self._bare and not self.holds_to_end:
            if FUNC_OPEN.match(body, start):
                self.holds_to_end = True
            elif not (_NAME_SO_FAR.match(body, start) and not at_end):
                return ScanOutcome(consumed=len(FUNC), dropped=True)  # `<function=` in prose: not a call
        if not at_end:
            return None
        return self._read(body, start)

    def _read(self, body: str, start: int) -> ScanOutcome:
        """Positions are in `body`; what is returned counts from `start`."""
        calls: list[RawCall] = []
        pos = skip_ws(body, start)
        while True:
            opened = FUNC_OPEN.match(body, pos)
            if opened is None:
                return self._no_function(body, start, pos, calls)
            name = opened.group(1)
            end = find_function_end(body, opened.end(), self._bare)
            if end is None:
                cut = truncated(body[pos:], _where(body, opened.end()), END_FUNC if self._bare else CLOSE)
                return self._finish(body, start, len(body), calls, cut.problems)
            spec = self._tools.get(name) if self._tools is not None else None
            arguments, notes = ParamReader(body, end.body_end, name, spec).read(opened.end())
            calls.append(RawCall(name, arguments, "", FORMAT, True, notes + _end_notes(name, end)))
            if not end.next_function:
                return self._finish(body, start, end.resume, calls, [])
            pos = end.resume

    def _no_function(self, body: str, start: int, pos: int, calls: list[RawCall]) -> ScanOutcome:
        if calls:  # a malformed function after good ones in the same block: the good ones stand
            close = body.find(CLOSE, pos)
            consumed = len(body) if close < 0 else close + len(CLOSE)
            return self._finish(body, start, consumed, calls, [Problem(
                "call_unreadable", f"the function after your call to {calls[-1].name} in the same `<tool_call>` "
                "was not readable (write `<function=NAME>` then `<parameter=NAME>value</parameter>`); "
                "it was not run.")])
        if not self._bare and body.startswith(CLOSE, pos):
            return ScanOutcome(consumed=pos + len(CLOSE) - start, dropped=True, problems=[Problem(
                "empty_call", "your tool call was empty: write `<function=NAME>` inside `<tool_call>`.")])
        if pos == len(body):
            return truncated(body[start:], "before its function name", CLOSE)
        close = body.find(CLOSE, pos)
        consumed = len(body) if close < 0 else close + len(CLOSE)
        return ScanOutcome(consumed=consumed - start, dropped=True, problems=[Problem(
            "call_unreadable", f"{call_label(guess_name(body[start:]))} was not readable (after `<tool_call>` write "
            "`<function=NAME>` then `<parameter=NAME>value</parameter>`); it was not run.")])

    def _finish(self, body: str, start: int, end: int, calls: list[RawCall], problems: list[Problem]) -> ScanOutcome:
        raw = ("" if self._bare else OPEN) + body[start:end]
        for call in calls:
            call.raw = raw
        return ScanOutcome(consumed=end - start, calls=calls, problems=problems, dropped=not calls)


def _end_notes(name: str, end: FunctionEnd) -> list[Problem]:
    if end.guessed:
        return [Problem("ambiguous_end", f"your call to {name} had closing tags inside its values that left its end "
                        f"unclear; it was read up to the last `{END_FUNC}`. Check the result.", "warning")]
    if end.missing:
        return [Problem("missing_close_tag", f"your call to {name} was missing its closing `{end.missing}`; "
                        "it was read anyway.", "warning")]
    return []


def _where(body: str, start: int) -> str:
    last = body.rfind(PARAM, start)
    if last < 0:
        return f"before `{END_FUNC}`"
    gt = body.find(">", last)
    name = body[last + len(PARAM):gt] if 0 < gt - last < 200 else ""
    return f"inside parameter `{name}`" if name else f"before `{END_FUNC}`"
