"""Gemma 4 calls: `<|tool_call>call:NAME{key:<|"|>text<|"|>,n:3,flag:true,obj:{...},arr:[...]}<tool_call|>`.

Keys are bare, strings sit between `<|"|>` tokens (so they may contain anything else, `<tool_call|>`
included), other values are bare JSON-like scalars, objects and arrays. Several `call:` may follow
each other in one block. The markers are special tokens: they reach the parser only when the engine
detokenizes with special tokens rendered.
"""

from __future__ import annotations

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

OPEN = "<|tool_call>"
CLOSE = "<tool_call|>"
QUOTE = '<|"|>'
CALL = "call:"
FORMAT = "gemma4"
_OUTSIDE = re.compile(r'<\|"\|>|["{}\[\]<]')
_IN_JSON_STRING = re.compile(r'["\\]')
_NAME = re.compile(r"[\w.\-]{1,200}\Z")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?\Z")
_CLOSERS = {"{": "}", "[": "]"}


class GemmaError(ValueError):
    pass


class GemmaScanner:
    def __init__(self) -> None:
        self._state = "head"
        self._pos = 0
        self._calls: list[RawCall] = []
        self._name = ""
        self._brace = 0
        self._stack: list[str] = []
        self._string: str | None = None  # None, QUOTE or '"' (a JSON-style string)

    def advance(self, body: str, at_end: bool, start: int = 0) -> ScanOutcome | None:
        if start:  # these calls are read as they stream: what is left of the buffer is short
            body = body[start:]
        while True:
            step = self._head(body, at_end) if self._state == "head" else self._value(body, at_end)
            if not isinstance(step, bool):
                return step

    def _head(self, body: str, at_end: bool) -> ScanOutcome | bool | None:
        pos = skip_ws(body, self._pos)
        if self._calls and body.startswith(",", pos):
            pos = skip_ws(body, pos + 1)
        if body.startswith(CLOSE, pos):
            if not self._calls:
                return ScanOutcome(consumed=pos + len(CLOSE), dropped=True, problems=[Problem(
                    "empty_call", "your tool call was empty: write `call:NAME{...}` inside it.")])
            return self._done(body, pos + len(CLOSE))
        if body.startswith(CALL, pos):
            brace = body.find("{", pos + len(CALL), pos + len(CALL) + 201)
            if brace < 0:
                if len(body) - pos > 210 or "\n" in body[pos:]:
                    return self._unreadable(body, at_end, "write `call:NAME{...}`")
                return truncated(body, "in its name", CLOSE) if at_end else None
            name = body[pos + len(CALL):brace].strip()
            if not _NAME.match(name):
                return self._unreadable(body, at_end, "write `call:NAME{...}` with a plain name")
            self._name, self._brace, self._pos = name, brace, brace
            self._stack, self._string, self._state = [], None, "value"
            return True
        if pos == len(body) or could_become(body, pos, (CLOSE, CALL)):
            if not at_end:
                return None
            if not self._calls:
                return truncated(body, "before its name", CLOSE)
        if not self._calls:
            return self._unreadable(body, at_end, "write `call:NAME{...}` after `<|tool_call>`")
        self._calls[-1].problems.append(missing_close(self._calls[-1].name, CLOSE))
        return self._done(body, self._pos)

    def _value(self, body: str, at_end: bool) -> ScanOutcome | bool | None:
        pos = self._pos
        while True:
            if self._string == QUOTE:
                end = body.find(QUOTE, pos)
                if end < 0:
                    self._pos = max(pos, len(body) - len(QUOTE) + 1)
                    return self._cut(body, at_end)
                self._string, pos = None, end + len(QUOTE)
                continue
            if self._string == '"':
                match = _IN_JSON_STRING.search(body, pos)
                if match is None or (match.group() == "\\" and match.start() + 1 >= len(body)):
                    self._pos = len(body) if match is None else match.start()
                    return self._cut(body, at_end)
                pos = match.start() + (2 if match.group() == "\\" else 1)
                if match.group() == '"':
                    self._string = None
                continue
            match = _OUTSIDE.search(body, pos)
            if match is None:
                self._pos = len(body)
                return self._cut(body, at_end)
            pos, token = match.start(), match.group()
            if token in (QUOTE, '"'):
                self._string = token
                pos += len(token)
            elif token in "{[":
                self._stack.append(token)
                pos += 1
            elif token in "}]":
                if self._stack:
                    self._stack.pop()
                pos += 1
                if not self._stack:
                    self._add_call(body[self._brace:pos], body)
                    self._pos, self._state = pos, "head"
                    return True
            elif body.startswith(CLOSE, pos):
                closers = "".join(_CLOSERS[b] for b in reversed(self._stack))
                self._add_call(body[self._brace:pos].rstrip() + closers, body)
                if self._calls:
                    self._calls[-1].problems.append(Problem(
                        "missing_brace", f"your call to {self._name} was missing `{closers}` before "
                        f"`{CLOSE}`; it was read anyway.", severity="warning"))
                return self._done(body, pos + len(CLOSE))
            elif could_become(body, pos, (CLOSE, QUOTE)) and not at_end:
                self._pos = pos
                return None
            else:
                pos += 1

    def _cut(self, body: str, at_end: bool) -> ScanOutcome | None:
        if not at_end:
            return None
        close = body.find(CLOSE, self._brace)
        if close >= 0:  # an unbalanced quote swallowed the closing tag
            return self._unreadable(body, at_end, "a string was not closed with `<|\"|>`")
        return truncated(body, "inside its arguments", CLOSE)

    def _add_call(self, text: str, body: str) -> None:
        try:
            pairs = parse_arguments(text)
        except GemmaError as error:
            message = f"your call to {self._name} could not be read ({error}); it was not run."
            self._calls.append(RawCall(self._name, [], "", FORMAT, problems=[Problem("call_unreadable", message)]))
            return
        self._calls.append(RawCall(self._name, pairs, "", FORMAT))

    def _done(self, body: str, consumed: int) -> ScanOutcome:
        raw = OPEN + body[:consumed]
        good = [c for c in self._calls if not any(p.code == "call_unreadable" for p in c.problems)]
        bad = [p for c in self._calls for p in c.problems if p.code == "call_unreadable"]
        for call in good:
            call.raw = raw
        return ScanOutcome(consumed=consumed, calls=good, problems=bad, dropped=not good)

    def _unreadable(self, body: str, at_end: bool, why: str) -> ScanOutcome | None:
        close = body.find(CLOSE)
        if close < 0 and not at_end:
            return None
        consumed = len(body) if close < 0 else close + len(CLOSE)
        return ScanOutcome(consumed=consumed, dropped=True, problems=[Problem(
            "call_unreadable", f"{call_label(guess_name(body))} was not readable ({why}); it was not run.")])


def parse_arguments(text: str) -> list[tuple[str, object]]:
    """`{key:value,...}` in Gemma 4's notation -> (key, value) pairs in order, duplicates kept."""
    reader = _Reader(text)
    pairs = reader.object_pairs()
    reader.skip_ws()
    if reader.pos != len(text):
        raise GemmaError(f"unexpected text after the arguments: {text[reader.pos:reader.pos + 20]!r}")
    return pairs


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        self.pos = skip_ws(self.text, self.pos)

    def expect(self, char: str) -> None:
        self.skip_ws()
        if not self.text.startswith(char, self.pos):
            got = self.text[self.pos:self.pos + 10] or "the end"
            raise GemmaError(f"expected `{char}` at {got!r}")
        self.pos += len(char)

    def object_pairs(self) -> list[tuple[str, object]]:
        self.expect("{")
        pairs: list[tuple[str, object]] = []
        while True:
            self.skip_ws()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return pairs
            key = self.key()
            self.expect(":")
            pairs.append((key, self.value()))
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise GemmaError(f"expected `,` or `}}` after the value of `{key}`")

    def key(self) -> str:
        self.skip_ws()
        if self.text.startswith(QUOTE, self.pos) or self.text.startswith('"', self.pos):
            value = self.value()
            return value if isinstance(value, str) else json.dumps(value)
        colon = self.text.find(":", self.pos)
        if colon < 0:
            raise GemmaError("a key had no `:`")
        key = self.text[self.pos:colon].strip()
        if not key or any(c in key for c in "{}[],\n"):
            raise GemmaError(f"bad key {key!r}")
        self.pos = colon
        return key

    def value(self) -> Any:
        self.skip_ws()
        text, pos = self.text, self.pos
        if text.startswith(QUOTE, pos):
            end = text.find(QUOTE, pos + len(QUOTE))
            if end < 0:
                raise GemmaError("a string was not closed with `<|\"|>`")
            self.pos = end + len(QUOTE)
            return text[pos + len(QUOTE):end]
        if text.startswith('"', pos):
            try:
                value, self.pos = json.JSONDecoder().raw_decode(text, pos)
            except json.JSONDecodeError as error:
                raise GemmaError(f"bad quoted string ({error.msg})") from None
            return value
        if text.startswith("{", pos):
            return dict(self.object_pairs())
        if text.startswith("[", pos):
            return self.array()
        end = pos
        while end < len(text) and text[end] not in ",}]":
            end += 1
        self.pos = end
        return _scalar(text[pos:end].strip())

    def array(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while True:
            self.skip_ws()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return items
            items.append(self.value())
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise GemmaError("expected `,` or `]` in a list")


def _scalar(word: str) -> Any:
    if not word:
        raise GemmaError("a value was missing")
    lowered = word.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    if _NUMBER.match(word):
        return float(word) if any(c in word for c in ".eE") else int(word)
    return word  # a bare word: keep it as text; the schema decides its type
