"""What the runtime needs from the world, as small protocols and plain data.

The CLI and the TUI build real ones (llama.cpp, sandboxed tools, git checkpoints); unit tests pass
scripted ones. Nothing here imports an entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.scaffold import SCAFFOLD_MAX_TOKENS, Scaffold
from ornith_local.agent.trajectory import Trajectory
from ornith_local.llm.backend import Backend, OnText
from ornith_local.tools.base import Tool

Approval = Literal["yes", "no", "always"]


@dataclass(frozen=True)
class CheckResult:
    name: str  # "tests" for the runtime's own test command, else the check command
    command: str
    passed: bool
    summary: str  # one line: "12 passed, 0 failed" / "exit 1: ..."
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "command": self.command, "passed": self.passed, "summary": self.summary}


class Verifier(Protocol):
    """Runs the checks the runtime owns: the project's test command (or --check) plus the scaffold's extras."""

    def baseline(self) -> list[str] | None:
        """Before the run: the tests already failing (not this run's doing), or None when not known."""
        ...

    def verify(self, extra_checks: Sequence[str]) -> list[CheckResult]: ...


class Workspace(Protocol):
    """The repo under change: a checkpoint before the first edit, and what changed since."""

    def ensure_checkpoint(self) -> None: ...

    def diff(self) -> str: ...

    def changed_files(self) -> list[str]: ...

    def test_literals(self) -> set[str]: ...


@dataclass(frozen=True)
class AgentOptions:
    mode: Literal["read-only", "ask", "auto"] = "ask"
    scaffold_mode: Literal["self", "fixed"] = "self"
    max_turns: int = 40
    max_replans: int = 2
    max_wall_s: int = 1800
    use_library: bool = True
    library_examples: int = 2
    use_judge: bool = True
    allow_test_edits: bool = False
    withheld: tuple[str, ...] = ()
    tool_call_format: str = "auto"
    max_tokens_per_turn: int = 768
    max_scaffold_tokens: int = SCAFFOLD_MAX_TOKENS
    max_reasoning_tokens: int | None = 1024
    seed: int = 0
    temperature: float | None = None  # step turns; None: the model's recommended sampling (0.0: greedy, reproducible)
    repo: str | None = None  # recorded so `ornith sessions resume` and `ornith undo` know where the run was
    # Tools that change files (a checkpoint is taken before the first) and tools that need a yes in ask mode.
    write_tools: frozenset[str] = frozenset({"edit_file", "write_file", "run"})
    needs_approval: frozenset[str] = frozenset()


@dataclass
class AgentDeps:
    backend: Backend
    tools: dict[str, Tool]
    workspace: Workspace
    verifier: Verifier
    trajectory: Trajectory
    repo_map: Callable[[str], str]  # task -> repo map text, focused on the task
    clamp: Callable[[Scaffold], tuple[Scaffold, tuple[str, ...]]]
    judge: Callable[[str, str], dict[str, str]]  # (task, diff) -> {"verdict", "reason"}
    library: ScaffoldLibrary | None = None
    instructions: str | None = None  # AGENTS.md
    approve: Callable[[str, dict[str, Any]], Approval] = lambda tool, arguments: "yes"
    emit: Callable[[str, dict[str, Any]], None] = lambda event, data: None
    on_text: OnText | None = None
    sandbox_tier: str = "none"
