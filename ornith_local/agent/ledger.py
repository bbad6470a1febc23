"""The run's record: what it has used (turns, tokens, time), its plans and steps, and how it starts and ends.

The loop writes here and asks `spent()`; `start_run` and `finish_run` are the events, the result and the
library entry at either end of a run, which the loop would otherwise carry as bookkeeping between its steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ornith_local.agent import events
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.scaffold import Budget, Scaffold
from ornith_local.agent.sessions import ResumeState
from ornith_local.agent.state import Outcome, RunResult, StepOutcome
from ornith_local.agent.verifier import Verification
from ornith_local.guard.monitor import Finding
from ornith_local.llm.backend import GenerationStats


@dataclass
class Ledger:
    turns: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "evaluated": 0, "generated": 0})
    scaffolds: list[Scaffold] = field(default_factory=list)
    steps: list[tuple[str, StepOutcome]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def account(self, stats: GenerationStats) -> None:
        self.tokens["prompt"] += stats.prompt_tokens
        self.tokens["evaluated"] += stats.evaluated_prompt_tokens
        self.tokens["generated"] += stats.generated_tokens

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def spent(self, budget: Budget) -> bool:
        return budget.spent(self.turns, self.elapsed())

    def history(self, last: int = 4) -> str:
        """The last steps' outcomes, as a new plan is told them."""
        return "\n".join(f"- {name}: {step.status}: {step.summary}" for name, step in self.steps[-last:])


def start_run(deps: AgentDeps, options: AgentOptions, ledger: Ledger, specs: list[dict[str, Any]], task: str,
              resume: ResumeState | None) -> None:
    if resume is not None:
        ledger.turns = resume.turns
        deps.record(events.Resumed(finished_steps=list(resume.finished_steps), turns=resume.turns))
        return
    deps.record(events.RunStarted(
        task=task, mode=options.mode, scaffold_mode=options.scaffold_mode, backend=deps.backend.name,
        n_ctx=deps.backend.n_ctx, tools=specs, repo=options.repo, sandbox=deps.sandbox_tier,
        quirks=deps.quirks.names, tests=deps.verifier.describe(), thinking=options.thinking or 0))
    if already_failing := deps.verifier.baseline():
        deps.record(events.Baseline(failing=already_failing))


def finish_run(deps: AgentDeps, options: AgentOptions, ledger: Ledger, task: str, outcome: Outcome,
               verification: Verification | None, findings: list[Finding], *, reason: str,
               judge: dict[str, str] | None = None, error: str | None = None) -> RunResult:
    checks = verification.checks if verification else []
    evidence = verification.evidence if verification else None
    result = RunResult(
        session_id=deps.trajectory.session_id, outcome=outcome, scaffolds=ledger.scaffolds, steps=ledger.steps,
        checks=checks, findings=findings, judge=judge, turns=ledger.turns, tokens=dict(ledger.tokens),
        elapsed_s=round(ledger.elapsed(), 2), files_changed=deps.workspace.changed_files(), error=error,
        reason=reason, evidence=evidence,
    )
    deps.hooks.at_end(outcome, reason, deps.record)
    deps.record(events.RunEnded(outcome=outcome, reason=reason, turns=ledger.turns, tokens=result.tokens,
                                elapsed_s=result.elapsed_s, findings=[f.to_json() for f in findings],
                                files_changed=result.files_changed, error=error,
                                checks=[check.to_json() for check in checks],
                                evidence=evidence.to_json() if evidence else None, judge=judge))
    if deps.library is not None and ledger.scaffolds:
        deps.library.add(session_id=result.session_id, task=task, task_kind=ledger.scaffolds[-1].task_kind,
                         scaffold=ledger.scaffolds[-1].to_json(), outcome=outcome, turns=ledger.turns,
                         repo=options.repo or "")
    return result
