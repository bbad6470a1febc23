"""A real agent loop around a scripted model: the pieces the loop's and the quirks' tests share."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.agent.control import control_tools
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.events import Event
from ornith_local.agent.evidence import Evidence
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.loop import Loop
from ornith_local.agent.planners import FixedPlanner, SelfPlanner
from ornith_local.agent.propose import StageOne
from ornith_local.agent.quirks import Quirks
from ornith_local.agent.scaffold import ClampResult, Permissions, Scaffold, clamp
from ornith_local.agent.trajectory import Trajectory, read_events
from ornith_local.agent.verifier import ChangedTree, CheckResult, Verification
from ornith_local.guard.approvals import Approvals
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.tools.base import CallPreview, Effect, ToolResult, plain_preview, schema
from ornith_local.tools.registry import ToolRegistry


@dataclass
class NoteTool:
    """A unit-test tool: records its calls."""

    name: str
    effect: Effect = "read"
    calls: list[dict[str, Any]] = field(default_factory=list)
    description: str = "test tool"
    parameters: dict[str, Any] = field(
        default_factory=lambda: schema({"path": {"type": "string"}, "text": {"type": "string"}}, ["path"]))

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        self.calls.append(dict(args))
        return ToolResult(ok=True, text=f"{self.name} ok: {args['path']}", title=self.name)


@dataclass
class FakeWorkspace:
    diff_text: str = ""
    checkpoints: int = 0
    setup_changes: tuple[str, ...] = ()

    def ensure_checkpoint(self) -> None:
        self.checkpoints += 1

    def diff(self) -> str:
        return self.diff_text

    def changed_files(self) -> list[str]:
        return ["invoicing/discounts.py"] if self.diff_text else []

    def is_new_file(self, path: str) -> bool:
        return False

    def test_literals(self) -> set[str]:
        return set()

    def test_setup_changes(self) -> list[str]:
        return list(self.setup_changes)


@dataclass
class FakeVerifier:
    """Scripted checks: they pass or fail, and show the problem fixed (a test failing before, passing after) unless
    `shown` is False; the diff's emptiness is the workspace's own."""

    passed: bool = True
    shown: bool = True
    unrunnable: bool = False

    def describe(self) -> str:
        return "scripted checks"

    def baseline(self) -> list[str] | None:
        return None

    def after_edit(self, path: str, tree: ChangedTree) -> str | None:
        return None

    def verify(self, extra_checks: Sequence[str], tree: ChangedTree) -> Verification:
        summary = "no test ran" if self.unrunnable else "1 passed" if self.passed else "1 failed"
        check = CheckResult("tests", "pytest", self.passed and not self.unrunnable, summary,
                            {"unrunnable": self.unrunnable})
        evidence = Evidence(tests_ran=0 if self.unrunnable else 1,
                            fail_to_pass=("tests/test_x.py::test_fixed",) if self.shown and self.passed else (),
                            empty_diff=not tree.diff().strip())
        return Verification([check], evidence)


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


def scaffold_json(*steps: tuple[str, list[str], int, str], max_total_turns: int = 20) -> str:
    # A plan without an editing step is only valid for a task that changes nothing (Stage 1 rejects the rest).
    edits = any("edit_file" in tools for _, tools, _, _ in steps)
    return json.dumps({
        "task_kind": "fix_bug" if edits else "explain", "goal": "fix it", "acceptance_checks": [],
        "context": {"summarize_after_turns": 4}, "max_total_turns": max_total_turns,
        "steps": [{"name": n, "intent": n, "tools": t, "turn_budget": b, "exit_condition": "done", "on_failure": f}
                  for n, t, b, f in steps],
    })


DIFF = ("diff --git a/invoicing/discounts.py b/invoicing/discounts.py\n--- a/invoicing/discounts.py\n"
        "+++ b/invoicing/discounts.py\n@@ -1 +1 @@\n"
        "-        if quantity > minimum:\n+        if quantity >= minimum:\n")


@dataclass
class Harness:
    loop: Loop
    backend: ScriptedBackend
    tools: dict[str, NoteTool]
    seen: list[Event]

    def kinds(self) -> list[str]:
        return [event.kind for event in read_events(self.loop.deps.trajectory.path)]

    def events(self) -> list[Event]:
        return list(read_events(self.loop.deps.trajectory.path))


def make_loop(tmp_path: Path, replies: list[Any], *, verifier: FakeVerifier | None = None,
              workspace: FakeWorkspace | None = None, judge_verdict: str | None = "approve",
              quirks: Quirks | None = None, scaffold_mode: str = "self", max_turns: int = 40, max_replans: int = 2,
              approvals: Approvals | None = None, temperature: float | None = None, repo: str = "") -> Harness:
    tools = {name: NoteTool(name, effect) for name, effect in
             [("read_file", "read"), ("search", "read"), ("edit_file", "edit")]}
    registry = ToolRegistry(tools.values())
    backend = ScriptedBackend(list(replies))
    permissions = Permissions(tools=registry.effects(), mode="auto", max_turns=max_turns, max_replans=max_replans)

    def do_clamp(scaffold: Scaffold) -> ClampResult:
        return clamp(scaffold, permissions)

    trajectory = Trajectory("test-session", tmp_path / "sessions")
    library = ScaffoldLibrary(tmp_path / "lib.sqlite3")
    stage = StageOne(backend=backend, clamp=do_clamp, emit=trajectory.record, tool_names=list(registry),
                     edit_tools=registry.named("edit"), tool_specs=registry.with_tools(control_tools()).specs(),
                     repo_map=lambda task: "invoicing/discounts.py: bulk_discount_rate(quantity)", library=library,
                     max_turns=max_turns, mode="auto", repo=repo)
    seen: list[Event] = []
    deps = AgentDeps(
        backend=backend, tools=registry, workspace=workspace or FakeWorkspace(DIFF),
        verifier=verifier or FakeVerifier(), trajectory=trajectory,
        planner=FixedPlanner(stage) if scaffold_mode == "fixed" else SelfPlanner(stage), clamp=do_clamp,
        judge=(lambda task, diff: {"verdict": judge_verdict, "reason": "scripted"}) if judge_verdict else None,
        approvals=approvals or Approvals(), quirks=quirks or Quirks(), library=library,
        repo_map=stage.repo_map, emit=seen.append,
    )
    options = AgentOptions(mode="auto", scaffold_mode=scaffold_mode, max_turns=max_turns, tool_call_format="hermes",
                           temperature=temperature, repo=repo or None)
    return Harness(Loop(deps, options), backend, tools, seen)
