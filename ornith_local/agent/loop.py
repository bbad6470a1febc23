"""The agent loop: plan -> steps -> verify -> guard -> judge. Read it top to bottom.

`run()` is the whole life of a task. A plan's steps run in order; each step is a tool-calling loop that
ends by a signal (agent/control.py): the step is done, asks to replan, or failed. A failed step does what
its plan says (retry, replan, abort). Then the loop's own checks decide success, the monitor looks for
gaming and the judge may veto. Weak models' crutches are hooks (agent/quirks.py), off unless the model's
catalog entry switches them on; everything from the world comes in through `AgentDeps`.
"""

from __future__ import annotations

from ornith_local.agent import events, prompts
from ornith_local.agent.calls import CallRunner
from ornith_local.agent.context import Conversation
from ornith_local.agent.control import LoopSignal, PlanStopped, RunSpent, StepFailed, control_tools
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.ledger import Ledger, finish_run, start_run
from ornith_local.agent.outcome import decide
from ornith_local.agent.planners import Plan
from ornith_local.agent.scaffold import ScaffoldError, scaffold_from_json
from ornith_local.agent.sessions import ResumeState
from ornith_local.agent.state import Outcome, RunResult, StepOutcome, StepState
from ornith_local.agent.turns import ModelTurns
from ornith_local.guard.monitor import check_diff, check_test_setup
from ornith_local.llm.backend import BackendError, Message

NO_PROGRESS_TURNS = 3  # consecutive turns without a usable tool call end the step as failed


class Aborted(LoopSignal):
    """A step failed and its plan says abort."""


class Loop:
    def __init__(self, deps: AgentDeps, options: AgentOptions) -> None:
        self.deps, self.options = deps, options
        self.tools = deps.tools.with_tools(control_tools())
        self.specs = self.tools.specs()
        self.edit_tools = self.tools.named("edit")
        self.ledger = Ledger()
        self.model = ModelTurns(deps, options, self.ledger, self.specs)
        self.calls = CallRunner(deps, self.tools, deps.record)  # its findings are the run's guard findings

    # --- the whole task: plan, steps, verify, guard, judge -----------------------------------------

    def run(self, task: str, resume: ResumeState | None = None) -> RunResult:
        start_run(self.deps, self.options, self.ledger, self.specs, task, resume)
        if (refusal := self.deps.hooks.at_start(task, resume is not None, self.deps.record)) is not None:
            return self._finish(task, "aborted", reason=f"refused by hook: {refusal}")
        try:
            outcome, reason = self._work(task, resume)
            scaffolds = self.ledger.scaffolds
            verification = self.deps.verifier.verify(scaffolds[-1].acceptance_checks if scaffolds else (),
                                                     self.deps.workspace)
        except (ScaffoldError, BackendError) as error:
            # A plan that cannot be used, or a model call that failed (a prompt that cannot fit, a server gone):
            # the run ends as an error with the reason, its trajectory complete.
            return self._finish(task, "error", reason=str(error), error=str(error))
        self.deps.record(events.ChecksRan(checks=[check.to_json() for check in verification.checks],
                                          evidence=verification.evidence.to_json()))
        diff = self.deps.workspace.diff()
        self.calls.findings += check_diff(diff, self.deps.policy, self.deps.workspace.test_literals())
        self.calls.findings += check_test_setup(self.deps.workspace.test_setup_changes())

        judge = self.deps.judge
        verdict = decide(outcome, reason, verification, self.calls.findings,
                         (lambda: judge(task, diff)) if judge is not None else None)
        if verdict.judge is not None:
            self.deps.record(events.Judged(verdict=verdict.judge.get("verdict", ""),
                                           reason=verdict.judge.get("reason", "")))
        return finish_run(self.deps, self.options, self.ledger, task, verdict.outcome, verification,
                          self.calls.findings, reason=verdict.reason, judge=verdict.judge)

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
            except PlanStopped as stopped:
                if new_plans >= plan.budget.replans:
                    return "failed", f"a step asked for a new plan ({stopped.note}); the run's replans are used"
                if self.ledger.spent(plan.budget):
                    return "failed", "the run's turn or time budget is spent"
                history = self.ledger.history()
                self.deps.record(events.Replanned(reason=stopped.note))
                carried = list(stopped.conversation.messages)
                new = self._plan(task, history, carried)
                goes_on = self.deps.quirks.on_new_plan(new.same_shape(plan), stopped.index, stopped.looked_only)
                if goes_on is not None:
                    start, quirk = goes_on
                    self.deps.record(events.QuirkApplied(quirk=quirk,
                                                         detail=f"the same plan goes on at step {start + 1}"))
                else:
                    start, new_plans = 0, new_plans + 1
                plan = new
                conversation = self._conversation(plan, [*carried, *plan.exchange, Message(
                    "user", prompts.new_plan_message(plan.scaffold, history))])

    def _first_plan(self, task: str, resume: ResumeState | None) -> tuple[Plan, int, Conversation]:
        if resume is not None and resume.scaffold:  # pick up the conversation where the interrupted run left it
            plan = Plan.of(self.deps.clamp(scaffold_from_json(resume.scaffold)))
            self.deps.record(events.ScaffoldChosen(scaffold=plan.scaffold.to_json(), clamp_notes=list(plan.notes),
                                                   resumed=True))
            self.ledger.scaffolds.append(plan.scaffold)
            return plan, len(resume.finished_steps), self._conversation(plan, resume.conversation())
        plan = self._plan(task, None, [])
        opening = [Message("system", prompts.SYSTEM), Message("user", prompts.task_message(
            task, plan.scaffold, self.deps.repo_map(task), self.deps.instructions))]
        return plan, 0, self._conversation(plan, opening)

    def _plan(self, task: str, history: str | None, conversation: list[Message]) -> Plan:
        plan = self.deps.planner.plan(task, history, conversation)
        if plan.stats is not None:
            self.ledger.account(plan.stats)
        self.deps.record(events.ScaffoldChosen(scaffold=plan.scaffold.to_json(), clamp_notes=list(plan.notes),
                                               fallback=plan.fallback))
        self.ledger.scaffolds.append(plan.scaffold)
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
                ended = self._step(plan, state)
                if ended.status != "failed" or step.on_failure != "retry" or attempt == step.max_retries:
                    break
            if ended.status == "failed" and step.on_failure != "replan":
                then = "its retries are spent" if step.on_failure == "retry" else "its plan says abort"
                raise Aborted(f"step '{step.name}' failed ({ended.summary}) and {then}")
            if ended.status != "done" and self.deps.planner.can_replan:
                raise PlanStopped(ended.summary, index, conversation, looked_only=not state.edits)
            # A plan that cannot change (the fixed one) goes on to the next step, with the reason in the conversation.
            if self.ledger.spent(plan.budget):
                raise RunSpent("the run's turn or time budget is spent")
            if later:
                for quirk, detail in self.deps.quirks.after_step(state, self.model.ask_plainly):
                    self.deps.record(events.QuirkApplied(quirk=quirk, step=step.name, detail=detail))

    def _step(self, plan: Plan, state: StepState) -> StepOutcome:
        """Run one step to the signal that ends it; its outcome is recorded once, at the end."""
        self.deps.record(events.StepStarted(step=state.step.name, index=state.number, total=state.total))
        self.deps.quirks.before_step(state)
        try:
            self._turns(plan, state)
            raise StepFailed(f"turn budget of {state.step.turn_budget} spent")
        except LoopSignal as end:
            ended = StepOutcome(end.status, end.note, state.turn)
            self.ledger.steps.append((state.step.name, ended))
            self.deps.record(events.StepEnded(step=state.step.name, status=end.status, summary=end.note,
                                              turns=state.turn))
            if isinstance(end, RunSpent):
                raise
            return ended

    # --- one step: the tool-calling turns --------------------------------------------------------------

    def _turns(self, plan: Plan, state: StepState) -> None:
        """Turns until a signal ends the step, or its turn budget is spent."""
        conversation = state.conversation
        conversation.add(Message("user", prompts.step_message(state.number, state.total, state.step)))
        while state.turn < state.cap:
            if self.ledger.spent(plan.budget):
                raise RunSpent("the run's turn or time budget is spent")
            state.turn, state.run_turn = state.turn + 1, self.ledger.turns + 1
            parsed = self.model.take(state)
            usable = [call for call in parsed.tool_calls if call.valid]
            feedback = [problem.message for problem in parsed.errors]
            state.stuck, state.idle = not usable, 0 if usable else state.idle + 1
            if not usable:
                if state.idle >= NO_PROGRESS_TURNS:
                    raise StepFailed("no usable tool call in several turns")
                conversation.add(Message("user", "\n".join(feedback) or self.options.no_tool_call))
                continue
            for call in usable:
                if not self.calls.answer(state, call, call.server_id or f"call_{self.ledger.turns}_{call.index}"):
                    break
            if feedback:
                conversation.add(Message("user", "\n".join(feedback)))
            for note in self.deps.quirks.after_turn(state):
                conversation.add(Message("user", note))

    def _conversation(self, plan: Plan, messages: list[Message]) -> Conversation:
        conversation = Conversation(self.deps.backend, plan.scaffold.context, log=self.deps.record)
        for message in messages:  # logged again after the scaffold: resume and export read from there
            conversation.add(message)
        return conversation

    def _finish(self, task: str, outcome: Outcome, *, reason: str, error: str | None = None) -> RunResult:
        """The run ends before its checks (refused, or an error): no verification, no judge."""
        return finish_run(self.deps, self.options, self.ledger, task, outcome, None, self.calls.findings,
                          reason=reason, error=error)
