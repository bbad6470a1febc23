"""What the per-format call scanners share: their results and the lookahead helpers.

A scanner receives the text after a call's opening tag, growing chunk by chunk, and says either
"need more" (None) or how the call ended. Decisions only ever depend on the text seen so far plus
enough lookahead to be sure, so feeding the text in any split gives the same outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from ornith_local.llm.parsing.types import Problem


@dataclass
class RawCall:
    """A call before typing: arguments in the order written, duplicates kept."""

    name: str
    arguments: list[tuple[str, object]]
    raw: str
    format: str
    raw_text_values: bool = False  # True for XML: every value is raw text awaiting the schema's type
    problems: list[Problem] = field(default_factory=list)


@dataclass
class ScanOutcome:
    consumed: int  # characters of the body used, closing tag included
    calls: list[RawCall] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dropped: bool = False  # the text is not a call: it goes back to content


class CallScanner(Protocol):
    def advance(self, body: str, at_end: bool, start: int = 0) -> ScanOutcome | None:
        """`body[start:]` is the text after the opening tag so far; it only ever grows between calls, and
        `consumed` counts from `start` (the stream passes its whole buffer and where the call begins in it, so a
        call read at the end of a long output costs no copy of the rest)."""
        ...


def skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def could_become(text: str, pos: int, markers: tuple[str, ...]) -> bool:
    """True when text[pos:] is a proper prefix of one of the markers (more text may complete it)."""
    rest = text[pos:]
    return any(len(rest) < len(m) and m.startswith(rest) for m in markers)


def held_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that could still grow into a marker."""
    longest = max((len(m) for m in markers), default=0)
    for size in range(min(len(text), longest - 1), 0, -1):
        tail = text[-size:]
        if any(m.startswith(tail) for m in markers):
            return size
    return 0


_NAME_HINTS = (
    re.compile(r'"name"\s*:\s*"([^"\\]{1,100})"'),
    re.compile(r"<function=([\w.\-]{1,100})>"),
    re.compile(r"call:([\w.\-]{1,100})"),
)


def guess_name(text: str) -> str | None:
    """The tool name in a call that could not be read, so the problem can name it."""
    for pattern in _NAME_HINTS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def call_label(name: str | None) -> str:
    return f"your call to {name}" if name else "your tool call"


def truncated(body: str, what: str, closing: str) -> ScanOutcome:
    """The output ended inside a call: never a call (a half-written write_file must not run)."""
    label = call_label(guess_name(body))
    return ScanOutcome(
        consumed=len(body),
        dropped=True,
        problems=[Problem(
            "call_truncated",
            f"{label} was cut off {what} before its closing `{closing}` (the output ended); "
            "it was not run. Write the whole call again.",
        )],
    )


def missing_close(name: str, closing: str) -> Problem:
    return Problem(
        "missing_close_tag",
        f"your call to {name} was missing its closing `{closing}`; it was read anyway.",
        severity="warning",
    )
