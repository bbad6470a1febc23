"""Runtime events to widgets: the same renderer draws a live run and the replay of a past one."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ornith_local.tui.widgets.scaffold_panel import ScaffoldPanel
from ornith_local.tui.widgets.status_bar import StatusBar
from ornith_local.tui.widgets.transcript import ModelTurn, Notice, ToolCard, Transcript, UserEntry, markup

OUTCOME_STYLE = {"verified": "$success", "flagged": "$error", "failed": "$error", "aborted": "$warning",
                 "error": "$error", "interrupted": "$warning"}
PHASES = {"start": "writing the scaffold", "replan": "writing a new scaffold", "checks": "reviewing the diff"}


class EventRenderer:
    """Feeds one run's events (and streamed text) into a transcript, a scaffold panel and a status bar."""

    def __init__(self, transcript: Transcript, panel: ScaffoldPanel | None = None,
                 status: StatusBar | None = None, *, replay: bool = False) -> None:
        self.transcript = transcript
        self.panel = panel
        self.status = status
        self.replay = replay
        self.turn: ModelTurn | None = None
        self.card: ToolCard | None = None
        self.step_index = 0
        self.phase = ""
        self.outcome = ""
        self.tools: list[dict[str, Any]] | None = None

    # --- streamed text ---------------------------------------------------------------------------

    def text(self, piece: str) -> None:
        if self.turn is None or self.turn.finished:
            self.turn = ModelTurn(self.tools)
            self.transcript.add(self.turn)
        self.turn.feed(piece)
        self.phase = "generating"

    # --- events ----------------------------------------------------------------------------------

    def event(self, name: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{name}", None)
        if handler is not None:
            handler(data)
        self.phase = PHASES.get(name, self.phase)

    def on_start(self, data: dict[str, Any]) -> None:
        self.tools = list(data.get("tools") or []) or None
        if self.replay:
            self.transcript.add(UserEntry(str(data.get("task", "")), label="task"))
        self.transcript.add(Notice(Content(
            f"model {data.get('backend')} · n_ctx {data.get('n_ctx')} · mode {data.get('mode')} · "
            f"scaffold {data.get('scaffold_mode')} · sandbox {data.get('sandbox', '?')}"), "dim"))
        if self.panel is not None:
            self.panel.reset()
        if self.status is not None:
            self.status.new_run()
            self.status.sandbox = str(data.get("sandbox") or "")

    def on_resumed(self, data: dict[str, Any]) -> None:
        done = ", ".join(data.get("finished_steps") or []) or "none"
        self.transcript.add(Notice(Content(f"resumed after {data.get('turns', 0)} turns (finished steps: {done})"),
                                   "warning"))

    def on_scaffold(self, data: dict[str, Any]) -> None:
        scaffold = data.get("scaffold") or {}
        notes = [str(note) for note in data.get("clamp_notes") or []]
        steps = scaffold.get("steps") or []
        names = " → ".join(str(step.get("name")) for step in steps)
        self.transcript.add(Notice(markup("[b]scaffold[/] ($kind, $count steps): $names", kind=scaffold.get(
            "task_kind", "?"), count=len(steps), names=names), "scaffold"))
        for note in notes:
            self.transcript.add(Notice(markup("[$warning]clamped:[/] $note", note=note), "dim"))
        if self.panel is not None:
            self.panel.set_scaffold(scaffold, notes)

    def on_scaffold_fallback(self, data: dict[str, Any]) -> None:
        self.transcript.add(Notice(markup("[$warning]the model's scaffold was unusable:[/] $reason; "
                                          "using the fixed scaffold", reason=data.get("reason", "")), "warning"))

    def on_step_start(self, data: dict[str, Any]) -> None:
        self.step_index = int(data.get("index") or 0)
        self.turn = None
        self.transcript.add(Notice(markup("[b $accent]▶ step $index/$total: $step[/]", index=data.get("index"),
                                          total=data.get("total"), step=data.get("step")), "step"))
        if self.panel is not None:
            self.panel.step_start(self.step_index)
        self.phase = f"step {data.get('index')}/{data.get('total')}: {data.get('step')}"

    def on_model_turn(self, data: dict[str, Any]) -> None:
        if self.turn is None or self.turn.finished:
            self.turn = ModelTurn(self.tools)
            self.transcript.add(self.turn)
        self.turn.finish(data)
        if self.panel is not None:
            self.panel.model_turn(self.step_index, int(data.get("turn") or 0))
        if self.status is not None:
            self.status.turn_stats(data.get("stats") or {})

    def on_tool_call(self, data: dict[str, Any]) -> None:
        findings = list(data.get("findings") or [])
        self.card = ToolCard(str(data.get("tool")), dict(data.get("arguments") or {}), findings)
        self.transcript.add(self.card)
        if findings and self.status is not None:
            self.status.refused_calls(len(findings))
        self.phase = f"running {data.get('tool')}"

    def on_approval(self, data: dict[str, Any]) -> None:
        if self.card is not None:
            self.card.approval(str(data.get("answer")))

    def on_tool_result(self, data: dict[str, Any]) -> None:
        if self.card is None or self.card.tool != data.get("tool"):
            self.card = ToolCard(str(data.get("tool")), {}, [])
            self.transcript.add(self.card)
        self.card.result(data)

    def on_loop_broken(self, data: dict[str, Any]) -> None:
        self.transcript.add(Notice(markup("[$warning]repeated call to $tool not run again[/]",
                                          tool=data.get("tool")), "warning"))

    def on_step_end(self, data: dict[str, Any]) -> None:
        status = str(data.get("status"))
        style = {"done": "$success", "replan": "$warning"}.get(status, "$error")
        self.transcript.add(Notice(markup(f"[{style}]$status[/]: $summary", status=status,
                                          summary=data.get("summary", "")), "step-end"))
        if self.panel is not None:
            self.panel.step_end(self.step_index, status, str(data.get("summary", "")))
        self.phase = "checking" if status == "done" else self.phase

    def on_replan(self, data: dict[str, Any]) -> None:
        self.transcript.add(Notice(markup("[$warning]↺ replanning:[/] $reason", reason=data.get("reason", "")),
                                   "warning"))
        if self.panel is not None:
            self.panel.replan(str(data.get("reason", "")))

    def on_compacted(self, data: dict[str, Any]) -> None:
        self.transcript.add(Notice(Content(f"context compacted ({data.get('tokens_before')} tokens → budget "
                                           f"{data.get('budget')})"), "dim"))

    def on_checks(self, data: dict[str, Any]) -> None:
        lines = [Static(markup("[b]Checks[/]"))]
        for check in data.get("checks") or []:
            mark = "[$success]✓[/]" if check.get("passed") else "[$error]✗[/]"
            lines.append(Static(markup(f"{mark} $command: $summary", command=check.get("command", ""),
                                       summary=check.get("summary", ""))))
        self.transcript.add(Vertical(*lines, classes="checks"))

    def on_judge(self, data: dict[str, Any]) -> None:
        style = "$success" if data.get("verdict") == "approve" else "$error"
        self.transcript.add(Notice(markup(f"[b]judge:[/] [{style}]$verdict[/] — $reason",
                                          verdict=data.get("verdict"), reason=data.get("reason", "")), "judge"))

    def on_end(self, data: dict[str, Any]) -> None:
        self.outcome = outcome = str(data.get("outcome"))
        findings = data.get("findings") or []
        label = "gaming suspected" if outcome == "flagged" else outcome
        lines = [markup(f"[b]outcome[/] [{OUTCOME_STYLE.get(outcome, '')} b]$label[/]$error", label=label,
                        error=f" ({data['error']})" if data.get("error") else "")]
        rules = sorted({str(finding.get("rule")) for finding in findings})
        lines.append(Content(f"guard: sandbox ✓ · monitor: {', '.join(rules) if rules else 'clean'}"))
        tokens = data.get("tokens") or {}
        lines.append(Content(f"tokens: {tokens.get('evaluated', 0)} evaluated of {tokens.get('prompt', 0)} prompt, "
                             f"{tokens.get('generated', 0)} generated · {data.get('turns', 0)} turns · "
                             f"{data.get('elapsed_s', 0)} s"))
        changed = data.get("files_changed") or []
        lines.append(Content(f"files changed: {', '.join(changed) if changed else 'none'}"))
        if changed and not self.replay:
            lines.append(markup("[$text-muted]/diff to review · /undo to restore the files as they were[/]"))
        box = Vertical(*(Static(line) for line in lines), classes=f"summary {outcome}")
        self.transcript.add(box)
        if self.panel is not None:
            self.panel.finish(outcome)
        if self.status is not None:
            self.status.outcome(outcome)
        self.phase = ""

    def on_interrupted(self, data: dict[str, Any]) -> None:
        if self.panel is not None:
            self.panel.finish("interrupted")
        self.transcript.add(Notice(markup("[$warning]interrupted.[/] The run stopped cleanly; resume it from "
                                          "/sessions (session $session).", session=data.get("session", "?")),
                                   "warning"))

