"""What the loop keeps while it runs (one step's state) and what it hands back (the run's result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ornith_local.agent.context import Conversation
from ornith_local.agent.evidence import Evidence
from ornith_local.agent.scaffold import Scaffold, Step
from ornith_local.agent.verifier import CheckResult
from ornith_local.guard.monitor import Finding

# verified: the change is shown to fix what failed (agent/evidence.py); unverified: the checks pass, but nothing
# showed the problem or exercised the change.
Outcome = Literal["verified", "unverified", "failed", "flagged", "aborted", "error"]


@dataclass(frozen=True)
class StepOutcome:
    status: Literal["done", "replan", "failed"]
    summary: str
    turns: int


@dataclass
class StepState:
    """One run of one step: everything its turns and the quirks read or change."""

    step: Step
    number: int  # 1-based, in its plan
    total: int
    conversation: Conversation
    cap: int  # the step's turn budget (a quirk may give one more turn)
    edits: bool  # the step may edit files
    edit_later: bool  # a later step of the plan may
    can_replan: bool
    turn: int = 0
    run_turn: int = 0  # the run's turn count at this turn
    idle: int = 0  # turns in a row without a usable call
    stuck: bool = False  # the last turn made no usable call, or repeated one


@dataclass
class RunResult:
    session_id: str
    outcome: Outcome
    scaffolds: list[Scaffold]
    steps: list[tuple[str, StepOutcome]]
    checks: list[CheckResult]
    findings: list[Finding]
    judge: dict[str, str] | None
    turns: int
    tokens: dict[str, int]
    elapsed_s: float
    files_changed: list[str] = field(default_factory=list)
    error: str | None = None
    reason: str = ""  # why the run ended as it did, in one line
    evidence: Evidence | None = None  # what the final checks showed (None: the run ended before them)
