"""The scaffold panel: the plan the model wrote, as a tree of steps with live status and budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

# Tree labels are Rich Text (the Tree widget's label type): named colours, which every theme maps.
STATUS_MARK = {
    "pending": ("○", "dim"), "running": ("▶", "bold cyan"), "done": ("✓", "green"),
    "failed": ("✗", "red"), "replan": ("↺", "yellow"), "abort": ("⊘", "red"),
}


@dataclass
class StepState:
    name: str
    intent: str
    tools: list[str]
    budget: int
    on_failure: str
    status: str = "pending"
    turns: int = 0
    attempts: int = 0
    summary: str = ""


@dataclass
class PlanState:
    """Everything the panel shows, kept apart from the widgets so a replay can rebuild it."""

    kind: str = ""
    goal: str = ""
    steps: list[StepState] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    max_turns: int = 0
    max_replans: int = 0
    turns: int = 0
    replans: list[str] = field(default_factory=list)
    outcome: str = ""
    raw: dict[str, Any] = field(default_factory=dict)  # the scaffold as the runtime sent it


class ScaffoldPanel(Vertical):
    """Tree of steps (pending / running / done / failed / replanned), budgets used, replan history."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan = PlanState()
        self.steps_tree: Tree[int] = Tree("no scaffold yet", id="scaffold-tree")
        self.budget = Static("", id="scaffold-budget")
        self.history = Static("", id="scaffold-history")

    def compose(self) -> Any:
        yield Static("Scaffold", classes="panel-title")
        yield self.steps_tree
        yield self.budget
        yield self.history

    def on_mount(self) -> None:
        self.steps_tree.show_root = True
        self.steps_tree.guide_depth = 2
        self.border_title = "Scaffold"
        self._render_all()

    # --- runtime events --------------------------------------------------------------------------

    def reset(self) -> None:
        self.plan = PlanState()
        self._render_all()

    def set_scaffold(self, scaffold: dict[str, Any], notes: list[str]) -> None:
        limits = scaffold.get("limits") or {}
        self.plan.raw = dict(scaffold)
        self.plan.kind = str(scaffold.get("task_kind", ""))
        self.plan.goal = str(scaffold.get("goal", ""))
        self.plan.notes = [str(note) for note in notes]
        self.plan.max_turns = int(limits.get("max_total_turns") or 0)
        self.plan.max_replans = int(limits.get("max_replans") or 0)
        self.plan.outcome = ""
        self.plan.steps = [
            StepState(str(step.get("name", "")), str(step.get("intent", "")), [str(t) for t in step.get("tools", [])],
                      int(step.get("turn_budget") or 0), str(step.get("on_failure", "")))
            for step in scaffold.get("steps", [])
        ]
        self._render_all()

    def step_start(self, index: int) -> None:
        step = self._step(index)
        if step is not None:
            step.status, step.turns = "running", 0
            step.attempts += 1
            self._render_all()

    def model_turn(self, index: int, turn: int) -> None:
        self.plan.turns += 1
        step = self._step(index)
        if step is not None:
            step.turns = max(step.turns, turn)
        self._render_all()

    def step_end(self, index: int, status: str, summary: str) -> None:
        step = self._step(index)
        if step is not None:
            step.status, step.summary = status, summary
            self._render_all()

    def replan(self, reason: str) -> None:
        self.plan.replans.append(reason)
        for step in self.plan.steps:
            if step.status in ("running", "failed"):
                step.status = "replan"
        self._render_all()

    def finish(self, outcome: str) -> None:
        self.plan.outcome = outcome
        for step in self.plan.steps:
            if step.status == "running":
                step.status = "failed"
        self._render_all()

    # --- drawing ---------------------------------------------------------------------------------

    def _step(self, index: int) -> StepState | None:
        return self.plan.steps[index - 1] if 0 < index <= len(self.plan.steps) else None

    def _render_all(self) -> None:
        plan = self.plan
        tree = self.steps_tree
        tree.clear()
        if not plan.steps:
            tree.root.set_label(Text("no scaffold yet", style="dim"))
        else:
            tree.root.set_label(Text.assemble((plan.kind or "task", "bold"), f": {plan.goal}"))
            for number, step in enumerate(plan.steps, 1):
                self._add_step(tree.root, number, step)
            for note in plan.notes:
                tree.root.add_leaf(Text.assemble(("clamped: ", "yellow"), note))
        tree.root.expand()
        budget = f"turns {plan.turns}/{plan.max_turns or '?'} · replans {len(plan.replans)}/{plan.max_replans}"
        if plan.outcome:
            budget += f" · {plan.outcome}"
        self.budget.update(Content(budget))
        self.history.display = bool(plan.replans)
        lines = [f"↺ {number}. {reason}" for number, reason in enumerate(plan.replans, 1)]
        self.history.update(Content("Replan history\n" + "\n".join(lines)))

    def _add_step(self, root: TreeNode[int], number: int, step: StepState) -> None:
        mark, style = STATUS_MARK.get(step.status, ("?", ""))
        retry = f" (try {step.attempts})" if step.attempts > 1 else ""
        label = Text.assemble((mark, style), f" {number}. ", (step.name, "bold"),
                              (f" {step.turns}/{step.budget} turns{retry}", "dim"))
        node = root.add(label, data=number, expand=step.status == "running")
        node.add_leaf(Text(step.intent, style="dim"))
        node.add_leaf(Text(f"tools: {', '.join(step.tools)} · on failure: {step.on_failure}", style="dim"))
        if step.summary:
            node.add_leaf(Text(f"→ {step.summary}", style="dim"))
