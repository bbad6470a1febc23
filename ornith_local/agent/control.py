"""step_done and replan: real tools, offered in every step, whose effect is to steer the loop.

Calling one answers the call like any other (the transcript stays a valid tool-calling chat), then the
loop acts on its signal: the step ends, or the plan is given up for a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ornith_local.agent.context import Conversation
from ornith_local.tools.base import CallPreview, Effect, ToolResult, plain_preview

NOTE_CHARS = 300


class LoopSignal(Exception):
    """Control flow of the loop: raised out of a step, caught where the plan or the run decides what next."""

    status: ClassVar[Literal["done", "replan", "failed"]] = "failed"  # a step ended by it ends with this status

    def __init__(self, note: str = "") -> None:
        super().__init__(note)
        self.note = note


class StepDone(LoopSignal):
    """The step's work is done (the model said so, or a quirk decided it)."""

    status = "done"


class ReplanRequested(LoopSignal):
    """The model says the plan cannot work."""

    status = "replan"


class StepFailed(LoopSignal):
    """The step cannot go on: its turns are spent, or the model makes no usable call."""


class RunSpent(LoopSignal):
    """The run's turn or time budget is spent: no step and no new plan can start."""


class PlanStopped(LoopSignal):
    """A step of the plan asked to replan (or failed with on_failure=replan): where, and the conversation so far."""

    def __init__(self, note: str, index: int, conversation: Conversation, *, looked_only: bool) -> None:
        super().__init__(note)
        self.index, self.conversation, self.looked_only = index, conversation, looked_only


# Their schemas allow extra keys: a small model's step_done with a stray argument still ends the step.
# Worded after trajectories of a 1.5B model, which called replan to report what it had found: step_done
# says that findings belong in its summary, replan that it is for a plan that cannot work.
@dataclass
class StepDoneTool:
    name: str = "step_done"
    description: str = "Finish the current step and go on to the next one."
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {"summary": {
        "type": "string", "description": "one sentence: what you found or changed in this step"}},
        "required": ["summary"]})
    effect: ClassVar[Effect] = "control"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        return ToolResult(True, f"{self.name}: noted", title="step done")

    def signal(self, args: Mapping[str, Any]) -> LoopSignal:
        return StepDone(str(args.get("summary", ""))[:NOTE_CHARS])


@dataclass
class ReplanTool:
    name: str = "replan"
    description: str = "Only when the plan itself cannot work: drop it and ask for a new one."
    parameters: dict[str, Any] = field(default_factory=lambda: {
        "type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]})
    effect: ClassVar[Effect] = "control"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        return ToolResult(True, f"{self.name}: noted", title="replan")

    def signal(self, args: Mapping[str, Any]) -> LoopSignal:
        return ReplanRequested(str(args.get("reason", ""))[:NOTE_CHARS])


ControlTool = StepDoneTool | ReplanTool


def control_tools() -> list[ControlTool]:
    return [StepDoneTool(), ReplanTool()]
