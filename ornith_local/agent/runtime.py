"""The runtime: propose a scaffold, run it step by step as a state machine, verify, guard, record.

Read it top to bottom: `run()` is the whole life of a task; `_run_step()` is one step's tool-calling
loop. Everything it talks to (model, tools, checks, git, approvals) comes in through `AgentDeps`, so
the same loop runs under the CLI, the TUI, the benchmarks and the tests.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ornith_local.agent import prompts
from ornith_local.agent.context import Conversation
from ornith_local.agent.deps import AgentDeps, AgentOptions, CheckResult
from ornith_local.agent.guard import Finding, GuardPolicy, check_call, check_diff, check_test_setup
from ornith_local.agent.propose import propose_scaffold
from ornith_local.agent.scaffold import (
    EDIT_TOOLS,
    Scaffold,
    ScaffoldError,
    Step,
    fixed_scaffold,
    scaffold_from_json,
)
from ornith_local.agent.sessions import ResumeState
from ornith_local.llm.backend import BackendError, GenerateOptions, Message
from ornith_local.llm.parsing import parse_output
from ornith_local.llm.parsing.loose import kept_reply, loose_tool_calls
from ornith_local.tools.base import call_tool, function_spec
from ornith_local.tools.testing.integrity import changes_since_start

Outcome = Literal["verified", "failed", "flagged", "aborted", "error"]
# Worded after trajectories of a 1.5B model, which called replan to report what it had found: step_done
# says that findings belong in its summary, replan that it is for a plan that cannot work.
CONTROL_SPECS = (
    {"type": "function", "function": {
        "name": "step_done", "description": "Finish the current step and go on to the next one.",
        "parameters": {"type": "object", "properties": {"summary": {
            "type": "string", "description": "one sentence: what you found or changed in this step"}},
            "required": ["summary"]}}},
    {"type": "function", "function": {
        "name": "replan", "description": "Only when the plan itself cannot work: drop it and ask for a new one.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]}}},
)
NO_PROGRESS_TURNS = 3  # consecutive turns without a usable tool call end the step as failed
MAX_REPEATS = 3  # calls refused as repeats in one step before the step ends as failed
UNSTUCK_TEMPERATURE = 0.8  # the turn after a repeated call or a turn without one samples at least this warm
REFLECT_TOKENS = 160


@dataclass
class StepOutcome:
    status: Literal["done", "replan", "failed", "abort"]
    summary: str
    turns: int


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


class Runtime:
    def __init__(self, deps: AgentDeps, options: AgentOptions) -> None:
        self.deps = deps
        self.options = options
        self.policy = GuardPolicy(protect_tests=not options.allow_test_edits, withheld=options.withheld)
        self.findings: list[Finding] = []
        self.turns = 0
        self.tokens = {"prompt": 0, "evaluated": 0, "generated": 0}
        self.started = time.monotonic()
        self.approved_always: set[str] = set()
        # The conversation of the scaffold that ended in a replan: the next scaffold continues it, so what
        # the model read stays in context (and in the KV cache) instead of being read again.
        self.carried: list[Message] = []
        # Loop breaking: a call made again in the same step with nothing changed since (no write, no
        # compaction) would only repeat its result, which is still in context; small models alternate two
        # reads. A new step may look again (a 1.5B model re-reads a file before editing it, then edits well).
        self.writes = 0
        self.step_runs = 0
        self.replan_from = 0  # where the same plan goes on after a replan
        self.seen: dict[str, tuple[int, int, int]] = {}

    # --- the whole task ---------------------------------------------------------------------------

    def run(self, task: str, resume: ResumeState | None = None) -> RunResult:
        deps, options = self.deps, self.options
        if resume is None:
            self._log("start", task=task, mode=options.mode, scaffold_mode=options.scaffold_mode,
                      backend=deps.backend.name, n_ctx=deps.backend.n_ctx, tools=self._specs(), repo=options.repo,
                      sandbox=deps.sandbox_tier)
            already_failing = deps.verifier.baseline()
            if already_failing:
                self._log("baseline", failing=already_failing)
        else:
            self.turns = resume.turns
            self._log("resumed", finished_steps=resume.finished_steps, turns=resume.turns)
        scaffolds: list[Scaffold] = []
        steps: list[tuple[str, StepOutcome]] = []
        history: str | None = None
        outcome: Outcome = "failed"
        new_plans = 0  # replans that changed the plan: only those count against max_replans
        try:
            # Every pass runs at least one model turn, so the run's turn budget ends the loop; the bound is a backstop.
            for attempt in range(options.max_replans + options.max_turns + 1):
                carry_on = resume if attempt == 0 and resume is not None and resume.scaffold else None
                if carry_on is not None:
                    scaffold, notes = deps.clamp(scaffold_from_json(carry_on.scaffold))
                    self._log("scaffold", scaffold=scaffold.to_json(), clamp_notes=list(notes), resumed=True)
                else:
                    scaffold = self._scaffold_for(task, history)
                start = 0
                if scaffolds and _same_plan(scaffolds[-1], scaffold):
                    # Trajectories of a 1.5B model: it called replan to report what it had found, proposed the
                    # same plan again and redid the same reads until the budget ran out. The same plan goes on
                    # from the step that replanned (see `replan_from`), and is not a new plan.
                    start = self.replan_from
                    self._log("same_plan", continue_at=start + 1)
                elif scaffolds:
                    new_plans += 1
                scaffolds.append(scaffold)
                result = self._run_scaffold(task, scaffold, steps, carry_on, history, start)
                # No new plan once the run's turns or time are spent: it could not take a single step.
                if result.status != "replan" or new_plans >= options.max_replans or self._out_of_budget(scaffold):
                    outcome = "aborted" if result.status == "abort" else "failed"
                    break
                history = "\n".join(f"- {name}: {step.status}: {step.summary}" for name, step in steps[-4:])
                self._log("replan", reason=result.summary)
            checks = deps.verifier.verify(scaffolds[-1].acceptance_checks if scaffolds else ())
        except (ScaffoldError, BackendError) as error:
            # A plan that cannot be used, or a model call that failed (a prompt that cannot fit, a server gone):
            # the run ends as an error with the reason, its trajectory complete.
            return self._finish(task, "error", scaffolds, steps, [], error=str(error))
        self._log("checks", checks=[check.to_json() for check in checks])
        diff = deps.workspace.diff()
        self.findings += check_diff(diff, self.policy, deps.workspace.test_literals())
        root = getattr(deps.workspace, "root", None)  # test setup changes, git-ignored files included
        if isinstance(root, Path):
            self.findings += check_test_setup(changes_since_start(root))
        passed = bool(checks) and all(check.passed for check in checks)
        if any(finding.flags_run for finding in self.findings):
            outcome = "flagged"
        elif passed:  # the runtime's checks decide, whatever the steps said
            outcome = "verified"
        judge = None
        if outcome == "verified" and options.use_judge and diff.strip():
            judge = deps.judge(task, diff)
            self._log("judge", **judge)
            if judge.get("verdict") == "veto":
                outcome = "failed"
        return self._finish(task, outcome, scaffolds, steps, checks, judge=judge)

    def _scaffold_for(self, task: str, history: str | None) -> Scaffold:
        if self.options.scaffold_mode == "fixed":
            scaffold, notes = self.deps.clamp(fixed_scaffold(task))
        else:
            try:
                proposal = propose_scaffold(self.deps, self.options, task, history, self._account,
                                            tool_specs=self._specs(), conversation=self.carried)
                scaffold, notes = proposal.scaffold, proposal.notes
                self.carried = [*self.carried, *proposal.exchange] if self.carried else []
            except ScaffoldError as error:
                # A model that cannot plan still gets the task done the baseline way; the report says so.
                self._log("scaffold_fallback", reason=str(error))
                scaffold, notes = self.deps.clamp(fixed_scaffold(task))
                notes = (f"the model's scaffold was unusable ({error}); using the fixed scaffold", *notes)
        self._log("scaffold", scaffold=scaffold.to_json(), clamp_notes=list(notes))
        return scaffold

    # --- one scaffold: its steps in order ---------------------------------------------------------

    def _run_scaffold(self, task: str, scaffold: Scaffold, steps: list[tuple[str, StepOutcome]],
                      resume: ResumeState | None = None, history: str | None = None, start: int = 0) -> StepOutcome:
        conversation = Conversation(
            self.deps.backend, scaffold.context, log=lambda event, data: self._log(event, **data)
        )
        if resume is not None:  # pick up the conversation where the interrupted run left it
            for message in resume.messages:
                conversation.add(Message(message["role"], message["content"], tool_call_id=message.get("tool_call_id"),
                                         name=message.get("name")))
        elif self.carried:  # a replan: same conversation, new plan (messages are logged again for resume/export)
            for carried in self.carried:
                conversation.add(carried)
            conversation.add(Message("user", prompts.new_plan_message(scaffold, history)))
        else:
            conversation.add(Message("system", prompts.SYSTEM))
            conversation.add(Message("user", prompts.task_message(
                task, scaffold, self.deps.repo_map(task), self.deps.instructions)))
        last = StepOutcome("done", "no steps", 0)
        index = len(resume.finished_steps) if resume is not None else start
        while index < len(scaffold.steps):
            step = scaffold.steps[index]
            retries = 0
            while True:
                self._log("step_start", step=step.name, index=index + 1, total=len(scaffold.steps))
                last = self._run_step(conversation, step, index + 1, len(scaffold.steps), scaffold)
                steps.append((step.name, last))
                self._log("step_end", step=step.name, status=last.status, summary=last.summary, turns=last.turns)
                if last.status != "failed" or step.on_failure != "retry" or retries >= step.max_retries:
                    break
                retries += 1
            # If the same plan comes back: a step that only looked has read what it could, whether it replanned to
            # report it or ran out of turns, so the plan goes on (run again, it made a 1.5B model redo the same
            # reads three times); an editing step that replanned ("the edit did not fix it") or ran out of turns
            # runs again.
            looked_only = last.status in ("replan", "failed") and not EDIT_TOOLS & set(step.tools)
            self.replan_from = index + 1 if looked_only else index
            if last.status == "failed":
                last = replace(last, status="replan" if step.on_failure == "replan" else "abort")
            if last.status == "replan" and self.options.scaffold_mode == "fixed":
                # The fixed plan is the only plan: replanning would rerun it from the first step. Go on to the
                # next step instead, with the reason (often what the model found) kept in the conversation.
                self._log("replan_as_next_step", step=step.name, reason=last.summary)
                last = replace(last, status="done")
            if last.status in ("replan", "abort") or self._out_of_budget(scaffold):
                self.carried = list(conversation.messages) if last.status == "replan" else []
                return last
            if self._reflects(step, scaffold.steps[index + 1:]):
                self._reflect(conversation, step, last.turns + 1)
            index += 1
        return last

    @staticmethod
    def _reflects(step: Step, later: tuple[Step, ...]) -> bool:
        """A step that only looks, followed by one that edits: the hand-over where small models lose the thread."""
        return not EDIT_TOOLS & set(step.tools) and any(EDIT_TOOLS & set(other.tools) for other in later)

    def _reflect(self, conversation: Conversation, step: Step, turn: int) -> None:
        """One plain-text turn: what must change, in the model's words, before the editing step begins.

        Trajectories of a 1.5B model: asked in a tool-calling turn, it read and searched but never said (or
        used) what was wrong; asked this question after reading, it named the faulty line and the fix, and
        then made exactly that edit. The answer stays in the conversation for the steps that follow.
        """
        self.turns += 1
        conversation.add(Message("user", prompts.REFLECT))
        completion = conversation.reply(GenerateOptions(
            max_tokens=REFLECT_TOKENS, tools=tuple(self._specs()), seed=self.options.seed,
            temperature=self.options.temperature, max_reasoning_tokens=self.options.max_reasoning_tokens))
        self._account(completion.stats)
        # A model turn like any other (resume counts them), marked as the reflection; its text is not parsed.
        self._log("model_turn", step=step.name, turn=turn, text=completion.text, finish_reason=completion.finish_reason,
                  stats=_stats_json(completion.stats), problems=[], reflection=True)

    # --- one step: the tool-calling loop ----------------------------------------------------------

    def _run_step(self, conversation: Conversation, step: Step, number: int, total: int,
                  scaffold: Scaffold) -> StepOutcome:
        self.step_runs += 1
        conversation.add(Message("user", prompts.step_message(number, total, step)))
        specs = self._specs()
        idle_turns = repeats = 0
        stuck = False  # the last turn repeated a call or made none
        replan_questioned = False
        budget, turn = step.turn_budget, 0
        while turn < budget:
            turn += 1
            if self._out_of_budget(scaffold):
                return StepOutcome("failed", "the run's turn or time budget is spent", turn - 1)
            self.turns += 1
            temperature, seed = self.options.temperature, self.options.seed
            if stuck:
                # Greedy (or near-greedy) decoding answers a refusal with the very same call, turn after turn;
                # sampling warmer, with a seed of its own, lets the model take another path. Still reproducible.
                temperature, seed = max(temperature or 0.0, UNSTUCK_TEMPERATURE), seed + self.turns
            try:
                completion = conversation.reply(GenerateOptions(
                    max_tokens=self.options.max_tokens_per_turn, tools=tuple(specs), seed=seed,
                    temperature=temperature, max_reasoning_tokens=self.options.max_reasoning_tokens),
                    self.deps.on_text, keep=lambda text: kept_reply(text, specs))
            except BackendError:
                self.turns -= 1  # the call failed: no turn was taken
                raise
            self._account(completion.stats)
            parsed = parse_output(completion.text, format=self.options.tool_call_format, tools=specs)
            if not parsed.tool_calls and not parsed.errors:
                recovered = loose_tool_calls(completion.text, specs)
                if recovered is not None:
                    self._log("loose_tool_call", step=step.name, turn=turn)
                    parsed = recovered
            self._log("model_turn", step=step.name, turn=turn, text=completion.text,
                      finish_reason=completion.finish_reason, stats=_stats_json(completion.stats),
                      problems=[problem.message for problem in parsed.problems])
            usable = [call for call in parsed.tool_calls if call.valid]
            feedback = [problem.message for problem in parsed.errors]
            stuck = not usable
            if not usable:
                idle_turns += 1
                if idle_turns >= NO_PROGRESS_TURNS:
                    return StepOutcome("failed", "no usable tool call in several turns", turn)
                conversation.add(Message("user", "\n".join(feedback) or prompts.NO_TOOL_CALL))
                continue
            idle_turns = 0
            observations: list[str] = []
            for call in usable:
                call_id = f"call_{self.turns}_{call.index}"
                if call.name == "replan" and self.options.scaffold_mode == "self" and not replan_questioned:
                    # A new plan costs a whole Stage 1 and starts the steps over. Trajectories of a 1.5B model:
                    # it ended nearly every step with replan to report what it had found, spent the run's
                    # replans on the same plan and stopped with turns to spare. Asked once, it goes on.
                    replan_questioned = True
                    if turn == budget:  # asked on the step's last turn: the answer gets a turn of its own
                        budget += 1
                    self._log("replan_questioned", step=step.name, reason=str(call.arguments.get("reason", ""))[:300])
                    conversation.add(Message("tool", prompts.CONFIRM_REPLAN, tool_call_id=call_id, name=call.name))
                    break
                if call.name in EDIT_TOOLS and self._reflects(step, scaffold.steps[number:]):
                    # The model has seen what to change and wants to change it while the plan still says look.
                    # Refused, a 1.5B model answered with replan (in self mode, a whole Stage 1 for nothing):
                    # it is ready for the editing step, so this step is done. The call is not run here.
                    self._log("step_ahead", step=step.name, tool=call.name)
                    conversation.add(Message("tool", prompts.STEP_AHEAD.format(tool=call.name), tool_call_id=call_id,
                                             name=call.name))
                    return StepOutcome("done", f"ready to change the code ({call.name})", turn)
                if call.name in ("step_done", "replan"):
                    # Answer the call like any other, so the transcript stays a valid tool-calling chat.
                    conversation.add(Message("tool", f"{call.name}: noted", tool_call_id=call_id, name=call.name))
                    status: Literal["done", "replan"] = "done" if call.name == "step_done" else "replan"
                    note = call.arguments.get("summary" if status == "done" else "reason", "")
                    return StepOutcome(status, str(note)[:300], turn)
                key = call.name + json.dumps(call.arguments, sort_keys=True)
                state = (self.writes, conversation.compactions, self.step_runs)
                if self.seen.get(key) == state:
                    repeats += 1
                    stuck = True
                    text = prompts.REPEATED_CALL
                    self._log("loop_broken", step=step.name, tool=call.name)
                else:
                    text = self._execute(call.name, dict(call.arguments), step)
                    if call.name in self.options.write_tools:
                        self.writes += 1
                    self.seen[key] = (self.writes, conversation.compactions, self.step_runs)
                observations.append(text)
                conversation.add(Message("tool", text, tool_call_id=call_id, name=call.name))
                if repeats >= MAX_REPEATS:
                    return StepOutcome("failed", "the same calls again, with nothing changed in between", turn)
            if feedback:
                conversation.add(Message("user", "\n".join(feedback)))
            if turn == budget - 1:
                conversation.add(Message("user", prompts.BUDGET_LEFT.format(left=1)))
        return StepOutcome("failed", f"turn budget of {step.turn_budget} spent", turn)

    def _execute(self, tool_name: str, arguments: dict[str, Any], step: Step) -> str:
        findings = check_call(tool_name, arguments, step.tools, self.policy)
        self._log("tool_call", step=step.name, tool=tool_name, arguments=arguments,
                  findings=[f.to_json() for f in findings])
        if findings:
            self.findings += findings
            return "refused: " + "; ".join(f"{f.detail}" + (f" ({f.path})" if f.path else "") for f in findings)
        tool = self.deps.tools.get(tool_name)
        if tool is None:
            return f"error: there is no tool named {tool_name}"
        if tool_name in self.options.needs_approval and tool_name not in self.approved_always:
            answer = self.deps.approve(tool_name, arguments)
            self._log("approval", tool=tool_name, answer=answer)
            if answer == "no":
                return "refused: the user declined this call"
            if answer == "always":
                self.approved_always.add(tool_name)
        if tool_name in self.options.write_tools:
            self.deps.workspace.ensure_checkpoint()
        result = call_tool(tool, arguments)
        self._log("tool_result", tool=tool_name, ok=result.ok, title=result.title, text=result.text,
                  diff=result.diff)
        return result.text

    # --- bookkeeping ------------------------------------------------------------------------------

    def _specs(self) -> list[dict[str, Any]]:
        # Every tool of the run in every turn: a stable prompt prefix keeps the KV cache valid across
        # steps; the step's allow-list is enforced by the monitor and named in the step message.
        return [*(function_spec(tool) for tool in self.deps.tools.values()), *CONTROL_SPECS]

    def _out_of_budget(self, scaffold: Scaffold) -> bool:
        over_turns = self.turns >= min(scaffold.limits.max_total_turns, self.options.max_turns)
        return over_turns or time.monotonic() - self.started > scaffold.limits.max_wall_s

    def _account(self, stats: Any) -> None:
        self.tokens["prompt"] += stats.prompt_tokens
        self.tokens["evaluated"] += stats.evaluated_prompt_tokens
        self.tokens["generated"] += stats.generated_tokens

    def _log(self, event: str, **data: Any) -> None:
        self.deps.trajectory.record(event, **data)
        self.deps.emit(event, data)

    def _finish(self, task: str, outcome: Outcome, scaffolds: list[Scaffold], steps: list[tuple[str, StepOutcome]],
                checks: list[CheckResult], *, judge: dict[str, str] | None = None,
                error: str | None = None) -> RunResult:
        result = RunResult(
            session_id=self.deps.trajectory.session_id, outcome=outcome, scaffolds=scaffolds, steps=steps,
            checks=checks, findings=self.findings, judge=judge, turns=self.turns, tokens=dict(self.tokens),
            elapsed_s=round(time.monotonic() - self.started, 2), files_changed=self.deps.workspace.changed_files(),
            error=error,
        )
        self._log("end", outcome=outcome, turns=self.turns, tokens=result.tokens, elapsed_s=result.elapsed_s,
                  findings=[f.to_json() for f in self.findings], files_changed=result.files_changed, error=error)
        if self.deps.library is not None and scaffolds:
            self.deps.library.add(session_id=result.session_id, task=task, task_kind=scaffolds[-1].task_kind,
                                  scaffold=scaffolds[-1].to_json(), outcome=outcome, turns=self.turns)
        return result


def _stats_json(stats: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": stats.prompt_tokens, "evaluated_prompt_tokens": stats.evaluated_prompt_tokens,
        "generated_tokens": stats.generated_tokens, "time_to_first_token_s": round(stats.time_to_first_token_s, 4),
        "total_s": round(stats.total_s, 4),
    }


def _same_plan(before: Scaffold, after: Scaffold) -> bool:
    """The same steps with the same tools: a new proposal that changes nothing the runtime acts on."""
    def shape(scaffold: Scaffold) -> list[tuple[str, frozenset[str]]]:
        return [(step.name, frozenset(step.tools)) for step in scaffold.steps]
    return shape(before) == shape(after)
