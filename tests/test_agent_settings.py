"""Run settings a user sets in config.toml / .ornith.toml / ORNITH_* reach the run `ornith run` opens.

The model is scripted; the repo (the bundled example, with its three failing tests), git checkpoints,
sandbox and test runner are real.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ornith_local.agent.trajectory import read_events
from ornith_local.config import load_config
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.session import RunRequest, open_run

TASK = "Look at the invoicing package."


def call(name: str, **arguments: object) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def run_with(repo: Path, environ: dict[str, str]) -> tuple[ScriptedBackend, list[str]]:
    """A three-step fixed run that only reads; returns the backend (its calls) and the trajectory's events."""
    backend = ScriptedBackend([
        call("read_file", path="invoicing/invoice.py"), call("step_done", summary="read it"),
        call("step_done", summary="nothing to change"), call("step_done", summary="done"),
    ])
    request = RunRequest(task=TASK, repo=repo, config=load_config(repo, environ=environ), mode="auto",
                         scaffold_mode="fixed", max_turns=8, use_judge=False, use_library=False, quirks=())
    with open_run(request, emit=lambda event: None, backend=backend) as run:
        run.loop.run(TASK)
        events = [event.kind for event in read_events(run.trajectory.path)]
    return backend, events


def test_max_tokens_per_turn_from_the_environment_bounds_every_step_turn(example_repo: Path) -> None:
    backend, _ = run_with(example_repo, {"ORNITH_AGENT_MAX_TOKENS_PER_TURN": "300"})
    turn_limits = Counter(call.options.max_tokens for call in backend.calls)
    assert turn_limits == {300: 4}


def test_the_default_runs_the_suite_first_and_remembers_what_already_failed(example_repo: Path) -> None:
    _, events = run_with(example_repo, {})
    assert "baseline" in events


def test_baseline_off_skips_the_first_suite_run(example_repo: Path) -> None:
    (example_repo / ".ornith.toml").write_text("[tests]\nbaseline = false\n")
    _, events = run_with(example_repo, {})
    assert "baseline" not in events and "checks" in events
