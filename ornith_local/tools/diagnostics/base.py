"""What a diagnostic is, what produces them, and which of them an edit introduced.

A `DiagnosticsSource` checks one file's text (the syntax check, a linter through its language server, a
type checker) and returns `Diagnostic`s. An edit is judged by comparing the text before it with the text
after it: only the findings that are new are worth the model's attention, since the ones the file already
had are not its doing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

Severity = Literal["error", "warning"]


class DiagnosticsTimeout(Exception):
    """A source did not answer before the edit's deadline; the edit goes on without its findings."""

    def __init__(self, starting: bool = False) -> None:
        super().__init__("still starting" if starting else "no answer")
        self.starting = starting  # its server was still starting up: the next edit may well find it ready


class SourceUnavailable(Exception):
    """A source cannot run here (its server would not start, it crashed): it is dropped for the rest of the run."""


@dataclass(frozen=True)
class Diagnostic:
    line: int  # 1-based
    column: int  # 1-based
    message: str
    source: str  # "syntax", "ruff", "pyright", ...
    code: str = ""  # the tool's rule code (F821, reportUndefinedVariable); "" when it has none
    severity: Severity = "error"

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two findings the same finding, wherever the edit moved it to."""
        return self.source, self.code, self.message

    def format(self, rel: str) -> str:
        code = f" {self.code}" if self.code else ""
        return f"{rel}:{self.line}:{self.column}: {self.severity}{code}: {self.message} ({self.source})"


@runtime_checkable
class DiagnosticsSource(Protocol):
    """One producer of findings for some files; it may keep a server warm between calls until `close()`."""

    name: str

    def applies(self, path: Path) -> bool:
        """Whether this source has anything to say about the file at `path` (by language and project config)."""
        ...

    def check(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        """The findings for `text` as the content of `path`; raises DiagnosticsTimeout past `deadline`
        (a `time.monotonic()` value) and SourceUnavailable when it cannot run at all."""
        ...

    def close(self) -> None: ...


def new_since(before: Iterable[Diagnostic], after: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The findings of `after` that `before` did not have, in line order, each once.

    Findings are matched by source, code and message, not by line: an edit above an old finding moves it,
    and it is still old. Counted as a multiset, so a second copy of an old finding is new.
    """
    old = Counter(diagnostic.key for diagnostic in before)
    fresh: list[Diagnostic] = []
    shown: set[tuple[int, int, str, str, str]] = set()
    for diagnostic in sorted(after, key=lambda d: (d.line, d.column)):
        place = (diagnostic.line, diagnostic.column, *diagnostic.key)
        if place in shown:
            continue  # the same finding twice at one place (a server repeating itself)
        shown.add(place)
        if old[diagnostic.key] > 0:
            old[diagnostic.key] -= 1
            continue
        fresh.append(diagnostic)
    return fresh


@dataclass(frozen=True)
class DiagnosticsReport:
    """What the checks said about one edit: the new findings (capped) and what could not be checked in time."""

    rel: str
    new: tuple[Diagnostic, ...] = ()
    more: int = 0  # new findings beyond the cap
    timed_out: tuple[str, ...] = ()  # sources that did not answer within the budget ("pyright (still starting)")
    budget_s: float = 0.0
    # The file parsed when the run first touched it and still does not: said again after every edit, since
    # silence after an edit reads as "fixed" (a model repeating the breaking edit heard nothing the second time).
    still_broken: tuple[Diagnostic, ...] = ()

    @property
    def unparseable(self) -> bool:
        return any(diagnostic.source == "syntax" for diagnostic in (*self.new, *self.still_broken))

    def text(self) -> str:
        """The lines appended to the edit's result; empty when there is nothing to say."""
        lines: list[str] = []
        if self.new:
            count = len(self.new) + self.more
            lines.append(f"new problems in {self.rel} after this change ({count}); fix them before going on:")
            lines += [f"  {diagnostic.format(self.rel)}" for diagnostic in self.new]
            if self.more:
                lines.append(f"  … and {self.more} more")
        elif self.still_broken:
            lines.append(f"{self.rel} still does not parse after this change; fix it before going on:")
            lines += [f"  {diagnostic.format(self.rel)}" for diagnostic in self.still_broken]
        if self.timed_out:
            lines.append(f"diagnostics timed out ({', '.join(self.timed_out)}: no answer within "
                         f"{self.budget_s:g} s); the edit was made")
        return "\n".join(lines)


def capped(diagnostics: Sequence[Diagnostic], limit: int) -> tuple[tuple[Diagnostic, ...], int]:
    """The first `limit` findings (errors before warnings, then by line) and how many were left out."""
    ordered = sorted(diagnostics, key=lambda d: (d.severity != "error", d.line, d.column))
    return tuple(ordered[:limit]), max(len(ordered) - limit, 0)
