"""Where plans come from. The loop asks its planner for a plan, and for another when a step asks to replan.

`FixedPlanner` is the hand-written baseline (`--scaffold fixed`): one plan, so it cannot replan, and a
step's replan goes on to the next step. `SelfPlanner` has the model write each plan (Stage 1), and falls
back to the fixed plan when the model's scaffold is unusable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ornith_local.agent.propose import ProposalFailed, StageOne, propose_scaffold
from ornith_local.agent.scaffold import Budget, ClampResult, Scaffold, fixed_scaffold
from ornith_local.llm.backend import GenerationStats, Message


@dataclass(frozen=True)
class Plan:
    scaffold: Scaffold
    budget: Budget
    notes: tuple[str, ...] = ()  # what the clamp changed
    exchange: tuple[Message, ...] = ()  # the planning request and reply, which the conversation goes on from
    fallback: str | None = None  # why the model's own plan was not used
    stats: GenerationStats | None = None  # what planning cost

    def same_shape(self, other: Plan) -> bool:
        """The same steps with the same tools: to the loop, the same plan (only the wording changed)."""
        def shape(plan: Plan) -> list[tuple[str, frozenset[str]]]:
            return [(step.name, frozenset(step.tools)) for step in plan.scaffold.steps]
        return shape(self) == shape(other)

    @classmethod
    def of(cls, clamped: ClampResult, exchange: tuple[Message, ...] = (),
           stats: GenerationStats | None = None) -> Plan:
        return cls(clamped.scaffold, clamped.budget, clamped.notes, exchange=exchange, stats=stats)


class Planner(Protocol):
    @property
    def can_replan(self) -> bool: ...

    def plan(self, task: str, history: str | None = None, conversation: Sequence[Message] = ()) -> Plan:
        """A plan for `task`; `history` and `conversation` say what happened under the plans before it."""
        ...


@dataclass(frozen=True)
class FixedPlanner:
    stage: StageOne
    extra_tools: tuple[str, ...] = ()  # the run's MCP tools, offered in every step

    @property
    def can_replan(self) -> bool:
        return False

    def plan(self, task: str, history: str | None = None, conversation: Sequence[Message] = ()) -> Plan:
        return Plan.of(self.stage.clamp(fixed_scaffold(task, self.extra_tools)))


@dataclass(frozen=True)
class SelfPlanner:
    stage: StageOne
    extra_tools: tuple[str, ...] = ()  # for the fixed plan it falls back on

    @property
    def can_replan(self) -> bool:
        return True

    def plan(self, task: str, history: str | None = None, conversation: Sequence[Message] = ()) -> Plan:
        try:
            proposal = propose_scaffold(self.stage, task, history, conversation)
        except ProposalFailed as error:
            # A model that cannot plan still gets the task done the baseline way; the report says so.
            fixed = self.stage.clamp(fixed_scaffold(task, self.extra_tools))
            notes = (f"the model's scaffold was unusable ({error}); using the fixed scaffold", *fixed.notes)
            return Plan(fixed.scaffold, fixed.budget, notes, fallback=str(error), stats=error.stats)
        return Plan.of(proposal.clamped, exchange=proposal.exchange, stats=proposal.stats)
