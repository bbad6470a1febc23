"""Qwen3-Coder / Qwen3.5 XML calls:
`<tool_call><function=NAME><parameter=ARG>value</parameter>...</function></tool_call>`.

Values are raw text (code, newlines, `<`, even `</parameter>`), so a closing tag only counts when
what follows it fits the structure: `</parameter>` must be followed by another `<parameter=` or by
`</function>`; anything else means the tag is part of the value (e.g. code that mentions it).
"""

from __future__ import annotations

from ornith_local.llm.parsing.scanning import (
    RawCall,
    ScanOutcome,
    call_label,
    could_become,
    guess_name,
    missing_close,
    skip_ws,
    truncated,
)
from ornith_local.llm.parsing.types import Problem

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
FUNC = "<function="
PARAM = "<parameter="
END_PARAM = "</parameter>"
END_FUNC = "</function>"
FORMAT = "qwen3_xml"
_MAX_NAME = 200
_NEED = None


class _Bad(Exception):
    """The block does not follow the XML structure at all."""


class XmlScanner:
    """bare=True: the call began with `<function=` and no `<tool_call>` around it."""

    def __init__(self, bare: bool = False) -> None:
        self._bare = bare
        self._state = "func"
        self._pos = 0
        self._calls: list[RawCall] = []
        self._name = ""
        self._args: list[tuple[str, object]] = []
        self._notes: list[Problem] = []
        self._param = ""
        self._value_start = 0
        self._search = 0

    def advance(self, body: str, at_end: bool) -> ScanOutcome | None:
        try:
            while True:
                step = getattr(self, f"_{self._state}")(body, at_end)
                if step is not True:
                    return step  # type: ignore[no-any-return]
        except _Bad as bad:
            return self._unreadable(body, at_end, str(bad))

    # Each state returns True (moved on: keep going), None (need more text) or the outcome.

    def _func(self, body: str, at_end: bool) -> ScanOutcome | bool | None:
        pos = skip_ws(body, self._pos)
        if body.startswith(FUNC, pos):
            read = self._read_name(body, pos + len(FUNC), at_end)
            if read is None:
                return truncated(body, "in its function name", CLOSE) if at_end else _NEED
            self._name, self._pos = read
            self._args, self._notes, self._state = [], [], "params"
            return True
        if not self._bare and not self._calls and body.startswith(CLOSE, pos):
            return ScanOutcome(consumed=pos + len(CLOSE), dropped=True, problems=[Problem(
                "empty_call", "your tool call was empty: write `<function=NAME>` inside `<tool_call>`.")])
        if pos == len(body) or could_become(body, pos, (FUNC, CLOSE)):
            return truncated(body, "before its function name", CLOSE) if at_end else _NEED
        raise _Bad("after `<tool_call>` write `<function=NAME>` then `<parameter=NAME>value</parameter>`")

    def _params(self, body: str, at_end: bool) -> ScanOutcome | bool | None:
        pos = skip_ws(body, self._pos)
        if body.startswith(PARAM, pos):
            read = self._read_name(body, pos + len(PARAM), at_end)
            if read is None:
                return truncated(body, "in a parameter name", CLOSE) if at_end else _NEED
            self._param, self._value_start = read
            self._search, self._state = self._value_start, "value"
            return True
        if body.startswith(END_FUNC, pos):
            return self._end_function(pos + len(END_FUNC))
        if pos == len(body) or could_become(body, pos, (PARAM, END_FUNC)):
            return truncated(body, f"before `{END_FUNC}`", END_FUNC) if at_end else _NEED
        # Stray text between parameters: skip to the next tag and say so.
        found = [i for i in (body.find(PARAM, pos), body.find(END_FUNC, pos)) if i >= 0]
        if not found:
            return truncated(body, f"before `{END_FUNC}`", END_FUNC) if at_end else _NEED
        self._pos = min(found)
        self._notes.append(Problem("stray_text", f"your call to {self._name} had text outside its "
                                   "`<parameter=...>` tags; it was ignored.", severity="warning"))
        return True

    def _value(self, body: str, at_end: bool) -> ScanOutcome | bool | None:
        search = self._search
        while True:
            ends = [i for i in (body.find(END_PARAM, search), body.find(END_FUNC, search)) if i >= 0]
            if not ends:
                self._search = max(search, len(body) - len(END_PARAM) + 1)
                return truncated(body, f"inside parameter `{self._param}`", END_PARAM) if at_end else _NEED
            end = min(ends)
            closes_param = body.startswith(END_PARAM, end)
            after = end + len(END_PARAM if closes_param else END_FUNC)
            follow = (PARAM, END_FUNC) if closes_param else (CLOSE,)
            nxt = skip_ws(body, after)
            if any(body.startswith(m, nxt) for m in follow) or (at_end and could_become(body, nxt, follow)):
                break
            if nxt == len(body) or could_become(body, nxt, follow):
                if not at_end:
                    self._search = end
                    return _NEED
                break
            search = end + 1  # the tag is part of the value (code that mentions it)
        self._args.append((self._param, _trim(body[self._value_start:end])))
        if closes_param:
            self._pos, self._state = after, "params"
        else:
            self._notes.append(Problem("missing_close_tag", f"your call to {self._name} did not close parameter "
                                       f"`{self._param}` with `{END_PARAM}`; it was read anyway.", "warning"))
            return self._end_function(after)
        return True

    def _end_function(self, pos: int) -> bool:
        self._calls.append(RawCall(self._name, self._args, "", FORMAT, True, self._notes))
        self._pos, self._state = pos, "after_func"
        return True

    def _after_func(self, body: str, at_end: bool) -> ScanOutcome | bool | None:
        pos = skip_ws(body, self._pos)
        if body.startswith(CLOSE, pos):
            return self._done(body, pos + len(CLOSE))
        if not self._bare and body.startswith(FUNC, pos):
            self._pos, self._state = pos, "func"  # several functions in one block
            return True
        if not at_end and (pos == len(body) or could_become(body, pos, (CLOSE, FUNC))):
            return _NEED
        if not self._bare:
            self._calls[-1].problems.append(missing_close(self._name, CLOSE))
        return self._done(body, self._pos)

    def _done(self, body: str, consumed: int) -> ScanOutcome:
        raw = ("" if self._bare else OPEN) + body[:consumed]
        for call in self._calls:
            call.raw = raw
        return ScanOutcome(consumed=consumed, calls=self._calls)

    def _read_name(self, body: str, start: int, at_end: bool) -> tuple[str, int] | None:
        gt = body.find(">", start, start + _MAX_NAME + 1)
        if gt < 0:
            if len(body) - start > _MAX_NAME or "\n" in body[start:]:
                raise _Bad("a `<function=` or `<parameter=` tag was not closed with `>`")
            return None
        name = body[start:gt].strip().strip("\"'")
        if not name or "\n" in name:
            raise _Bad("a `<function=` or `<parameter=` tag had no name")
        return name, gt + 1

    def _unreadable(self, body: str, at_end: bool, why: str) -> ScanOutcome | None:
        close = body.find(END_FUNC if self._bare else CLOSE)
        if close < 0 and not at_end:
            return None
        consumed = len(body) if close < 0 else close + len(END_FUNC if self._bare else CLOSE)
        label = call_label(guess_name(body))
        return ScanOutcome(consumed=consumed, dropped=True, problems=[Problem(
            "call_unreadable", f"{label} was not readable ({why}); it was not run.")])


def _trim(value: str) -> str:
    # The template writes one newline after `<parameter=x>` and one before `</parameter>`.
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value
