"""Crutches for weak models, each a small switch. The clean loop runs without any of them.

Every quirk here was added after trajectories of a small model (Qwen2.5-Coder 1.5B on 2 CPU cores) went
wrong in one particular way. Each is enabled per model in the `[quirks]` table of its `models/*.toml`
(with that model's wording where it has one) and can be switched on or off for a benchmark run
(`benchmarks/agent_suite.py --quirks none|catalog|NAME...`), so it stays only while it pays.

A quirk overrides some of the hooks of `Quirk`; `Quirks` runs the enabled ones in catalog order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from ornith_local.agent.control import LoopSignal, StepDone, StepFailed
from ornith_local.agent.state import StepState
from ornith_local.llm.backend import GenerateOptions
from ornith_local.llm.parsing import ParsedOutput, ToolCall
from ornith_local.llm.parsing.loose import kept_reply, loose_tool_calls
from ornith_local.tools.base import Effect


class QuirkError(ValueError):
    """A [quirks] table that names an unknown quirk or setting, worded as one line."""


@dataclass(frozen=True)
class Intercept:
    """A call a quirk answers instead of running it: the answer, and what the loop does next."""

    answer: str
    detail: str  # for the trajectory: what the quirk did
    signal: LoopSignal | None = None  # end the step so
    rest_of_turn: bool = True  # False: the turn's remaining calls are dropped


AskPlainly = Callable[["StepState", str, int], str]  # (state, prompt, max tokens) -> the model's plain answer


class Quirk:
    """No-op hooks; a quirk overrides the ones it needs. `settings` come from the model's [quirks] table."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **settings: Any) -> None:
        unknown = set(settings) - set(self.defaults)
        if unknown:
            raise QuirkError(f"quirk {self.name}: unknown setting(s) {', '.join(sorted(unknown))}")
        self.settings = {**self.defaults, **settings}

    def before_step(self, state: StepState) -> None: ...

    def before_turn(self, state: StepState, options: GenerateOptions) -> GenerateOptions:
        return options

    def keep_reply(self, text: str, specs: Sequence[dict[str, Any]]) -> str:
        return text

    def on_reply(self, state: StepState, text: str, parsed: ParsedOutput,
                 specs: Sequence[dict[str, Any]]) -> ParsedOutput | None:
        """A better reading of the reply, or None."""
        return None

    def on_call(self, state: StepState, call: ToolCall, effect: Effect | None) -> Intercept | None:
        return None

    def after_turn(self, state: StepState) -> str | None:
        """A note to the model after a turn's calls ran, or None."""
        return None

    def after_step(self, state: StepState, ask: AskPlainly) -> str | None:
        """Between a finished step and the next one of the same plan; what it did, or None."""
        return None

    def on_new_plan(self, same_plan: bool, stopped_at: int, looked_only: bool) -> int | None:
        """Where a new plan starts when a step asked to replan; None: at its first step, as a new plan."""
        return None


class Reflection(Quirk):
    """Between a step that only looks and a later one that edits: one plain-text turn, "what must change?".

    Asked in a tool-calling turn, a 1.5B model read and searched but never said (or used) what was wrong;
    asked this after reading, it named the faulty line and the fix, then made exactly that edit.
    """

    name = "reflection"
    defaults: ClassVar[dict[str, Any]] = {
        "prompt": "Before the next step, answer without a tool call: what exactly must change for the task? Name "
                  "the file and the line, and say what it should be. One or two sentences.",
        "max_tokens": 160,
    }

    def after_step(self, state: StepState, ask: AskPlainly) -> str | None:
        if state.edits or not state.edit_later:
            return None
        answer = ask(state, str(self.settings["prompt"]), int(self.settings["max_tokens"]))
        return f"asked what must change: {answer[:120]}"


class QuestionedReplan(Quirk):
    """A replan is questioned once per step. A 1.5B model ended nearly every step with replan to report what it
    had found; each cost a whole Stage 1. Asked once, it goes on (asked on the step's last turn, the answer gets
    one more turn)."""

    name = "questioned_replan"
    defaults: ClassVar[dict[str, Any]] = {
        "prompt": "replan: not yet. A new plan starts the steps over. If you found or changed something, call "
                  "step_done(summary) and say it there; keep working if this step is not done. Call replan again "
                  "only if this plan cannot work.",
    }

    def before_step(self, state: StepState) -> None:
        self.asked = False

    def on_call(self, state: StepState, call: ToolCall, effect: Effect | None) -> Intercept | None:
        if call.name != "replan" or not state.can_replan or self.asked:
            return None
        self.asked = True
        if state.turn == state.cap:
            state.cap += 1
        return Intercept(str(self.settings["prompt"]), f"asked whether the plan really cannot work "
                         f"({str(call.arguments.get('reason', ''))[:200]})", rest_of_turn=False)


class StepAhead(Quirk):
    """An edit in a step that only looks, with an editing step to come, ends the looking step (the edit is not
    run). Refused instead, a 1.5B model answered with replan: a whole Stage 1 for nothing."""

    name = "step_ahead"
    defaults: ClassVar[dict[str, Any]] = {
        "prompt": "{tool}: not run yet. This step only looks; a later step changes the code, so this step is done. "
                  "You will make the change there.",
    }

    def on_call(self, state: StepState, call: ToolCall, effect: Effect | None) -> Intercept | None:
        if effect != "edit" or state.edits or not state.edit_later:
            return None
        return Intercept(str(self.settings["prompt"]).format(tool=call.name), f"{call.name} ends the looking step",
                         signal=StepDone(f"ready to change the code ({call.name})"))


class RepeatBreaker(Quirk):
    """A call made again in the same step with nothing changed since (no write, no compaction) is answered, not
    run: its result is still in context. Small models alternate two reads; the third repeat ends the step."""

    name = "repeat_breaker"
    defaults: ClassVar[dict[str, Any]] = {
        "prompt": "You already made this exact call and nothing has changed since: its result is above. Do "
                  "something different, or call step_done(summary) to go on to the next step.",
        "max_repeats": 3,
    }

    def before_step(self, state: StepState) -> None:
        self.seen: dict[str, tuple[int, int]] = {}
        self.writes = self.repeats = 0

    def on_call(self, state: StepState, call: ToolCall, effect: Effect | None) -> Intercept | None:
        if effect == "control":
            return None
        key = call.name + json.dumps(call.arguments, sort_keys=True)
        if self.seen.get(key) == (self.writes, state.conversation.compactions):
            self.repeats += 1
            state.stuck = True
            ended = self.repeats >= int(self.settings["max_repeats"])
            return Intercept(str(self.settings["prompt"]), f"{call.name} repeated, not run again",
                             signal=StepFailed("the same calls again, with nothing changed in between") if ended
                             else None)
        if effect in ("edit", "exec"):
            self.writes += 1
        self.seen[key] = (self.writes, state.conversation.compactions)
        return None


class UnstuckSampling(Quirk):
    """The turn after a repeated call or a turn without one samples warmer, with a seed of its own: greedy
    decoding answers a refusal with the very same call, turn after turn. Still reproducible."""

    name = "unstuck_sampling"
    defaults: ClassVar[dict[str, Any]] = {"temperature": 0.8}

    def before_turn(self, state: StepState, options: GenerateOptions) -> GenerateOptions:
        if not state.stuck:
            return options
        warmer = max(options.temperature or 0.0, float(self.settings["temperature"]))
        return replace(options, temperature=warmer, seed=options.seed + state.run_turn)


class LooseCalls(Quirk):
    """Calls written as bare or fenced JSON instead of the model's call markup are understood (Qwen2.5-Coder
    1.5B writes ```json {"name", "arguments"}```)."""

    name = "loose_calls"

    def on_reply(self, state: StepState, text: str, parsed: ParsedOutput,
                 specs: Sequence[dict[str, Any]]) -> ParsedOutput | None:
        if parsed.tool_calls or parsed.errors:
            return None
        return loose_tool_calls(text, list(specs))


class DropTextAfterCall(Quirk):
    """What a model writes after its tool calls is not kept in the conversation: Qwen2.5-Coder 1.5B went on to
    write the next step's instructions itself, then followed them."""

    name = "drop_text_after_call"

    def keep_reply(self, text: str, specs: Sequence[dict[str, Any]]) -> str:
        return kept_reply(text, list(specs))


class BudgetNag(Quirk):
    """One turn before a step's budget runs out, the model is told so (small models lose count)."""

    name = "budget_nag"
    defaults: ClassVar[dict[str, Any]] = {"prompt": "({left} turns left in this step.)"}

    def after_turn(self, state: StepState) -> str | None:
        return str(self.settings["prompt"]).format(left=1) if state.turn == state.cap - 1 else None


class SamePlanGoesOn(Quirk):
    """The same plan proposed again after a replan is no new plan: it goes on after a step that only looked (it
    has read what it could) and runs an editing step again. A 1.5B model called replan to report what it found,
    proposed the same plan and redid the same reads until its budget ran out."""

    name = "same_plan_goes_on"

    def on_new_plan(self, same_plan: bool, stopped_at: int, looked_only: bool) -> int | None:
        if not same_plan:
            return None
        return stopped_at + 1 if looked_only else stopped_at


CATALOG: dict[str, type[Quirk]] = {cls.name: cls for cls in (
    QuestionedReplan, StepAhead, RepeatBreaker, UnstuckSampling, LooseCalls, DropTextAfterCall, BudgetNag,
    Reflection, SamePlanGoesOn,
)}


@dataclass
class Quirks:
    """The enabled quirks of a run, in catalog order; with none, every hook is the clean loop's."""

    enabled: list[Quirk] = field(default_factory=list)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], only: Iterable[str] | None = None) -> Quirks:
        """From a model's [quirks] table: `name = true`, or `name = { setting = value }` (its wording...).
        `only`: keep just these names (a benchmark's --quirks NAME...), with the table's settings if it has any."""
        unknown = (set(table) | set(only or ())) - set(CATALOG)
        if unknown:
            raise QuirkError(f"unknown quirk(s): {', '.join(sorted(unknown))} (known: {', '.join(CATALOG)})")
        wanted = set(only) if only is not None else {name for name, value in table.items() if value is not False}
        quirks = []
        for name, quirk in CATALOG.items():
            if name in wanted:
                settings = table.get(name)
                quirks.append(quirk(**(settings if isinstance(settings, dict) else {})))
        return cls(quirks)

    @property
    def names(self) -> list[str]:
        return [quirk.name for quirk in self.enabled]

    def before_step(self, state: StepState) -> None:
        for quirk in self.enabled:
            quirk.before_step(state)

    def before_turn(self, state: StepState, options: GenerateOptions) -> GenerateOptions:
        for quirk in self.enabled:
            options = quirk.before_turn(state, options)
        return options

    def keep_reply(self, text: str, specs: Sequence[dict[str, Any]]) -> str:
        for quirk in self.enabled:
            text = quirk.keep_reply(text, specs)
        return text

    def on_reply(self, state: StepState, text: str, parsed: ParsedOutput,
                 specs: Sequence[dict[str, Any]]) -> tuple[ParsedOutput, str | None]:
        for quirk in self.enabled:
            better = quirk.on_reply(state, text, parsed, specs)
            if better is not None:
                return better, quirk.name
        return parsed, None

    def on_call(self, state: StepState, call: ToolCall, effect: Effect | None) -> tuple[Intercept, str] | None:
        for quirk in self.enabled:
            intercept = quirk.on_call(state, call, effect)
            if intercept is not None:
                return intercept, quirk.name
        return None

    def after_turn(self, state: StepState) -> list[str]:
        return [note for quirk in self.enabled if (note := quirk.after_turn(state)) is not None]

    def after_step(self, state: StepState, ask: AskPlainly) -> list[tuple[str, str]]:
        return [(quirk.name, done) for quirk in self.enabled if (done := quirk.after_step(state, ask)) is not None]

    def on_new_plan(self, same_plan: bool, stopped_at: int, looked_only: bool) -> tuple[int, str] | None:
        for quirk in self.enabled:
            start = quirk.on_new_plan(same_plan, stopped_at, looked_only)
            if start is not None:
                return start, quirk.name
        return None
