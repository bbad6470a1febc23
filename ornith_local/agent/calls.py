"""One tool call of a step, from the model's request to the text it gets back.

In order: a quirk may answer it instead; the control tools (`step_done`, `replan`) are answered and then end the
step by their signal; any other call goes past the monitor (the step's allow-list, protected paths), the user's
hooks and the approval prompt, gets a git checkpoint before its first change, runs, and its result goes through
the hooks again. A new test written while the code is untouched is run by the runtime to see whether it shows the
problem (the verifier records that as evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ornith_local.agent import events
from ornith_local.agent.control import ReplanTool, StepDoneTool
from ornith_local.agent.deps import AgentDeps
from ornith_local.agent.scaffold import Step
from ornith_local.agent.state import StepState
from ornith_local.guard.monitor import Finding, check_call
from ornith_local.llm.backend import Message
from ornith_local.llm.parsing import ToolCall
from ornith_local.tools.base import call_tool
from ornith_local.tools.registry import ToolRegistry


class CallRunner:
    """Answers the calls of a run; the monitor's findings accumulate in `findings` (the run's guard reads them)."""

    def __init__(self, deps: AgentDeps, tools: ToolRegistry, emit: Callable[[events.Event], None]) -> None:
        self.deps, self.tools, self.emit = deps, tools, emit
        self.findings: list[Finding] = []

    def answer(self, state: StepState, call: ToolCall, call_id: str) -> bool:
        """Answer one call (run, refused, or answered by a quirk); False drops the turn's remaining calls."""
        effect = self.tools.effect_of(call.name)
        intercepted = self.deps.quirks.on_call(state, call, effect)
        if intercepted is not None:
            answer, quirk = intercepted
            self.emit(events.QuirkApplied(quirk=quirk, step=state.step.name, detail=answer.detail))
            state.conversation.add(Message("tool", answer.answer, tool_call_id=call_id, name=call.name))
            if answer.signal is not None:
                raise answer.signal
            return answer.rest_of_turn
        tool = self.tools.get(call.name)
        if isinstance(tool, StepDoneTool | ReplanTool):  # answered like any call (a valid chat), then acted on
            state.conversation.add(Message("tool", tool.run(call.arguments).text, tool_call_id=call_id, name=call.name))
            raise tool.signal(call.arguments)
        text = self.execute(state.step, call.name, dict(call.arguments))
        state.conversation.add(Message("tool", text, tool_call_id=call_id, name=call.name))
        return True

    def execute(self, step: Step, name: str, arguments: dict[str, Any]) -> str:
        deps = self.deps
        effect = self.tools.effect_of(name)
        findings = check_call(name, effect, arguments, step.tools, deps.policy, deps.workspace.is_new_file)
        self.emit(events.ToolCalled(step=step.name, tool=name, arguments=arguments,
                                    findings=[f.to_json() for f in findings]))
        if findings:
            self.findings += findings
            return "refused: " + "; ".join(f"{f.detail}" + (f" ({f.path})" if f.path else "") for f in findings)
        tool = self.tools.get(name)
        if tool is None:
            return f"error: there is no tool named {name}"
        if (refusal := deps.hooks.before_tool(name, arguments, self.emit)) is not None:
            return f"refused by hook: {refusal}"
        if deps.approvals.required(name, effect):
            answer = deps.approvals.decide(name, tool.preview(arguments))
            self.emit(events.Approval(tool=name, answer=answer))
            if answer == "no":
                return "refused: the user declined this call"
        if effect in ("edit", "exec"):
            deps.workspace.ensure_checkpoint()
        result = call_tool(tool, arguments)
        self.emit(events.ToolFinished(tool=name, ok=result.ok, title=result.title, text=result.text, diff=result.diff))
        if note := deps.hooks.after_tool(name, arguments, result, self.emit):
            result = replace(result, text=f"{result.text}\n{note}")
        path = arguments.get("path")
        if effect == "edit" and result.ok and isinstance(path, str) and (
                seen := deps.verifier.after_edit(path, deps.workspace)):
            self.emit(events.Reproduction(path=path, detail=seen))
            return f"{result.text}\n{seen}"
        return result.text
