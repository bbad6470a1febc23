"""Hermes / Qwen2.5 JSON calls: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`.

The scanner follows the JSON structure (strings, brackets), so a `</tool_call>` inside a string value
is part of the value; one outside any string ends the call even when brackets are still open (models
often drop the last `}`), and the missing closers are added back.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

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
FORMAT = "hermes"

_IN_STRING = re.compile(r'["\\]')
_OUTSIDE = re.compile(r'["{}\[\]<]')
_CLOSERS = {"{": "}", "[": "]"}


class _Obj(dict[str, Any]):
    """A decoded JSON object that remembers keys it saw twice."""

    duplicates: list[tuple[str, Any]]  # (key, the earlier value) for keys written twice, differently


def _pairs(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj and obj[key] != value:
            obj.duplicates.append((key, obj[key]))
        obj[key] = value
    return obj


class HermesScanner:
    def __init__(self) -> None:
        self._start: int | None = None  # where the JSON value begins
        self._pos = 0
        self._stack: list[str] = []
        self._in_string = False
        self._json_end: int | None = None
        self._close_at: int | None = None  # a `</tool_call>` outside strings with brackets still open

    def advance(self, body: str, at_end: bool, start: int = 0) -> ScanOutcome | None:
        if start:  # these calls are read as they stream: what is left of the buffer is short
            body = body[start:]
        if self._start is None:
            first = skip_ws(body, 0)
            if first == len(body):
                return _empty(body) if at_end else None
            if body[first] not in "{[":
                return _not_json(body, at_end)
            self._start = self._pos = first
        if self._json_end is None and self._close_at is None and not self._scan(body, at_end):
            return self._unfinished(body) if at_end else None
        if self._close_at is not None:
            text = body[self._start:self._close_at].rstrip() + "".join(_CLOSERS[b] for b in reversed(self._stack))
            missing = "".join(_CLOSERS[b] for b in reversed(self._stack))
            outcome = decode(text, body[:self._close_at + len(CLOSE)], self._close_at + len(CLOSE))
            for call in outcome.calls:
                call.problems.append(Problem(
                    "json_repaired", f"your call to {call.name} was missing `{missing}` at the end of its JSON; "
                    "it was read anyway.", severity="warning"))
            return outcome
        return self._after_json(body, at_end)

    def _scan(self, body: str, at_end: bool) -> bool:
        """Walk the JSON structure; True once the value closed or a closing tag ended it early."""
        pos = self._pos
        while True:
            if self._in_string:
                match = _IN_STRING.search(body, pos)
                if match is None:
                    self._pos = len(body)
                    return False
                pos = match.start()
                if body[pos] == "\\":
                    if pos + 1 >= len(body):
                        self._pos = pos  # the escaped character has not arrived yet
                        return False
                    pos += 2
                    continue
                self._in_string = False
                pos += 1
                continue
            match = _OUTSIDE.search(body, pos)
            if match is None:
                self._pos = len(body)
                return False
            pos = match.start()
            char = body[pos]
            if char == '"':
                self._in_string = True
            elif char in "{[":
                self._stack.append(char)
            elif char in "}]":
                if self._stack:
                    self._stack.pop()
                if not self._stack:
                    self._json_end = pos + 1
                    return True
            elif body.startswith(CLOSE, pos):
                self._close_at = pos
                return True
            elif could_become(body, pos, (CLOSE,)) and not at_end:
                self._pos = pos
                return False
            pos += 1

    def _after_json(self, body: str, at_end: bool) -> ScanOutcome | None:
        assert self._start is not None and self._json_end is not None
        text = body[self._start:self._json_end]
        pos = skip_ws(body, self._json_end)
        stray = False
        while pos < len(body) and body[pos] in "}]":  # models sometimes add one brace too many
            stray = True
            pos = skip_ws(body, pos + 1)
        if body.startswith(CLOSE, pos):
            return decode(text, body[:pos + len(CLOSE)], pos + len(CLOSE))
        if not at_end and (pos == len(body) or could_become(body, pos, (CLOSE,))):
            return None
        consumed = pos if stray or pos == len(body) else self._json_end
        outcome = decode(text, body[:consumed], consumed)
        for call in outcome.calls:
            call.problems.append(missing_close(call.name, CLOSE))
        return outcome

    def _unfinished(self, body: str) -> ScanOutcome:
        """End of output inside the JSON: a `</tool_call>` inside a "string" means the quotes were off."""
        assert self._start is not None
        close = body.find(CLOSE, self._start)
        if close >= 0:
            return decode(body[self._start:close], body[:close + len(CLOSE)], close + len(CLOSE))
        where = "inside a string value" if self._in_string else "inside its JSON"
        return truncated(body, where, CLOSE)


def _empty(body: str) -> ScanOutcome:
    return ScanOutcome(consumed=len(body), dropped=True, problems=[Problem(
        "call_truncated", "your tool call was cut off right after `<tool_call>` (the output ended); "
        "nothing was run.")])


def _not_json(body: str, at_end: bool) -> ScanOutcome | None:
    close = body.find(CLOSE)
    if close < 0 and not at_end:
        return None
    consumed = len(body) if close < 0 else close + len(CLOSE)
    label = call_label(guess_name(body))
    return ScanOutcome(consumed=consumed, dropped=True, problems=[Problem(
        "call_unreadable", f"{label} was not readable: after `<tool_call>` write a JSON object "
        '{"name": ..., "arguments": {...}}; it was not run.')])


def _load(text: str) -> Any:
    """json.loads, then two common slips: trailing commas and Python literals (True, None, 'quotes')."""
    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as error:
        first_error = error
    try:
        return json.loads(re.sub(r",\s*([}\]])", r"\1", text), object_pairs_hook=_pairs)
    except json.JSONDecodeError:
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise first_error from None
    return json.loads(json.dumps(value), object_pairs_hook=_pairs) if isinstance(value, dict | list) else value


def decode(text: str, raw_body: str, consumed: int) -> ScanOutcome:
    """Turn the JSON text of one `<tool_call>` block into calls (one object or a list of them)."""
    raw = OPEN + raw_body
    try:
        value = _load(text)
    except (json.JSONDecodeError, RecursionError) as error:
        label = call_label(guess_name(text))
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply"
        where = f" at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        return ScanOutcome(consumed=consumed, dropped=True, problems=[Problem(
            "invalid_json", f"{label} was not valid JSON ({reason}{where}); it was not run.")])
    items = value if isinstance(value, list) else [value]
    outcome = ScanOutcome(consumed=consumed)
    for item in items:
        call = _call_from(item, raw, outcome.problems)
        if call is not None:
            outcome.calls.append(call)
    outcome.dropped = not outcome.calls
    return outcome


def _call_from(item: Any, raw: str, problems: list[Problem]) -> RawCall | None:
    if isinstance(item, dict) and isinstance(item.get("function"), dict):
        item = item["function"]  # the OpenAI shape {"type": "function", "function": {...}}
    if not isinstance(item, dict):
        problems.append(Problem("call_unreadable", "your tool call was JSON but not an object "
                                '{"name": ..., "arguments": {...}}; it was not run.'))
        return None
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("missing_name", 'your tool call had no "name" (a string); it was not run.'))
        return None
    name = name.strip()
    args: Any = next((item[k] for k in ("arguments", "parameters", "args") if k in item), {})
    if isinstance(args, str):
        try:
            args = json.loads(args, object_pairs_hook=_pairs) if args.strip() else {}
        except json.JSONDecodeError:
            problems.append(Problem("invalid_arguments", f'your call to {name} had "arguments" as a string '
                                    "that is not a JSON object; it was not run."))
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        problems.append(Problem("invalid_arguments", f'your call to {name} had "arguments" that is not '
                                "an object of parameter values; it was not run."))
        return None
    # A key written twice with different values stays twice, so the schema step can report it.
    pairs: list[tuple[str, object]] = list(getattr(args, "duplicates", [])) + list(args.items())
    return RawCall(name=name, arguments=pairs, raw=raw, format=FORMAT)
