"""The agent runtime's own cost per turn, with the model's time taken out.

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

from ornith_local.agent.deps import AgentDeps, AgentOptions, CheckResult
from ornith_local.agent.loop import Runtime
from ornith_local.agent.scaffold import Permissions, Scaffold, clamp
from ornith_local.agent.trajectory import Trajectory
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.tools import Workspace, default_tools

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoicing"


class NoChecks:
    def baseline(self) -> list[str] | None:
        return None

    def verify(self, extra_checks: object) -> list[CheckResult]:
        return [CheckResult("tests", "(skipped in benchmark)", True, "skipped")]


class NoGit:
    def ensure_checkpoint(self) -> None: ...

    def diff(self) -> str:
        return ""

    def changed_files(self) -> list[str]:
        return []

    def test_literals(self) -> set[str]:
        return set()


def scaffold_reply(turns: int) -> str:
    steps = -(-turns // 20)  # a step holds at most 20 turns
    return json.dumps({
        "task_kind": "explain", "goal": "read files", "acceptance_checks": [],
        "context": {"keep": ["task"], "summarize_after_turns": 6}, "max_total_turns": turns + 1,
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
    tools = {tool.name: tool for tool in default_tools(Workspace.at(repo))}
    permissions = Permissions(tools=frozenset(tools), mode="auto", max_turns=turns)

    def do_clamp(scaffold: Scaffold) -> tuple[Scaffold, tuple[str, ...]]:
        result = clamp(scaffold, permissions)
        return result.scaffold, result.notes

    stamps: list[float] = []
    deps = AgentDeps(
        backend=backend, tools=tools, workspace=NoGit(), verifier=NoChecks(),
        trajectory=Trajectory(f"bench-{turns}", data_dir), repo_map=lambda task: "", clamp=do_clamp,
        judge=lambda task, diff: {"verdict": "approve", "reason": ""},
        emit=lambda event, data: stamps.append(time.perf_counter()) if event == "model_turn" else None,
    )
    runtime = Runtime(deps, AgentOptions(mode="auto", max_turns=turns, use_judge=False, use_library=False,
                                         tool_call_format="hermes"))
    started = time.perf_counter()
    runtime.run("read the invoicing modules")
    total = time.perf_counter() - started
    per_turn = [b - a for a, b in itertools.pairwise(stamps)]
    return total / max(runtime.turns, 1), per_turn


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
    print(f"agent runtime overhead, scripted model, {len(per_turn) + 1} turns with a real read_file each")
    print(f"  mean per turn (whole run / turns): {1000 * mean:.2f} ms")
    print(f"  median turn-to-turn:               {statistics.median(per_turn_ms):.2f} ms")
    print(f"  p95 turn-to-turn:                  {per_turn_ms[int(0.95 * (len(per_turn_ms) - 1))]:.2f} ms")
    print("  target: <= 20 ms per turn")


if __name__ == "__main__":
    main()
