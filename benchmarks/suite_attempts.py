"""`agent_suite.py --attempts N`: each task runs N times in worktrees and the runtime applies its pick, so the
held-back checks judge the chosen attempt: solved@1 against solved@N, and the chosen attempt's false-verified rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ornith_local.agent import events
from ornith_local.agent.state import RunResult
from ornith_local.agent.trajectory import sessions_dir
from ornith_local.attempts import Policy, run_attempts
from ornith_local.llm.backend import Backend
from ornith_local.llm.factory import open_backend
from ornith_local.session import RunRequest


def run_with_attempts(request: RunRequest, n: int, policy: Policy, backend: Backend | None,
                      emit: Callable[[events.Event], None]) -> tuple[RunResult | None, Path | None, Backend, str]:
    """(the chosen attempt's result, its trajectory, the backend to reuse, why it was chosen or none was).
    One loaded model: the attempts run one after another on it (each with its own seed)."""
    if backend is None:
        config = request.config
        backend = open_backend(replace(config.model, endpoint=request.endpoint or config.model.endpoint,
                                       n_ctx=request.n_ctx or config.model.n_ctx), model=request.model)
    done = run_attempts(request, n, emit=lambda number, event: emit(event), policy=policy, backends=[backend])
    chosen = next((a for a in done.attempts if a.number == done.chosen), None)
    trajectory = sessions_dir() / f"{chosen.session_id}.jsonl" if chosen else None
    return done.result, trajectory, backend, done.reason
