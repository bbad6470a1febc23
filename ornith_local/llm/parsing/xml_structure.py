"""Where a Qwen3-XML call and each of its parameters really end, decided by what the rest of the text allows.

Values are raw text, so a value may hold anything the format itself uses: `</parameter>`, `</function>`, a whole
`<tool_call>` written as a test fixture. Three rules pick the real closers:

- Balance: tags that open and close inside a value (a complete call quoted in a file) belong to the value.
- Consistency: a closer is real only if the text after it fits the structure. A `</function>` must leave no
  stray closer (`</parameter>`, `</function>`, `</tool_call>`) before the next call opens; a `</parameter>` must be
  followed by a parameter the tool takes and has not been given yet, or by the end of the function, and the
  parameters read from there must be consistent with the tool's schema (known names, no repeats, every required
  one present, values of the declared type).
- Repair last: a parameter whose `</parameter>` never comes is closed by the next `<parameter=` of a known parameter
  (or by `</function>`); when no closer fits, the last plausible one before `</function>` is taken.

Everything scans forward with compiled patterns and stops at the first closer that fits, so a well-formed call costs
one pass; the backtracking for inconsistent closers is bounded by a work budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ornith_local.llm.parsing.scanning import skip_ws
from ornith_local.llm.parsing.schema import ToolSpec, coerce
from ornith_local.llm.parsing.types import Problem

END_PARAM = "</parameter>"
END_FUNC = "</function>"
CLOSE = "</tool_call>"
NAME = r"[\"']?([\w.\-]{1,200})[\"']?"
FUNC_OPEN = re.compile(r"<function=" + NAME + ">")
PARAM_OPEN = re.compile(r"<parameter=" + NAME + ">")
_PARAM_TAG = re.compile(r"<parameter=" + NAME + ">|</parameter>")
_END_PARAM = re.compile(re.escape(END_PARAM))
_QUOTED_CALL_TAG = re.compile(r"<tool_call>\s*<function=" + NAME + ">|</function>")
# What can end a function, and a full call opener quoted inside a value (it nests).
_FUNC_TAG = re.compile(r"<tool_call>\s*<function=" + NAME + ">|</function>|</tool_call>")
# After a call ends: the next closer (inconsistent) or the next call opener (fine), whichever comes first.
_NEXT_STRUCTURE = re.compile(r"</parameter>|</function>|</tool_call>|<tool_call>|<\|tool_call>|<function=")
_WELL_FORMED_OPENER = re.compile(
    r"<tool_call>\s*(<function=" + NAME + r">|\{)|<\|tool_call>call:|<function=" + NAME + ">")
_NEXT_IS_CALL_OR_END = re.compile(r"\s*(<tool_call>|<\|tool_call>|<function=|\Z)")
_OPENERS = ("<tool_call>", "<|tool_call>", "<function=")
_WORK_BUDGET = 64  # parameter readings per function before falling back to the first fitting closers


@dataclass(frozen=True)
class FunctionEnd:
    body_end: int  # where the parameters end (the `</function>`, or the `</tool_call>` standing in for it)
    resume: int  # where the text after the call (or the next function of the block) starts
    next_function: bool = False  # another `<function=` follows inside the same `<tool_call>`
    missing: str = ""  # a closing tag the model left out ("</tool_call>" or "</function>")
    guessed: bool = False  # no closer fitted the rest of the text: the last plausible one was taken


def find_function_end(text: str, start: int, bare: bool) -> FunctionEnd | None:
    """The end of the function whose parameters start at `start`; None when the text has no end for it."""
    depth = 0  # complete calls quoted inside a value, still open
    fallback: FunctionEnd | None = None  # a closer that fits the rest but sat inside a quoted call
    last: FunctionEnd | None = None
    repaired: FunctionEnd | None = None  # a `</tool_call>` standing in for `</function>`, which a later real end beats
    looked_past = 0  # tags read after `repaired`: the look for a real end is bounded
    skip_to = start
    for tag in _FUNC_TAG.finditer(text, start):
        if tag.start() < skip_to:
            continue
        if repaired is not None:
            looked_past += 1
            if looked_past > _WORK_BUDGET:
                return repaired
        word = tag.group()
        if word.startswith("<tool_call>"):
            depth += 1
            continue
        if word == CLOSE:  # a `</tool_call>` with no `</function>` before it
            if depth == 0:
                end = FunctionEnd(tag.start(), tag.end(), missing=END_FUNC)
                # It stands in for `</function>` only after a closed parameter (or none); else it is a last resort.
                closed = _after_closed_parameter(text, start, tag.start())
                if closed and _fits(text, end.resume) and repaired is None:
                    repaired = end
                elif repaired is None:
                    last = end
            continue
        end = _after_function_close(text, tag.end(), bare, tag.start())
        skip_to = end.resume if not end.next_function else tag.end()
        if depth > 0:
            if end.resume > tag.end() and not end.missing and not end.next_function:
                depth -= 1  # the quoted call closed
            if fallback is None and _fits(text, end.resume):
                fallback = end
            continue
        # A `</function>` with no `</tool_call>` after it ends the call only after a closed parameter (or none), and
        # before the next call or the end of the output (bare calls need no `</tool_call>`).
        closed = not end.missing or (_NEXT_IS_CALL_OR_END.match(text, end.resume) is not None
                                     and _after_closed_parameter(text, start, tag.start()))
        if closed and (end.next_function or _fits(text, end.resume)):
            # A value may hold `</parameter></tool_call>` (a fixture, a template): a complete end after it wins over
            # the repair, unless another function opens in between (then the repair ended a call missing its tag).
            if repaired is not None and (end.missing or FUNC_OPEN.search(text, repaired.resume, tag.start())):
                return repaired
            return end
        if repaired is None:
            last = end
    if repaired is not None:
        return repaired
    if fallback is not None:
        return fallback
    if last is not None:
        return FunctionEnd(last.body_end, last.resume, last.next_function, last.missing, guessed=True)
    return None


def _after_function_close(text: str, after: int, bare: bool, at: int) -> FunctionEnd:
    pos = skip_ws(text, after)
    if text.startswith(CLOSE, pos):
        return FunctionEnd(at, pos + len(CLOSE))
    if not bare and text.startswith("<function=", pos):  # another function, well written or not
        return FunctionEnd(at, pos, next_function=True)
    return FunctionEnd(at, after, missing="" if bare else CLOSE)


def _after_closed_parameter(text: str, start: int, pos: int) -> bool:
    """Whether only whitespace separates `pos` from a `</parameter>` (or from `start`, no parameter at all)."""
    back = pos
    while back > start and text[back - 1].isspace():
        back -= 1
    return back == start or text.endswith(END_PARAM, start, back)


def _fits(text: str, pos: int) -> bool:
    """No stray closer between `pos` and the next call opener (or the end of the text).

    Models start a call on a line of its own or write it whole; an opener inside a line that does not go on as a
    call (`'<tool_call>\\n<function=' + x` in a template) is text and does not count as the next call."""
    for found in _NEXT_STRUCTURE.finditer(text, pos):
        if not found.group().startswith(_OPENERS):
            return False
        line_start = max(text.rfind("\n", pos, found.start()) + 1, pos)
        if not text[line_start:found.start()].strip() or _WELL_FORMED_OPENER.match(text, found.start()):
            return True
    return True


# --- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    name: str
    value: str
    note: Problem | None = None


class _OutOfWork(Exception):
    pass


class ParamReader:
    """Splits one function body into (name, raw value) pairs, choosing the closers the schema agrees with."""

    def __init__(self, text: str, end: int, function: str, spec: ToolSpec | None) -> None:
        self._text, self._end, self._function, self._spec = text, end, function, spec
        self._work = 0
        self._level = "strict"
        self._memo: dict[tuple[int, frozenset[str], bool], list[_Piece] | None] = {}
        self._rigid = 0  # > 0 while reading after a repair: every closer that fits must be taken

    def read(self, start: int) -> tuple[list[tuple[str, object]], list[Problem]]:
        for level in ("strict", "names", "loose"):
            self._level, self._work, self._memo = level, 0, {}
            try:
                pieces = self._read(start, ())
            except _OutOfWork:
                continue
            if pieces is not None:
                pairs: list[tuple[str, object]] = [(p.name, p.value) for p in pieces if p.name]
                return pairs, [p.note for p in pieces if p.note is not None]
        return [], [Problem("call_unreadable", f"your call to {self._function} had parameters that could not be "
                            "read; it was not run.")]  # unreachable: the loose level always reads something

    def _read(self, pos: int, given: tuple[str, ...]) -> list[_Piece] | None:
        key = (pos, frozenset(given), self._rigid > 0)
        if key not in self._memo:
            self._work += 1
            if self._work > _WORK_BUDGET and self._level != "loose":
                raise _OutOfWork
            self._memo[key] = self._read_uncached(pos, given)
        return self._memo[key]

    def _read_uncached(self, pos: int, given: tuple[str, ...]) -> list[_Piece] | None:
        text, end = self._text, self._end
        pos = skip_ws(text, pos)
        if pos >= end:
            return [] if self._complete(given) else None
        opened = PARAM_OPEN.match(text, pos, end)
        if opened is None:
            return self._stray(pos, given)
        name, start = opened.group(1), opened.end()
        if not self._acceptable(name, given):
            return None
        inner = (*given, name)
        tried: set[int] = set()
        depth = 0
        for tag in _PARAM_TAG.finditer(text, start, end):
            if tag.group(1) is not None:
                depth += 1
            elif depth > 0:
                depth -= 1
            elif self._follows_well(tag.end()):
                if self._opens_expected(start, tag.start(), inner, self._quoted_calls(start, tag.start())):
                    continue  # a value holding a parameter still to come: only ever a repair
                tried.add(tag.start())
                found = self._close(name, start, tag.start(), tag.end(), inner, None)
                if found is not None:
                    return found
                if self._rigid or not self._may_hold_markup(name):
                    return None
                if self._must_split(tag.end(), inner):  # a real closer, and what follows it does not fit:
                    return self._repair(name, start, inner, tried, tag.start())  # only a tag left open before it
        return self._repair(name, start, inner, tried, end)

    def _must_split(self, pos: int, inner: tuple[str, ...]) -> bool:
        """A closer followed by the end of the function, or by a parameter the tool takes and has not been
        given, is never text: no value swallows a well-formed parameter of its own call."""
        pos = skip_ws(self._text, pos)
        opened = PARAM_OPEN.match(self._text, pos, self._end)
        return opened is None or self._fresh(opened.group(1), inner)

    def _may_hold_markup(self, name: str) -> bool:
        """Only text values (or values the schema does not type) may contain tags."""
        if self._spec is None:
            return True
        schema = self._spec.properties.get(name)
        if not isinstance(schema, dict):
            return True
        declared = schema.get("type")
        types = declared if isinstance(declared, list) else [declared]
        return declared is None or "string" in types

    def _repair(self, name: str, start: int, inner: tuple[str, ...], tried: set[int],
                limit: int) -> list[_Piece] | None:
        """No balanced closer fitted (a tag inside the value is left open, or the closer is missing). In order: a
        closer whose value opens no parameter the tool still expects; the next such parameter's `<parameter=`
        (the closer is missing); any other closer, the last first; the end of the function."""
        text, end = self._text, self._end
        hidden: list[re.Match[str]] = []  # closers the open tag hid from the balanced scan
        if not self._rigid and self._may_hold_markup(name):
            hidden = [m for m in _END_PARAM.finditer(text, start, limit)
                      if m.start() not in tried and self._follows_well(m.end())]
        quoted = self._quoted_calls(start, limit)
        plain = [m for m in hidden if not self._opens_expected(start, m.start(), inner, quoted)]
        for tag in reversed(plain):
            found = self._close(name, start, tag.start(), tag.end(), inner, None)
            if found is not None:
                return found
        missing = Problem("missing_close_tag", f"your call to {self._function} did not close parameter `{name}` "
                          f"with `{END_PARAM}`; it was read anyway.", "warning")
        for opener in PARAM_OPEN.finditer(text, start, limit):
            if self._fresh(opener.group(1), inner) and not _within(opener.start(), quoted):
                # A repair only stands if everything after it reads plainly (no closer taken as text).
                self._rigid += 1
                try:
                    found = self._close(name, start, opener.start(), opener.start(), inner, missing, typed=True)
                finally:
                    self._rigid -= 1
                if found is not None:
                    return found
                break
        for tag in reversed([m for m in hidden if m not in plain]):
            found = self._close(name, start, tag.start(), tag.end(), inner, None)
            if found is not None:
                return found
        return self._close(name, start, end, end, inner, missing) if limit == end else None

    def _opens_expected(self, start: int, stop: int, inner: tuple[str, ...], quoted: list[tuple[int, int]]) -> bool:
        return any(self._fresh(m.group(1), inner) and not _within(m.start(), quoted)
                   for m in PARAM_OPEN.finditer(self._text, start, stop))

    def _quoted_calls(self, start: int, stop: int) -> list[tuple[int, int]]:
        """Spans of whole calls quoted inside a value (`<tool_call><function=...>...</function>`)."""
        spans: list[tuple[int, int]] = []
        depth, opened = 0, start
        for tag in _QUOTED_CALL_TAG.finditer(self._text, start, stop):
            if tag.group() != END_FUNC:
                depth, opened = depth + 1, (tag.start() if depth == 0 else opened)
            elif depth:
                depth -= 1
                if depth == 0:
                    spans.append((opened, tag.end()))
        return spans

    def _close(self, name: str, start: int, value_end: int, resume: int, inner: tuple[str, ...],
               note: Problem | None, typed: bool = False) -> list[_Piece] | None:
        """typed: only a repair is held to the declared types (a wrong type from the model is its own problem)."""
        value = _trim(self._text[start:value_end])
        if typed and not self._typed(name, value):
            return None
        rest = self._read(resume, inner)
        return None if rest is None else [_Piece(name, value, note), *rest]

    def _stray(self, pos: int, given: tuple[str, ...]) -> list[_Piece] | None:
        note = Problem("stray_text", f"your call to {self._function} had text outside its `<parameter=...>` tags; "
                       "it was ignored.", "warning")
        following = PARAM_OPEN.search(self._text, pos, self._end)
        rest = self._read(following.start(), given) if following else ([] if self._complete(given) else None)
        return None if rest is None else [_Piece("", "", note), *rest]

    def _follows_well(self, pos: int) -> bool:
        pos = skip_ws(self._text, pos)
        return pos >= self._end or PARAM_OPEN.match(self._text, pos, self._end) is not None

    # --- what the schema allows, by level ---

    def _acceptable(self, name: str, given: tuple[str, ...]) -> bool:
        if self._level == "loose":
            return True
        return name not in given and (self._spec is None or not self._spec.closed or name in self._spec.properties)

    def _fresh(self, name: str, given: tuple[str, ...]) -> bool:
        return name not in given and (self._spec is None or name in self._spec.properties)

    def _complete(self, given: tuple[str, ...]) -> bool:
        return self._level != "strict" or self._spec is None or all(r in given for r in self._spec.required)

    def _typed(self, name: str, value: str) -> bool:
        if self._level != "strict" or self._spec is None:
            return True
        schema = self._spec.properties.get(name)
        return not isinstance(schema, dict) or coerce(value, schema, from_text=True)[1] is None


def _within(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def _trim(value: str) -> str:
    # The template writes one newline after `<parameter=x>` and one before `</parameter>`.
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value
