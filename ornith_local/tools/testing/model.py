"""Structured test results: what run_tests returns and what triage consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["passed", "failed", "error", "skipped"]
# Runners whose results ornith reads test by test: for these, no executed test means nothing was checked.
COUNTING_RUNNERS = frozenset({"pytest", "unittest", "go", "cargo"})

# `File "x.py", line 3, in f` (Python), `x.py:3: in f` (pytest --tb=short), `x.go:3:` / `src/x.rs:3:5` (Go, Rust).
_PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?')
_SHORT_FRAME = re.compile(r"^\s*(?P<path>[\w./\\-]+\.\w+):(?P<line>\d+)(?::\d+)?:?(?: in (?P<func>\S+))?", re.M)


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str | None = None


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest test class, despite the name

    id: str  # the runner's own id: pytest node id, `pkg/TestName`, `module::test`
    outcome: Outcome
    file: str | None = None
    line: int | None = None
    duration_s: float = 0.0
    message: str = ""  # one line: the exception or assertion
    details: str = ""  # the traceback / failure output as the runner printed it
    frames: tuple[Frame, ...] = ()  # outermost first, as in a Python traceback


@dataclass
class TestReport:
    __test__ = False  # not a pytest test class, despite the name

    runner: str  # pytest | unittest | go | cargo | npm | custom
    command: str
    exit_code: int
    duration_s: float
    cases: list[TestCase] = field(default_factory=list)
    timed_out: bool = False
    error: str | None = None  # why there are no (or incomplete) results: timeout, collection error...
    output: str = ""  # the tail of stdout + stderr

    def count(self, outcome: Outcome) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {"passed": self.count("passed"), "failed": self.count("failed"), "errors": self.count("error"),
                "skipped": self.count("skipped")}

    @property
    def ran_nothing(self) -> bool:
        """The runner reports tests one by one and executed none (a pytest suite under `unittest discover`)."""
        return self.runner in COUNTING_RUNNERS and self.count("passed") + self.count("failed") == 0

    @property
    def ok(self) -> bool:
        """Passed: exit 0, no failing test, and at least one test executed where the runner can tell."""
        return self.exit_code == 0 and not self.timed_out and not self.ran_nothing and not any(
            case.outcome in {"failed", "error"} for case in self.cases)

    @property
    def failures(self) -> list[TestCase]:
        return [case for case in self.cases if case.outcome in {"failed", "error"}]


def parse_frames(text: str) -> tuple[Frame, ...]:
    """Source locations in a traceback or failure output, in the order printed."""
    frames: list[Frame] = []
    for line in text.splitlines():
        match = _PY_FRAME.search(line) or _SHORT_FRAME.match(line)
        if match:
            frames.append(Frame(match["path"], int(match["line"]), match["func"]))
    return tuple(frames)
