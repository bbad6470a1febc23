"""The Scaffold: how the model plans to go about one task, as data.

Stage 1 asks the model for a Scaffold as JSON under a grammar built from `scaffold_json_schema()`, so
the text always parses. `clamp()` then makes it safe to run: a scaffold can narrow what the user
allowed, never widen it (tools, turns), and the clamp alone says what the run may spend: its `Budget`.
`fixed_scaffold()` is the hand-written baseline that `--scaffold fixed` runs instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

from ornith_local.tools.base import Effect

TaskKind = Literal["fix_bug", "feature", "refactor", "tests", "explain", "other"]
OnFailure = Literal["retry", "replan", "abort"]

# Hard ceilings no scaffold can exceed, whatever the user configured.
MAX_STEPS = 5
MAX_STEP_TOOLS = 5
MAX_STEP_TURNS = 20
MAX_REPLANS = 2  # new plans in one run (the same plan proposed again is no new plan)
MAX_RETRIES = 2
MAX_EXTRA_CHECKS = 2
# Even a model that fills every string to its limit ends the scaffold within this many tokens, so the
# grammar-constrained JSON always closes before the token limit (worst case measured ~750 tokens).
SCAFFOLD_MAX_TOKENS = 900
# Effects read-only mode removes from every step.
WRITE_EFFECTS: frozenset[Effect] = frozenset({"edit", "exec"})
# Tasks that change behaviour: when no test fails for the problem, their plan starts by showing it with a new test.
REPRODUCE_KINDS: frozenset[str] = frozenset({"fix_bug", "feature", "other"})


@dataclass(frozen=True)
class Step:
    name: str
    intent: str
    tools: tuple[str, ...]
    turn_budget: int
    exit_condition: str
    on_failure: OnFailure = "replan"
    max_retries: int = 1


@dataclass(frozen=True)
class ContextPolicy:
    # Observations older than this many turns are replaced by one-line summaries.
    summarize_after_turns: int = 6
    # An observation longer than this (in tokens) is cut, keeping its head and tail.
    max_observation_tokens: int = 1500


@dataclass(frozen=True)
class Budget:
    """What one plan may spend, set by the clamp: the run's model turns and wall time, and how many new plans
    may follow it. Each step's own turn cap is its clamped `turn_budget`."""

    turns: int
    wall_s: float
    replans: int = MAX_REPLANS

    def spent(self, turns: int, elapsed_s: float) -> bool:
        return turns >= self.turns or elapsed_s > self.wall_s


@dataclass(frozen=True)
class Scaffold:
    task_kind: TaskKind
    goal: str
    steps: tuple[Step, ...]
    # Extra shell commands that must exit 0 for success, on top of the runtime's own test command.
    acceptance_checks: tuple[str, ...] = ()
    context: ContextPolicy = field(default_factory=ContextPolicy)
    max_total_turns: int = 30  # what the model asked for; the clamp cuts it to the user's --max-turns

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def total_turn_budget(self) -> int:
        return sum(step.turn_budget for step in self.steps)


@dataclass(frozen=True)
class Permissions:
    """What the user allowed for this run; the ceiling `clamp()` cuts every scaffold down to."""

    tools: Mapping[str, Effect]  # the tools a step may choose (control tools are always there), by effect
    mode: Literal["read-only", "ask", "auto"] = "ask"
    max_turns: int = 40
    max_wall_s: int = 1800
    max_replans: int = MAX_REPLANS
    reproduce: bool = False  # no test fails for the problem yet: a change task first shows it with a new test


class ScaffoldError(ValueError):
    """A scaffold document that cannot be used even after clamping, worded for the model."""


def scaffold_json_schema(tool_names: list[str]) -> dict[str, Any]:
    """The JSON schema Stage 1 generates under; its grammar keeps every string and list bounded."""

    def text(limit: int) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": limit}

    step = {
        "type": "object",
        "properties": {
            "name": text(24),
            "intent": text(100),
            "tools": {"type": "array", "items": {"enum": sorted(tool_names)}, "minItems": 1,
                      "maxItems": MAX_STEP_TOOLS},
            "turn_budget": {"type": "integer", "minimum": 1, "maximum": MAX_STEP_TURNS},
            "exit_condition": text(80),
            "on_failure": {"enum": list(get_args(OnFailure))},
        },
        "required": ["name", "intent", "tools", "turn_budget", "exit_condition", "on_failure"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "task_kind": {"enum": list(get_args(TaskKind))},
            "goal": text(120),
            "steps": {"type": "array", "items": step, "minItems": 1, "maxItems": MAX_STEPS},
            "acceptance_checks": {"type": "array", "items": text(100), "maxItems": MAX_EXTRA_CHECKS},
            "context": {
                "type": "object",
                "properties": {
                    "summarize_after_turns": {"type": "integer", "minimum": 2, "maximum": 20},
                },
                "required": ["summarize_after_turns"],
                "additionalProperties": False,
            },
            "max_total_turns": {"type": "integer", "minimum": 1, "maximum": 60},
        },
        "required": ["task_kind", "goal", "steps", "acceptance_checks", "context", "max_total_turns"],
        "additionalProperties": False,
    }


def _as_int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def _choice(value: Any, allowed: tuple[str, ...], default: str) -> str:
    return value if isinstance(value, str) and value in allowed else default


def scaffold_from_json(data: Any) -> Scaffold:
    """Build a Scaffold from the model's JSON (already parsed); tolerant of small slips, strict on shape."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise ScaffoldError(f"the scaffold is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(data, dict):
        raise ScaffoldError("the scaffold must be a JSON object")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScaffoldError("the scaffold needs a non-empty list of steps")
    steps = []
    for index, raw in enumerate(raw_steps, start=1):
        if not isinstance(raw, dict):
            raise ScaffoldError(f"step {index} must be an object")
        tools = raw.get("tools")
        steps.append(Step(
            name=str(raw.get("name") or f"step-{index}")[:40],
            intent=str(raw.get("intent") or "")[:200],
            tools=tuple(str(tool) for tool in tools)[:MAX_STEP_TOOLS] if isinstance(tools, list) else (),
            turn_budget=_as_int(raw.get("turn_budget"), 5),
            exit_condition=str(raw.get("exit_condition") or "")[:200],
            on_failure=_choice(raw.get("on_failure"), get_args(OnFailure), "replan"),  # type: ignore[arg-type]
            max_retries=_as_int(raw.get("max_retries"), 1),
        ))
    raw_context = data.get("context")
    context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
    checks = data.get("acceptance_checks")
    return Scaffold(
        task_kind=_choice(data.get("task_kind"), get_args(TaskKind), "other"),  # type: ignore[arg-type]
        goal=str(data.get("goal") or "")[:200],
        steps=tuple(steps),
        acceptance_checks=tuple(str(c) for c in checks if isinstance(c, str)) if isinstance(checks, list) else (),
        context=ContextPolicy(summarize_after_turns=_as_int(context.get("summarize_after_turns"), 6)),
        max_total_turns=_as_int(data.get("max_total_turns"), Scaffold.max_total_turns),
    )


@dataclass(frozen=True)
class ClampResult:
    scaffold: Scaffold
    notes: tuple[str, ...]  # every change made, shown to the user with the scaffold
    budget: Budget


def clamp(scaffold: Scaffold, permissions: Permissions) -> ClampResult:
    """Cut the scaffold down to what the user allowed; never raise its powers."""
    notes: list[str] = []
    control = {name for name, effect in permissions.tools.items() if effect == "control"}
    allowed = {name for name, effect in permissions.tools.items() if effect != "control"}
    if permissions.mode == "read-only":
        allowed = {name for name in allowed if permissions.tools[name] not in WRITE_EFFECTS}
    steps: list[Step] = []
    cut: list[str] = []  # turn budgets cut down: one line for all of them (a low --max-turns cuts every step)
    for step in scaffold.steps[:MAX_STEPS]:
        tools = tuple(dict.fromkeys(tool for tool in step.tools if tool in allowed))
        dropped = sorted(set(step.tools) - set(tools) - control)
        if dropped:
            notes.append(f"step '{step.name}': removed tools not allowed in this run: {', '.join(dropped)}")
        if not tools:
            notes.append(f"step '{step.name}': no allowed tools left; step removed")
            continue
        turns = min(max(step.turn_budget, 1), MAX_STEP_TURNS, permissions.max_turns)
        if turns != step.turn_budget:
            cut.append(f"{step.name} {step.turn_budget} -> {turns}")
        retries = min(max(step.max_retries, 0), MAX_RETRIES)
        steps.append(replace(step, tools=tools, turn_budget=turns, max_retries=retries))
    if len(scaffold.steps) > MAX_STEPS:
        notes.append(f"only the first {MAX_STEPS} steps are kept")
    if permissions.reproduce and scaffold.task_kind in REPRODUCE_KINDS:
        steps = _with_reproduction(steps, permissions, allowed, notes)
    if not steps:
        raise ScaffoldError("no step of the scaffold can run with the tools allowed in this run")
    total = min(max(scaffold.max_total_turns, 1), permissions.max_turns)
    if total != scaffold.max_total_turns:
        cut.append(f"total {scaffold.max_total_turns} -> {total}")
    if cut:
        notes.append(f"turn budgets cut to the run's {permissions.max_turns} turns: {', '.join(cut)}")
    budget = Budget(turns=total, wall_s=max(permissions.max_wall_s, 30),
                    replans=min(max(permissions.max_replans, 0), MAX_REPLANS))
    checks = tuple(check for check in scaffold.acceptance_checks if check.strip())[:MAX_EXTRA_CHECKS]
    context = replace(
        scaffold.context,
        summarize_after_turns=min(max(scaffold.context.summarize_after_turns, 2), 20),
        max_observation_tokens=min(max(scaffold.context.max_observation_tokens, 200), 4000),
    )
    result = replace(scaffold, steps=tuple(steps), max_total_turns=total, acceptance_checks=checks, context=context)
    return ClampResult(result, tuple(notes), budget)


def reproduce_step(turns: int) -> Step:
    return Step("reproduce", "No test fails for this problem yet: write a NEW test file (tests/test_<topic>_repro.py) "
                "whose test fails on the current code because of the problem, and run it. Do not change the code yet.",
                ("read_file", "search", "write_file", "run_tests"), turns,
                "a new test fails on the untouched code for the reason the task describes", "replan")


def _with_reproduction(steps: list[Step], permissions: Permissions, allowed: set[str], notes: list[str]) -> list[Step]:
    """The steps with a reproduction before the first one that edits, unless the plan already has one: "verified"
    needs a test that failed before the change, and this is the moment the runtime can see one fail."""
    edits = {name for name, effect in permissions.tools.items() if effect == "edit"}
    first_edit = next((index for index, step in enumerate(steps) if edits & set(step.tools)), None)
    if first_edit is None or any(step.name.lower().startswith("reproduc") for step in steps[: first_edit + 1]):
        return steps
    step = reproduce_step(min(6, permissions.max_turns))
    tools = tuple(tool for tool in step.tools if tool in allowed)
    if not {"write_file", "run_tests"} <= set(tools):
        return steps
    notes.append(f"step 'reproduce' added before '{steps[first_edit].name}': no test fails for the problem yet, "
                 "and a new test that fails on the untouched code is the evidence a fix works")
    return [*steps[:first_edit], replace(step, tools=tools), *steps[first_edit:]]


def fixed_scaffold(task: str, extra_tools: tuple[str, ...] = ()) -> Scaffold:
    """The hand-written baseline: understand, change, verify. Same for every task, by design (the clamp adds the
    reproduction step when no test fails for the problem yet). `extra_tools` (the user's MCP tools) join every
    step: the user configured them to be used, and a fixed plan cannot know which step needs them."""
    return Scaffold(
        task_kind="other",
        goal=task.strip().splitlines()[0][:200] if task.strip() else "complete the task",
        steps=(
            # No repo_map here: the map is already in the task message, and small models re-request it in a loop.
            Step("understand", "Read the code the task is about and run the tests to see the problem.",
                 ("read_file", "search", "list_dir", "run_tests", *extra_tools), 8,
                 "you know which file and function to change", "replan"),
            Step("change", "Make the smallest edit that completes the task.",
                 ("read_file", "search", "edit_file", "write_file", *extra_tools), 8,
                 "the edit is made", "retry"),
            Step("verify", "Run the tests; fix what they show until they pass.",
                 ("run_tests", "read_file", "edit_file", "search", *extra_tools), 8,
                 "the tests pass", "abort"),
        ),
    )
