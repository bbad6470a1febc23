"""What happens in a run, as frozen typed events.

The loop emits them; the trajectory writes them (one JSON object a line), and everything that reads a
run back uses the same types: the CLI printer, the TUI renderer, `ornith sessions show/resume/export`.
Readers dispatch with `match event:`. `kind` is the JSON `type`; the names are those trajectories have
always used, so files written before the types existed still read back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = ""
    time: float = field(default=0.0, compare=False)  # set when read back; the trajectory stamps each line

    def to_json(self) -> dict[str, Any]:
        data = {item.name: getattr(self, item.name) for item in dataclasses.fields(self) if item.name != "time"}
        return {"type": self.kind, **data}


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "start"
    task: str
    mode: str = "ask"
    scaffold_mode: str = "self"
    backend: str = ""
    n_ctx: int = 0
    tools: list[dict[str, Any]] = field(default_factory=list)
    repo: str | None = None
    sandbox: str = "?"
    quirks: list[str] = field(default_factory=list)
    tests: str = ""  # what decides success: the test command and why, or why the tests cannot run
    thinking: int = 0  # the plan's and the verdict's thinking budget in tokens; 0: the model does not think first


@dataclass(frozen=True, kw_only=True)
class Baseline(Event):
    kind: ClassVar[str] = "baseline"
    failing: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    kind: ClassVar[str] = "resumed"
    finished_steps: list[str] = field(default_factory=list)
    turns: int = 0


@dataclass(frozen=True, kw_only=True)
class Proposed(Event):
    """Stage 1's request and reply (the scaffold as the model wrote it, before the clamp)."""

    kind: ClassVar[str] = "propose"
    prompt: str = ""
    text: str = ""
    examples: int = 0
    finish_reason: str = ""
    in_conversation: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ScaffoldChosen(Event):
    kind: ClassVar[str] = "scaffold"
    scaffold: dict[str, Any] = field(default_factory=dict)
    clamp_notes: list[str] = field(default_factory=list)
    resumed: bool = False
    fallback: str | None = None  # why the model's own scaffold was unusable (the fixed one runs instead)


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    kind: ClassVar[str] = "step_start"
    step: str
    index: int
    total: int


@dataclass(frozen=True, kw_only=True)
class ModelTurn(Event):
    kind: ClassVar[str] = "model_turn"
    step: str = ""
    turn: int = 0
    text: str = ""
    finish_reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    reflection: bool = False  # a plain-text turn asked for by the reflection quirk; its text is not parsed


@dataclass(frozen=True, kw_only=True)
class ToolCalled(Event):
    kind: ClassVar[str] = "tool_call"
    step: str = ""
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)  # the monitor's; a call with any is refused


@dataclass(frozen=True, kw_only=True)
class Approval(Event):
    kind: ClassVar[str] = "approval"
    tool: str
    answer: str


@dataclass(frozen=True, kw_only=True)
class ToolFinished(Event):
    kind: ClassVar[str] = "tool_result"
    tool: str
    ok: bool = True
    title: str = ""
    text: str = ""
    diff: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepEnded(Event):
    kind: ClassVar[str] = "step_end"
    step: str
    status: str  # done | replan | failed
    summary: str = ""
    turns: int = 0


@dataclass(frozen=True, kw_only=True)
class Replanned(Event):
    kind: ClassVar[str] = "replan"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class QuirkApplied(Event):
    """A model quirk changed what the loop did (see agent/quirks.py): which one, and what it did."""

    kind: ClassVar[str] = "quirk"
    quirk: str
    step: str = ""
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class MessageAdded(Event):
    """Every message of the conversation, so a run can be resumed or exported as chat data."""

    kind: ClassVar[str] = "message"
    role: str
    content: str
    tool_call_id: str | None = None
    name: str | None = None
    reasoning: str | None = None  # kept apart by a server's reasoning parser
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # parsed by the server (OpenAI shape)


@dataclass(frozen=True, kw_only=True)
class Compacted(Event):
    kind: ClassVar[str] = "compacted"
    tokens_before: int = 0
    budget: int = 0


@dataclass(frozen=True, kw_only=True)
class Checkpointed(Event):
    kind: ClassVar[str] = "checkpoint"
    id: str
    repo: str = ""


@dataclass(frozen=True, kw_only=True)
class ChecksRan(Event):
    kind: ClassVar[str] = "checks"
    checks: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] | None = None  # agent/evidence.py Evidence.to_json()


@dataclass(frozen=True, kw_only=True)
class Reproduction(Event):
    """The runtime ran a new test written while the code was untouched: whether it shows the problem."""

    kind: ClassVar[str] = "reproduction"
    path: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class HookRan(Event):
    """A user's hook command ran (agent/hooks.py): at which event, for which tool, and what came of it."""

    kind: ClassVar[str] = "hook"
    hook_event: str  # SessionStart | UserPromptSubmit | PreToolUse | PostToolUse | Stop
    command: str
    tool: str = ""
    status: str = "ok"  # ok | blocked (the call was refused) | feedback (told the model) | error | timeout
    exit_code: int = 0
    detail: str = ""  # the reason, the model's feedback, or what went wrong, in one line
    duration_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Judged(Event):
    kind: ClassVar[str] = "judge"
    verdict: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RunEnded(Event):
    kind: ClassVar[str] = "end"
    outcome: str
    reason: str = ""  # why it ended so: the step that aborted, the error, the judge's veto...
    turns: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    findings: list[dict[str, Any]] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    error: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)  # every check, as ChecksRan has them
    evidence: dict[str, Any] | None = None  # fail-to-pass, regressions, coverage, what verified still lacks
    judge: dict[str, str] | None = None  # the judge's verdict and reason, when it reviewed the diff


@dataclass(frozen=True, kw_only=True)
class AttemptsRanked(Event):
    """N attempts of one task ran in their own worktrees (attempts.py): each one's outcome, which was applied to
    the user's tree and why. Each attempt dict: number, session_id, outcome, reason, judge, diffstat,
    files_changed, evidence, checkpoint (the ref holding its final tree, so it can be applied later)."""

    kind: ClassVar[str] = "attempts"
    attempts: list[dict[str, Any]] = field(default_factory=list)
    chosen: int | None = None  # the applied attempt's number; None: none was applied
    reason: str = ""
    base: str = ""  # the git tree the attempts started from (the user's tree then): each diff is against it


@dataclass(frozen=True, kw_only=True)
class Prefilling(Event):
    """The model is still reading a long prompt (no token yet): shown live, never written to the trajectory."""

    kind: ClassVar[str] = "prefill"
    evaluated: int
    total: int
    elapsed_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SetupWarning(Event):
    """Something the run starts without (an MCP server that did not start): shown live, never written to the
    trajectory, which begins with the run itself."""

    kind: ClassVar[str] = "warning"
    text: str


@dataclass(frozen=True, kw_only=True)
class Writing(Event):
    """The model is writing text that is not streamed (the plan's JSON, the judge's verdict): shown live, never
    written to the trajectory. `tokens` counts the pieces generated so far."""

    kind: ClassVar[str] = "writing"
    what: str  # "the plan", "the review"
    tokens: int
    elapsed_s: float = 0.0

    @property
    def counted(self) -> str:
        return f"{self.tokens:,} token{'s' * (self.tokens != 1)}"


EVENT_TYPES: dict[str, type[Event]] = {cls.kind: cls for cls in (
    RunStarted, Baseline, Resumed, Proposed, ScaffoldChosen, StepStarted, ModelTurn, ToolCalled, Approval,
    ToolFinished, StepEnded, Replanned, QuirkApplied, MessageAdded, Compacted, Checkpointed, ChecksRan, Reproduction,
    Judged, RunEnded, HookRan, AttemptsRanked,
)}


def from_json(data: dict[str, Any]) -> Event | None:
    """The event a JSON object describes; None for a type this version does not know (skipped by readers).

    Unknown keys are dropped and missing ones take their defaults: trajectories outlive the code that wrote them.
    """
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        return None
    names = {item.name for item in dataclasses.fields(cls)}
    try:
        return cls(**{key: value for key, value in data.items() if key in names})
    except TypeError:  # a required field is missing: not an event this version can use
        return None
