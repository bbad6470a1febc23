"""The status bar: model and quantisation, backend, GPU layers, context, KV-cache share, decode speed, time to
first token (the prefill), sandbox, guard, mode."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from ornith_local.agent.deps import tokens_per_second
from ornith_local.tui.modelinfo import ModelInfo
from ornith_local.tui.widgets.transcript import markup

GUARD_STYLE = {"clean": "$success", "refused": "$warning", "flagged": "$error"}


def compact(tokens: int) -> str:
    return f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)


class StatusBar(Widget):
    """One line at the bottom; every field is reactive and set from runtime events."""

    model: reactive[ModelInfo | None] = reactive(None)
    loading_label: reactive[str] = reactive("")
    context_used = reactive(0)
    tokens_per_s = reactive(0.0)
    ttft_s = reactive(0.0)
    cache_share = reactive(-1.0)  # of the last turn's prompt, the part the KV cache served; negative: no turn yet
    sandbox = reactive("")
    guard = reactive("clean")
    refused = reactive(0)
    mode = reactive("ask")
    scaffold_mode = reactive("self")
    attempts = reactive(1)

    def render(self) -> Content:
        # (field, rank): on a narrow terminal the lowest ranks go first; the model, mode, sandbox and guard stay.
        info = self.model
        fields: list[tuple[Content, int]] = []
        if info is None:
            fields.append((markup("[$warning]$what[/]", what=self.loading_label or "no model loaded (/model)"), 9))
        else:
            quant = f" {info.quantisation}" if info.quantisation else ""
            fields.append((markup("[b]$name[/]$quant", name=info.name, quant=quant), 9))
            fields.append((Content(info.backend), 1))
            if info.gpu_layers:
                fields.append((Content(f"GPU {info.gpu_layers}"), 2))
            fields.append((Content(f"ctx {compact(self.context_used)}/{compact(info.n_ctx)}"), 5))
        if self.cache_share >= 0:
            fields.append((Content(f"cache {self.cache_share:.0%}"), 2))
        fields.append((Content(f"{self.tokens_per_s:.1f} tok/s" if self.tokens_per_s else "– tok/s"), 4))
        fields.append((Content(f"TTFT {self.ttft_s:.2f}s" if self.ttft_s else "TTFT –"), 3))
        fields.append((Content(f"sandbox {self.sandbox or '–'}"), 9))
        guard = self.guard if self.guard != "refused" else f"{self.refused} refused"
        fields.append((markup(f"guard [{GUARD_STYLE.get(self.guard, '')}]$guard[/]", guard=guard), 9))
        fixed = " · fixed scaffold" if self.scaffold_mode == "fixed" else ""
        fixed += f" · {self.attempts} attempts" if self.attempts > 1 else ""
        fields.append((markup("mode [b]$mode[/]$fixed", mode=self.mode, fixed=fixed), 9))
        width = self.content_size.width or 10_000
        line = Content(" · ").join(content for content, _ in fields)
        for rank in range(1, 9):
            if line.cell_length <= width:
                break
            fields = [(content, kept) for content, kept in fields if kept != rank]
            line = Content(" · ").join(content for content, _ in fields)
        return line

    def turn_stats(self, stats: dict[str, Any]) -> None:
        self.context_used = int(stats.get("prompt_tokens") or 0) + int(stats.get("generated_tokens") or 0)
        speed = tokens_per_second(stats)
        if speed:
            self.tokens_per_s = speed
        ttft = float(stats.get("time_to_first_token_s") or 0.0)
        if ttft:
            self.ttft_s = ttft
        prompt = int(stats.get("prompt_tokens") or 0)
        if prompt:
            self.cache_share = (prompt - int(stats.get("evaluated_prompt_tokens") or 0)) / prompt

    def refused_calls(self, count: int) -> None:
        """Calls the monitor refused during the run (a notice, not a flag)."""
        self.refused += count
        if self.refused and self.guard == "clean":
            self.guard = "refused"

    def outcome(self, outcome: str) -> None:
        if outcome == "flagged":
            self.guard = "flagged"

    def new_run(self) -> None:
        self.guard, self.refused = "clean", 0
