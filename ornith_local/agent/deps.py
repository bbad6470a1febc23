"""What the loop needs from the world, as small protocols and plain data.

The composition root (`ornith_local/session.py`) builds real ones (llama.cpp, sandboxed tools, git
checkpoints); unit tests pass scripted ones. Nothing here imports an entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ornith_local.agent.events import Event
from ornith_local.agent.hooks import Hooks, NoHooks
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.planners import Planner
from ornith_local.agent.prompts import NO_TOOL_CALL
from ornith_local.agent.quirks import Quirks
from ornith_local.agent.scaffold import ClampResult, Scaffold
from ornith_local.agent.trajectory import Trajectory
from ornith_local.agent.verifier import Verifier
from ornith_local.guard.approvals import Approvals
from ornith_local.guard.judge import Judge
from ornith_local.guard.monitor import GuardPolicy
from ornith_local.llm.backend import Backend, OnText
from ornith_local.tools.registry import ToolRegistry


class Workspace(Protocol):
    """The repo under change: a checkpoint before the first edit, and what changed since."""

    def ensure_checkpoint(self) -> None: ...

    def diff(self) -> str: ...

    def changed_files(self) -> list[str]: ...

    def is_new_file(self, path: str) -> bool:
        """The file did not exist when the run started."""
        ...

    def test_literals(self) -> set[str]: ...

    def test_setup_changes(self) -> list[str]:
        """How the test setup changed since the run started (git-ignored files included), one line each."""
        ...


@dataclass(frozen=True)
class AgentOptions:
    mode: Literal["read-only", "ask", "auto"] = "ask"
    scaffold_mode: str = "self"  # recorded with the run; the planner in AgentDeps is what acts on it
    max_turns: int = 40
    tool_call_format: str = "auto"
    # The "no tool call" reminder, showing a call in the model's own format (llm/tool_format.py).
    no_tool_call: str = NO_TOOL_CALL
    max_tokens_per_turn: int = 768
    max_reasoning_tokens: int | None = 1024
    thinking: int | None = None  # the plan's and the verdict's thinking budget; None: the model does not think first
    seed: int = 0
    temperature: float | None = None  # step turns; None: the model's recommended sampling (0.0: greedy, reproducible)
    repo: str | None = None  # recorded so `ornith sessions resume` and `ornith undo` know where the run was


@dataclass
class AgentDeps:
    backend: Backend
    tools: ToolRegistry
    workspace: Workspace
    verifier: Verifier
    trajectory: Trajectory
    planner: Planner
    clamp: Callable[[Scaffold], ClampResult]
    judge: Judge | None = None  # None: no review of the final diff (--no-judge)
    policy: GuardPolicy = field(default_factory=GuardPolicy)
    approvals: Approvals = field(default_factory=Approvals)
    quirks: Quirks = field(default_factory=Quirks)
    library: ScaffoldLibrary | None = None
    repo_map: Callable[[str], str] = lambda task: ""  # task -> repo map text, focused on the task
    instructions: str | None = None  # AGENTS.md
    emit: Callable[[Event], None] = lambda event: None
    on_text: OnText | None = None
    sandbox_tier: str = "none"
    hooks: Hooks = field(default_factory=NoHooks)  # the user's hook commands (agent/hooks.py)

    def record(self, event: Event) -> None:
        """An event of the run: written to its trajectory, then shown (CLI, TUI, `--json`)."""
        self.trajectory.record(event)
        self.emit(event)


def stats_json(stats: Any) -> dict[str, Any]:
    """A model call's cost as the trajectory, `--json` and the TUI show it. `prefill_s` is the time to the first
    token (the prompt's evaluation, which a local model pays in full for every token not in its cache) and
    `decode_s` the rest; `cache_share` is the part of the prompt served from the KV cache (or a warm start)."""
    prompt, evaluated = stats.prompt_tokens, stats.evaluated_prompt_tokens
    ttft, total = stats.time_to_first_token_s, stats.total_s
    return {
        "prompt_tokens": prompt, "evaluated_prompt_tokens": evaluated,
        "cached_prompt_tokens": prompt - evaluated,
        "warm_tokens": stats.warm_tokens,  # of the cached ones, those a warm start restored from disk
        "cache_share": round((prompt - evaluated) / prompt, 3) if prompt else 0.0,
        "generated_tokens": stats.generated_tokens, "time_to_first_token_s": round(ttft, 4),
        "prefill_s": round(ttft, 4), "decode_s": round(max(total - ttft, 0.0), 4),
        "prefill_tokens_per_s": round(evaluated / ttft, 1) if ttft > 0 and evaluated else 0.0,
        "decode_tokens_per_s": round(stats.decode_tokens_per_s, 2),
        "total_s": round(total, 4),
    }


def timing_parts(stats: dict[str, Any]) -> list[str]:
    """A turn's prompt read (how much the cache served, the prefill's time) apart from its decoding."""
    parts = []
    prompt, evaluated = int(stats.get("prompt_tokens") or 0), int(stats.get("evaluated_prompt_tokens") or 0)
    ttft = float(stats.get("time_to_first_token_s") or 0.0)
    if prompt:
        warm = int(stats.get("warm_tokens") or 0)
        parts.append(f"{(prompt - evaluated) / prompt:.0%} of {prompt:,} cached" + (f" ({warm:,} from disk)" if warm
                                                                                     else ""))
    if ttft:
        parts.append(f"prefill {evaluated:,} in {ttft:.2f}s")
    speed = tokens_per_second(stats)
    if speed:
        parts.append(f"{speed:.1f} tok/s")
    return parts


def tokens_per_second(stats: dict[str, Any]) -> float:
    """Decode speed as the backend measured it (`GenerationStats.decode_tokens_per_s`); 0 when unknown."""
    return float(stats.get("decode_tokens_per_s") or 0.0)
