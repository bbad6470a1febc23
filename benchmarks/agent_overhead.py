"""The agent loop's own cost per turn, with the model's time taken out.

A scripted backend answers instantly, so everything measured is ornith: prompt assembly, parsing,
the guard, approvals, the trajectory (one fsync per event), context accounting and a real read_file on
a copy of the bundled example. Target from the issue: <= 20 ms per turn.

    .venv/bin/python -m benchmarks.agent_overhead [--turns 200]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ornith_local.agent.control import control_tools
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.events import Event, ModelTurn
from ornith_local.agent.evidence import Evidence
from ornith_local.agent.loop import Loop
from ornith_local.agent.planners import SelfPlanner
from ornith_local.agent.propose import StageOne
from ornith_local.agent.scaffold import ClampResult, Permissions, Scaffold, clamp
from ornith_local.agent.trajectory import Trajectory
from ornith_local.agent.verifier import CheckResult, Verification
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.tools import Workspace, default_tools
from ornith_local.tools.registry import ToolRegistry

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoicing"


class NoChecks:
    def describe(self) -> str:
        return "no checks (benchmark)"

    def baseline(self) -> list[str] | None:
        return None

    def after_edit(self, path: str, tree: object) -> str | None:
        return None

    def verify(self, extra_checks: object, tree: object) -> Verification:
        return Verification([CheckResult("tests", "(skipped in benchmark)", True, "skipped")], Evidence(tests_ran=-1))


class NoGit:
    def ensure_checkpoint(self) -> None: ...

    def diff(self) -> str:
        return ""

    def changed_files(self) -> list[str]:
        return []

    def is_new_file(self, path: str) -> bool:
        return False

    def test_literals(self) -> set[str]:
        return set()

    def test_setup_changes(self) -> list[str]:
        return []


def scaffold_reply(turns: int) -> str:
    steps = -(-turns // 20)  # a step holds at most 20 turns
    return json.dumps({
        "task_kind": "explain", "goal": "read files", "acceptance_checks": [],
        "context": {"summarize_after_turns": 6}, "max_total_turns": turns + 1,
        "steps": [{"name": f"read-{n}", "intent": "read", "tools": ["read_file"], "turn_budget": 20,
                   "exit_condition": "done", "on_failure": "abort"} for n in range(steps)],
    })


def measure(repo: Path, turns: int, data_dir: Path) -> tuple[float, list[float]]:
    files = ["invoicing/discounts.py", "invoicing/invoice.py", "invoicing/money.py", "tests/test_invoice.py"]
    # Distinct calls so the loop breaker never short-cuts a turn; each step ends with step_done.
    replies = [scaffold_reply(turns)]
    for i in range(turns):
        if i % 20 == 19:
            replies.append('<tool_call>{"name": "step_done", "arguments": {"summary": "read"}}</tool_call>')
        else:
            replies.append(f'<tool_call>{{"name": "read_file", "arguments": {{"path": "{files[i % 4]}", '
                           f'"start_line": {1 + i % 30}}}}}</tool_call>')
    backend = ScriptedBackend(replies, context=1_000_000)
    tools = ToolRegistry(default_tools(Workspace.at(repo)))
    permissions = Permissions(tools=tools.effects(), mode="auto", max_turns=turns)

    def do_clamp(scaffold: Scaffold) -> ClampResult:
        return clamp(scaffold, permissions)

    stamps: list[float] = []

    def emit(event: Event) -> None:
        if isinstance(event, ModelTurn):
            stamps.append(time.perf_counter())

    trajectory = Trajectory(f"bench-{turns}", data_dir)
    stage = StageOne(backend=backend, clamp=do_clamp, emit=trajectory.record, tool_names=list(tools),
                     edit_tools=tools.named("edit"), tool_specs=tools.with_tools(control_tools()).specs(),
                     max_turns=turns, mode="auto")
    deps = AgentDeps(backend=backend, tools=tools, workspace=NoGit(), verifier=NoChecks(), trajectory=trajectory,
                     planner=SelfPlanner(stage), clamp=do_clamp, emit=emit)
    loop = Loop(deps, AgentOptions(mode="auto", max_turns=turns, tool_call_format="hermes"))
    started = time.perf_counter()
    loop.run("read the invoicing modules")
    total = time.perf_counter() - started
    per_turn = [b - a for a, b in itertools.pairwise(stamps)]
    return total / max(loop.ledger.turns, 1), per_turn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100, help="at most 100 (5 steps of 20 turns)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        repo = Path(temp) / "invoicing"
        shutil.copytree(EXAMPLE, repo)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        os.environ["ORNITH_DATA_DIR"] = str(Path(temp) / "data")
        mean, per_turn = measure(repo, args.turns, Path(temp) / "sessions")
    per_turn_ms = sorted(1000 * value for value in per_turn)
    print(f"agent loop overhead, scripted model, {len(per_turn) + 1} turns with a real read_file each")
    print(f"  mean per turn (whole run / turns): {1000 * mean:.2f} ms")
    print(f"  median turn-to-turn:               {statistics.median(per_turn_ms):.2f} ms")
    print(f"  p95 turn-to-turn:                  {per_turn_ms[int(0.95 * (len(per_turn_ms) - 1))]:.2f} ms")
    print("  target: <= 20 ms per turn")


if __name__ == "__main__":
    main()
