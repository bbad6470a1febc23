"""`agent_suite.py --attempts N`: each task runs N times in worktrees and the runtime applies its pick, so the
held-back checks judge the chosen attempt: solved@1 against solved@N, and the chosen attempt's false-verified rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ornith_local.agent import events
from ornith_local.agent.state import RunResult
from ornith_local.agent.trajectory import sessions_dir
from ornith_local.attempts import RANK, Policy, run_attempts
from ornith_local.llm.backend import Backend
from ornith_local.llm.factory import open_backend, open_backends
from ornith_local.session import RunRequest, model_settings

# The attempts' backends, opened on the first task and reused by the later ones (a model loads once per suite).
_POOL: list[Backend] = []


def _attempt_backends(request: RunRequest, n: int, backend: Backend | None) -> list[Backend]:
    """N sequences of one loaded model decoding in shared batches, as `ornith run --attempts N` runs them (N
    clients over an endpoint); one backend when N cannot be opened. A backend from elsewhere (a scripted one in
    the tests) runs the attempts one after another."""
    if backend is not None and backend not in _POOL:
        return [backend]
    if not _POOL:
        try:
            _POOL.extend(open_backends(model_settings(request), model=request.model, n=n))
        except Exception as error:  # as the CLI does: a plan that does not fit N contexts still runs, in turn
            print(f"    attempts run one after another ({error})", flush=True)
            _POOL.append(open_backend(model_settings(request), model=request.model))
    for each in _POOL:
        each.reset()  # every task starts cold, as single attempts do
    return _POOL


@dataclass(frozen=True)
class AttemptsRun:
    result: RunResult | None  # the chosen attempt's run; None when nothing was applied
    trajectory: Path | None  # the chosen attempt's
    backend: Backend  # to reuse for the next task
    reason: str  # why it was chosen, or why none was
    outcomes: list[str]  # every attempt's, in order: "verified", "failed", "aborted: error: ..."


def run_with_attempts(request: RunRequest, n: int, policy: Policy, backend: Backend | None,
                      emit: Callable[[events.Event], None]) -> AttemptsRun:
    backends = _attempt_backends(request, n, backend)
    done = run_attempts(request, n, emit=lambda number, event: emit(event), policy=policy, backends=backends)
    chosen = next((a for a in done.attempts if a.number == done.chosen), None)
    trajectory = sessions_dir() / f"{chosen.session_id}.jsonl" if chosen else None
    # An attempt that could not run says why: a silent one would read as a weaker model.
    outcomes = [a.outcome if a.outcome in RANK else f"{a.outcome}: {a.reason}" for a in done.attempts]
    return AttemptsRun(done.result, trajectory, backends[0], done.reason, outcomes)
