"""The agent loop: plan -> steps -> verify -> guard -> judge. Read it top to bottom.

`run()` is the whole life of a task. A plan's steps run in order; each step is a tool-calling loop that
ends by a signal (agent/control.py): the step is done, asks to replan, or failed. A failed step does what
its plan says (retry, replan, abort). Then the loop's own checks decide success, the monitor looks for
gaming and the judge may veto. Weak models' crutches are hooks (agent/quirks.py), off unless the model's
catalog entry switches them on; everything from the world comes in through `AgentDeps`.
"""

from __future__ import annotations

import time

from ornith_local.agent import events, prompts
from ornith_local.agent.calls import CallRunner
from ornith_local.agent.context import Conversation
from ornith_local.agent.control import (
    LoopSignal,
    ReplanRequested,
    RunSpent,
    StepDone,
    StepFailed,
    control_tools,
)
from ornith_local.agent.deps import AgentDeps, AgentOptions, stats_json
from ornith_local.agent.outcome import decide
from ornith_local.agent.planners import Plan
from ornith_local.agent.scaffold import Scaffold, ScaffoldError, scaffold_from_json
from ornith_local.agent.sessions import ResumeState
from ornith_local.agent.state import Outcome, RunResult, StepOutcome, StepState
from ornith_local.agent.verifier import Verification
from ornith_local.guard.monitor import check_diff, check_test_setup
from ornith_local.llm.backend import BackendError, GenerateOptions, GenerationStats, Message
from ornith_local.llm.parsing import ParsedOutput, parse_output, parse_server_calls

NO_PROGRESS_TURNS = 3  # consecutive turns without a usable tool call end the step as failed


class Aborted(LoopSignal):
    """A step failed and its plan says abort."""


class Loop:
    def __init__(self, deps: AgentDeps, options: AgentOptions) -> None:
        self.deps, self.options = deps, options
        self.tools = deps.tools.with_tools(control_tools())
        # Every tool of the run in every turn: a stable prompt prefix keeps the KV cache valid across steps;
        # the step's allow-list is enforced by the monitor and named in the step message.
        self.specs = self.tools.specs()
        self.edit_tools = self.tools.named("edit")
        self.calls = CallRunner(deps, self.tools, self._emit)  # its findings are the run's guard findings
        self.scaffolds: list[Scaffold] = []
        self.steps: list[tuple[str, StepOutcome]] = []
        self.turns = 0
        self.tokens = {"prompt": 0, "evaluated": 0, "generated": 0}
        self.started = time.monotonic()

    # --- the whole task: plan, steps, verify, guard, judge -----------------------------------------

    def run(self, task: str, resume: ResumeState | None = None) -> RunResult:
        self._begin(task, resume)
        if (refusal := self.deps.hooks.at_start(task, resume is not None, self._emit)) is not None:
            return self._finish(task, "aborted", None, reason=f"refused by hook: {refusal}")
        try:
            outcome, reason = self._work(task, resume)
            verification = self.deps.verifier.verify(
                self.scaffolds[-1].acceptance_checks if self.scaffolds else (), self.deps.workspace)
        except (ScaffoldError, BackendError) as error:
            # A plan that cannot be used, or a model call that failed (a prompt that cannot fit, a server gone):
            # the run ends as an error with the reason, its trajectory complete.
            return self._finish(task, "error", None, reason=str(error), error=str(error))
        self._emit(events.ChecksRan(checks=[check.to_json() for check in verification.checks],
                                    evidence=verification.evidence.to_json()))
        diff = self.deps.workspace.diff()
        self.calls.findings += check_diff(diff, self.deps.policy, self.deps.workspace.test_literals())
        self.calls.findings += check_test_setup(self.deps.workspace.test_setup_changes())

        judge = self.deps.judge
        verdict = decide(outcome, reason, verification, self.calls.findings,
                         (lambda: judge(task, diff)) if judge is not None else None)
        if verdict.judge is not None:
            self._emit(events.Judged(verdict=verdict.judge.get("verdict", ""), reason=verdict.judge.get("reason", "")))
        return self._finish(task, verdict.outcome, verification, reason=verdict.reason, judge=verdict.judge)

    def _work(self, task: str, resume: ResumeState | None) -> tuple[Outcome, str]:
        """Plans and their steps until the last plan is done, aborted, or the budget is spent."""
        plan, start, conversation = self._first_plan(task, resume)
        new_plans = 0
        while True:
            try:
                self._run_steps(plan, conversation, start)
                return "failed", ""  # the steps are done; the checks will say whether the task is
            except Aborted as abort:
                return "aborted", abort.note
            except RunSpent as spent:
                return "failed", spent.note
            except _PlanStopped as stopped:
                if new_plans >= plan.budget.replans:
                    return "failed", f"a step asked for a new plan ({stopped.note}); the run's replans are used"
                if plan.budget.spent(self.turns, self._elapsed()):
                    return "failed", "the run's turn or time budget is spent"
                history = "\n".join(f"- {name}: {step.status}: {step.summary}" for name, step in self.steps[-4:])
                self._emit(events.Replanned(reason=stopped.note))
                carried = list(stopped.conversation.messages)
                new = self._plan(task, history, carried)
                same = _shape(new.scaffold) == _shape(plan.scaffold)
                goes_on = self.deps.quirks.on_new_plan(same, stopped.index, stopped.looked_only)
                if goes_on is not None:
                    start, quirk = goes_on
                    self._emit(events.QuirkApplied(quirk=quirk, detail=f"the same plan goes on at step {start + 1}"))
                else:
                    start, new_plans = 0, new_plans + 1
                plan = new
                conversation = self._conversation(plan, [*carried, *plan.exchange, Message(
                    "user", prompts.new_plan_message(plan.scaffold, history))])

    def _first_plan(self, task: str, resume: ResumeState | None) -> tuple[Plan, int, Conversation]:
        if resume is not None and resume.scaffold:  # pick up the conversation where the interrupted run left it
            clamped = self.deps.clamp(scaffold_from_json(resume.scaffold))
            plan = Plan.of(clamped)
            self._emit(events.ScaffoldChosen(scaffold=plan.scaffold.to_json(), clamp_notes=list(plan.notes),
                                             resumed=True))
            self.scaffolds.append(plan.scaffold)
            messages = [Message(m["role"], m["content"], reasoning=m.get("reasoning"),
                                tool_calls=tuple(m.get("tool_calls") or ()), tool_call_id=m.get("tool_call_id"),
                                name=m.get("name")) for m in resume.messages]
            return plan, len(resume.finished_steps), self._conversation(plan, messages)
        plan = self._plan(task, None, [])
        opening = [Message("system", prompts.SYSTEM), Message("user", prompts.task_message(
            task, plan.scaffold, self.deps.repo_map(task), self.deps.instructions))]
        return plan, 0, self._conversation(plan, opening)

    def _plan(self, task: str, history: str | None, conversation: list[Message]) -> Plan:
        plan = self.deps.planner.plan(task, history, conversation)
        if plan.stats is not None:
            self._account(plan.stats)
        self._emit(events.ScaffoldChosen(scaffold=plan.scaffold.to_json(), clamp_notes=list(plan.notes),
                                         fallback=plan.fallback))
        self.scaffolds.append(plan.scaffold)
        return plan

    # --- one plan: its steps in order ----------------------------------------------------------------

    def _run_steps(self, plan: Plan, conversation: Conversation, start: int) -> None:
        steps = plan.scaffold.steps
        for index in range(start, len(steps)):
            step, later = steps[index], steps[index + 1 :]
            for attempt in range(step.max_retries + 1):
                state = StepState(step, index + 1, len(steps), conversation, step.turn_budget,
                                  edits=bool(self.edit_tools & set(step.tools)),
                                  edit_later=any(self.edit_tools & set(other.tools) for other in later),
                                  can_replan=self.deps.planner.can_replan)
                status, note = self._step(plan, state)
                if status != "failed" or step.on_failure != "retry" or attempt == step.max_retries:
                    break
            if status == "failed" and step.on_failure != "replan":
                then = "its retries are spent" if step.on_failure == "retry" else "its plan says abort"
                raise Aborted(f"step '{step.name}' failed ({note}) and {then}")
            if status != "done" and self.deps.planner.can_replan:
                raise _PlanStopped(note, index, conversation, looked_only=not state.edits)
            # A plan that cannot change (the fixed one) goes on to the next step, with the reason in the conversation.
            if plan.budget.spent(self.turns, self._elapsed()):
                raise RunSpent("the run's turn or time budget is spent")
            if later:
                for quirk, detail in self.deps.quirks.after_step(state, self._ask_plainly):
                    self._emit(events.QuirkApplied(quirk=quirk, step=step.name, detail=detail))

    def _step(self, plan: Plan, state: StepState) -> tuple[str, str]:
        """Run one step to its end; its status ("done", "replan", "failed") and summary, recorded once."""
        self._emit(events.StepStarted(step=state.step.name, index=state.number, total=state.total))
        self.deps.quirks.before_step(state)
        try:
            self._turns(plan, state)
        except StepDone as done:
            status, note = "done", done.note
        except ReplanRequested as replan:
            status, note = "replan", replan.note
        except StepFailed as failed:
            status, note = "failed", failed.note
        except RunSpent as spent:
            self._end_step(state, "failed", spent.note)
            raise
        self._end_step(state, status, note)
        return status, note

    def _end_step(self, state: StepState, status: str, note: str) -> None:
        outcome = StepOutcome(status, note, state.turn)  # type: ignore[arg-type]
        self.steps.append((state.step.name, outcome))
        self._emit(events.StepEnded(step=state.step.name, status=status, summary=note, turns=state.turn))

    # --- one step: the tool-calling turns --------------------------------------------------------------

    def _turns(self, plan: Plan, state: StepState) -> None:
        """Turns until a signal ends the step; its turn budget spent is a failure."""
        conversation = state.conversation
        conversation.add(Message("user", prompts.step_message(state.number, state.total, state.step)))
        while state.turn < state.cap:
            if plan.budget.spent(self.turns, self._elapsed()):
                raise RunSpent("the run's turn or time budget is spent")
            state.turn, state.run_turn = state.turn + 1, self.turns + 1
            parsed = self._model_turn(state)
            usable = [call for call in parsed.tool_calls if call.valid]
            feedback = [problem.message for problem in parsed.errors]
            state.stuck, state.idle = not usable, 0 if usable else state.idle + 1
            if not usable:
                if state.idle >= NO_PROGRESS_TURNS:
                    raise StepFailed("no usable tool call in several turns")
                conversation.add(Message("user", "\n".join(feedback) or self.options.no_tool_call))
                continue
            for call in usable:
                if not self.calls.answer(state, call, call.server_id or f"call_{self.turns}_{call.index}"):
                    break
            if feedback:
                conversation.add(Message("user", "\n".join(feedback)))
            for note in self.deps.quirks.after_turn(state):
                conversation.add(Message("user", note))
        raise StepFailed(f"turn budget of {state.step.turn_budget} spent")

    def _model_turn(self, state: StepState) -> ParsedOutput:
        options = self.deps.quirks.before_turn(state, GenerateOptions(
            max_tokens=self.options.max_tokens_per_turn, tools=tuple(self.specs), seed=self.options.seed,
            temperature=self.options.temperature, max_reasoning_tokens=self.options.max_reasoning_tokens))
        completion = state.conversation.reply(options, self.deps.on_text,
                                              keep=lambda text: self.deps.quirks.keep_reply(text, self.specs))
        self.turns += 1  # after the call: a call that failed (BackendError) took no turn
        self._account(completion.stats)
        if completion.tool_calls:  # the server parsed the reply: its calls, typed by the same schemas
            parsed = parse_server_calls([(call.id, call.name, call.arguments) for call in completion.tool_calls],
                                        content=completion.text, reasoning=completion.reasoning, tools=self.specs)
        else:
            parsed = parse_output(completion.text, format=self.options.tool_call_format, tools=self.specs)
        parsed, read_by = self.deps.quirks.on_reply(state, completion.text, parsed, self.specs)
        if read_by is not None:
            self._emit(events.QuirkApplied(quirk=read_by, step=state.step.name, detail="call read from loose JSON"))
        self._emit(events.ModelTurn(step=state.step.name, turn=state.turn, text=completion.text,
                                    finish_reason=completion.finish_reason, stats=stats_json(completion.stats),
                                    problems=[problem.message for problem in parsed.problems]))
        return parsed

    def _ask_plainly(self, state: StepState, prompt: str, max_tokens: int) -> str:
        """A plain-text turn (a quirk's question between steps): counted as a turn, its text not parsed."""
        self.turns += 1
        state.conversation.add(Message("user", prompt))
        completion = state.conversation.reply(GenerateOptions(
            max_tokens=max_tokens, tools=tuple(self.specs), seed=self.options.seed,
            temperature=self.options.temperature, max_reasoning_tokens=self.options.max_reasoning_tokens))
        self._account(completion.stats)
        self._emit(events.ModelTurn(step=state.step.name, turn=state.turn + 1, text=completion.text,
                                    finish_reason=completion.finish_reason, stats=stats_json(completion.stats),
                                    reflection=True))
        return completion.text

    # --- bookkeeping -----------------------------------------------------------------------------------

    def _begin(self, task: str, resume: ResumeState | None) -> None:
        if resume is not None:
            self.turns = resume.turns
            self._emit(events.Resumed(finished_steps=list(resume.finished_steps), turns=resume.turns))
            return
        self._emit(events.RunStarted(
            task=task, mode=self.options.mode, scaffold_mode=self.options.scaffold_mode,
            backend=self.deps.backend.name, n_ctx=self.deps.backend.n_ctx, tools=self.specs, repo=self.options.repo,
            sandbox=self.deps.sandbox_tier, quirks=self.deps.quirks.names, tests=self.deps.verifier.describe(),
            thinking=self.options.thinking or 0))
        if already_failing := self.deps.verifier.baseline():
            self._emit(events.Baseline(failing=already_failing))

    def _conversation(self, plan: Plan, messages: list[Message]) -> Conversation:
        conversation = Conversation(self.deps.backend, plan.scaffold.context, log=self._emit)
        for message in messages:  # logged again after the scaffold: resume and export read from there
            conversation.add(message)
        return conversation

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _account(self, stats: GenerationStats) -> None:
        self.tokens["prompt"] += stats.prompt_tokens
        self.tokens["evaluated"] += stats.evaluated_prompt_tokens
        self.tokens["generated"] += stats.generated_tokens

    def _emit(self, event: events.Event) -> None:
        self.deps.trajectory.record(event)
        self.deps.emit(event)

    def _finish(self, task: str, outcome: Outcome, verification: Verification | None, *, reason: str,
                judge: dict[str, str] | None = None, error: str | None = None) -> RunResult:
        checks = verification.checks if verification else []
        evidence = verification.evidence if verification else None
        result = RunResult(
            session_id=self.deps.trajectory.session_id, outcome=outcome, scaffolds=self.scaffolds, steps=self.steps,
            checks=checks, findings=self.calls.findings, judge=judge, turns=self.turns, tokens=dict(self.tokens),
            elapsed_s=round(self._elapsed(), 2), files_changed=self.deps.workspace.changed_files(), error=error,
            reason=reason, evidence=evidence,
        )
        self.deps.hooks.at_end(outcome, reason, self._emit)
        self._emit(events.RunEnded(outcome=outcome, reason=reason, turns=self.turns, tokens=result.tokens,
                                   elapsed_s=result.elapsed_s, findings=[f.to_json() for f in self.calls.findings],
                                   files_changed=result.files_changed, error=error,
                                   checks=[check.to_json() for check in checks],
                                   evidence=evidence.to_json() if evidence else None, judge=judge))
        if self.deps.library is not None and self.scaffolds:
            self.deps.library.add(session_id=result.session_id, task=task, task_kind=self.scaffolds[-1].task_kind,
                                  scaffold=self.scaffolds[-1].to_json(), outcome=outcome, turns=self.turns,
                                  repo=self.options.repo or "")
        return result


class _PlanStopped(LoopSignal):
    """A step of the plan asked to replan (or failed with on_failure=replan): where, and the conversation so far."""

    def __init__(self, note: str, index: int, conversation: Conversation, *, looked_only: bool) -> None:
        super().__init__(note)
        self.index, self.conversation, self.looked_only = index, conversation, looked_only


def _shape(scaffold: Scaffold) -> list[tuple[str, frozenset[str]]]:
    """The steps with their tools: two plans of the same shape are the same plan to the loop."""
    return [(step.name, frozenset(step.tools)) for step in scaffold.steps]
