"""What a triage produces: suspects, clusters of failures, and the report every output format renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# failures: red tests, clustered and localized. all-passed: nothing to do. no-suite: no test command
# found. no-tests: the suite ran but collected nothing. import-error: the suite could not even load.
# timeout: the suite hung (partial results where the runner left any). error: the command did not run.
Status = Literal["failures", "all-passed", "no-suite", "no-tests", "import-error", "timeout", "error"]
ClusterKind = Literal["raises", "wrong-value", "collection", "hang"]

SIGNALS = ("sbfl", "traceback", "git")


@dataclass
class Suspect:
    path: str  # relative to the repo root, forward slashes
    symbol: str  # `Class.method` or `function`
    line: int  # the most suspicious line: best SBFL line, else the traceback line, else the `def`
    score: float  # combined, 0..1
    start_line: int
    end_line: int
    signals: dict[str, float] = field(default_factory=dict)  # sbfl, traceback, git: each 0..1
    failed: int = 0  # failing tests that executed `line` (0 without coverage)
    passed: int = 0  # passing tests that executed `line`
    why: str = ""  # one line for a person

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.path, self.symbol, self.start_line)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "symbol": self.symbol, "line": self.line, "score": round(self.score, 4),
                "start_line": self.start_line, "end_line": self.end_line,
                "signals": {name: round(value, 4) for name, value in self.signals.items()},
                "failed_covering": self.failed, "passed_covering": self.passed, "why": self.why}


@dataclass
class Explanation:
    cause: str
    suspect: str | None = None  # "path::symbol" the model blames, when it names one of ours
    confidence: str = ""
    patch: str | None = None  # a unified diff, proposed and never applied
    patch_applies: bool | None = None  # `git apply --check` on the proposed patch
    model: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause, "suspect": self.suspect, "confidence": self.confidence, "patch": self.patch,
                "patch_applies": self.patch_applies, "model": self.model, "seconds": round(self.seconds, 2)}


@dataclass
class Cluster:
    signature: str  # e.g. "ZeroDivisionError: division by zero @ pkg/stats.py:mean"
    kind: ClusterKind
    exception: str  # the exception type, or "AssertionError"
    message: str  # one representative message
    tests: list[str] = field(default_factory=list)  # node ids
    location: str | None = None  # "path:line" of the innermost project frame, when it raised there
    suspects: list[Suspect] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # signatures merged in (same top suspect)
    details: str = ""  # one representative traceback, as the runner printed it
    explanation: Explanation | None = None

    def to_json(self) -> dict[str, Any]:
        return {"signature": self.signature, "kind": self.kind, "exception": self.exception,
                "message": self.message, "location": self.location, "tests": self.tests,
                "variants": self.variants, "suspects": [s.to_json() for s in self.suspects],
                "explanation": self.explanation.to_json() if self.explanation else None}


@dataclass
class TriageReport:
    root: str
    status: Status
    summary: str  # one line for a person: what happened
    test_command: str | None = None
    runner: str | None = None
    tests: dict[str, int] = field(default_factory=lambda: {"passed": 0, "failed": 0, "errors": 0, "skipped": 0})
    clusters: list[Cluster] = field(default_factory=list)
    suspects: list[Suspect] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # tests_s, analysis_s, model_s, total_s
    coverage: bool = False  # per-test coverage was recorded (SBFL ran)
    notes: list[str] = field(default_factory=list)  # degraded signals, skipped model, truncated output
    output_tail: str = ""  # the runner's last output, for timeouts and import errors
    sandbox_tier: str = ""

    @property
    def exit_code(self) -> int:
        """0 all green, 1 red (failures, import errors, a hang), 3 nothing could be tested."""
        if self.status == "all-passed":
            return 0
        if self.status in {"no-suite", "no-tests", "error"}:
            return 3
        return 1

    def to_json(self) -> dict[str, Any]:
        return {
            "test_command": self.test_command, "status": self.status, "summary": self.summary,
            "runner": self.runner, "root": self.root, "tests": dict(self.tests),
            "clusters": [c.to_json() for c in self.clusters], "suspects": [s.to_json() for s in self.suspects],
            "timings": {name: round(value, 3) for name, value in self.timings.items()},
            "coverage": self.coverage, "sandbox_tier": self.sandbox_tier, "notes": self.notes,
            # What the runner printed last, where it matters: it hung, could not import, or did not run.
            "output_tail": self.output_tail if self.status in {"timeout", "import-error", "error", "no-tests"} else "",
        }
