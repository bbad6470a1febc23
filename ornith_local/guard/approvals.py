"""Ask mode: which calls need a person's yes, and remembering "always" for the rest of the run.

Which calls: by the tool's declared effect (edits and commands in ask mode; every command when the
sandbox is the weak tier). What the person sees is the tool's own preview of the call, so the CLI
prompt and the TUI screen show the same diff or command, and it is never empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from ornith_local.tools.base import CallPreview, Effect

Answer = Literal["yes", "no", "always"]
Ask = Callable[[str, CallPreview, str], str]  # (tool, preview, sandbox tier) -> "yes" | "no" | "always"


class Approvals:
    """`needs`: the effects that need a yes. `also`: tools that need one whatever their effect (on the weak
    sandbox tier, run_tests too: it runs the project's code with nothing around it)."""

    def __init__(self, needs: frozenset[Effect] = frozenset(), ask: Ask | None = None, tier: str = "?",
                 also: frozenset[str] = frozenset()) -> None:
        self.needs, self.ask, self.tier, self.also = needs, ask, tier, also
        self.always: set[str] = set()

    @classmethod
    def for_mode(cls, mode: str, ask: Ask | None, tier: str, *, unsandboxed: bool = False,
                 test_tools: frozenset[str] = frozenset()) -> Approvals:
        """Ask mode: edits and commands. The weak tier: every command and test run, whatever the mode."""
        needs: set[Effect] = {"edit", "exec"} if mode == "ask" else set()
        if unsandboxed:
            needs.add("exec")
        return cls(frozenset(needs), ask, tier, also=test_tools if unsandboxed else frozenset())

    def required(self, tool: str, effect: Effect | None) -> bool:
        return (effect in self.needs or tool in self.also) and tool not in self.always

    def decide(self, tool: str, preview: CallPreview) -> Answer:
        """The person's answer (no one to ask is a no); "always" holds for this tool until the run ends."""
        answer = self.ask(tool, preview, self.tier) if self.ask is not None else "no"
        if answer == "always":
            self.always.add(tool)
            return "always"
        return "yes" if answer == "yes" else "no"
