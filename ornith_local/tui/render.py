"""The loop's events to widgets: the same renderer draws a live run and the replay of a past one."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ornith_local.agent import events
from ornith_local.agent.evidence import Evidence
from ornith_local.tools.testing import CANNOT_RUN, NO_SUITE
from ornith_local.tui.attempts import ranking_lines
from ornith_local.tui.widgets.scaffold_panel import ScaffoldPanel
from ornith_local.tui.widgets.status_bar import StatusBar
from ornith_local.tui.widgets.transcript import ModelTurn, Notice, ToolCard, Transcript, UserEntry, markup

OUTCOME_STYLE = {"verified": "$success", "flagged": "$error", "failed": "$error", "aborted": "$warning",
                 "error": "$error", "interrupted": "$warning", "unverified": "$warning"}


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
        self.prefill: events.Prefilling | None = None  # a long prompt still being read: the activity line says so
        self.writing: events.Writing | None = None  # unstreamed text (the plan, the review) being written

    # --- streamed text ---------------------------------------------------------------------------

    def text(self, piece: str) -> None:
        self.prefill = None
        if self.turn is None or self.turn.finished:
            self.turn = ModelTurn(self.tools)
            self.transcript.add(self.turn)
        self.turn.feed(piece)
        self.phase = "generating"

    # --- events ---------------------------------------------------------------------------------

    def event(self, event: events.Event) -> None:
        if not isinstance(event, (events.Prefilling, events.Writing)):
            self.writing = None  # whatever was being written has been written
        match event:
            case events.Prefilling():
                self.prefill = event if event.evaluated < event.total else None
            case events.Writing():
                self.writing = event
            case events.RunStarted():
                self.started(event)
            case events.Resumed():
                done = ", ".join(event.finished_steps) or "none"
                self.transcript.add(Notice(Content(f"resumed after {event.turns} turns (finished steps: {done})"),
                                           "warning"))
            case events.ScaffoldChosen():
                self.scaffold(event)
            case events.StepStarted():
                self.step_started(event)
            case events.ModelTurn():
                self.model_turn(event)
            case events.ToolCalled():
                self.card = ToolCard(event.tool, dict(event.arguments), list(event.findings))
                self.transcript.add(self.card)
                if event.findings and self.status is not None:
                    self.status.refused_calls(len(event.findings))
                self.phase = f"running {event.tool}"
            case events.Approval():
                if self.card is not None:
                    self.card.approval(event.answer)
            case events.ToolFinished():
                if self.card is None or self.card.tool != event.tool:
                    self.card = ToolCard(event.tool, {}, [])
                    self.transcript.add(self.card)
                self.card.result(event)
            case events.SetupWarning():
                self.transcript.add(Notice(markup("[$warning]warning:[/] $text", text=event.text), "warning"))
            case events.QuirkApplied():
                self.transcript.add(Notice(markup("[$warning]$quirk:[/] $detail", quirk=event.quirk,
                                                  detail=event.detail), "warning"))
            case events.HookRan() if event.status != "ok":  # a hook that blocked, spoke or failed
                self.transcript.add(Notice(markup("[$warning]hook $hook $status:[/] $detail", hook=event.hook_event,
                                                  status=event.status, detail=event.detail or event.command),
                                           "warning" if event.status in ("blocked", "feedback") else "error"))
            case events.StepEnded():
                self.step_ended(event)
            case events.Replanned():
                self.transcript.add(Notice(markup("[$warning]↺ replanning:[/] $reason", reason=event.reason),
                                           "warning"))
                if self.panel is not None:
                    self.panel.replan(event.reason)
                self.phase = "writing a new scaffold"
            case events.Compacted():
                self.transcript.add(Notice(Content(f"context compacted ({event.tokens_before} tokens → budget "
                                                   f"{event.budget})"), "dim"))
            case events.ChecksRan():
                lines = [Static(markup("[b]Checks[/]"))]
                for check in event.checks:
                    mark = "[$success]✓[/]" if check.get("passed") else "[$error]✗[/]"
                    lines.append(Static(markup(f"{mark} $command: $summary", command=check.get("command", ""),
                                               summary=check.get("summary", ""))))
                self.transcript.add(Vertical(*lines, classes="checks"))
                self.phase = "reviewing the diff"
            case events.Reproduction():
                self.transcript.add(Notice(Content(event.detail), "reproduction"))
            case events.Judged():
                style = "$success" if event.verdict == "approve" else "$error"
                self.transcript.add(Notice(markup(f"[b]judge:[/] [{style}]$verdict[/] — $reason",
                                                  verdict=event.verdict, reason=event.reason), "judge"))
            case events.AttemptsRanked():
                for line in ranking_lines(event):
                    self.transcript.add(Notice(line, "success" if line.startswith("→") else "info"))
            case events.RunEnded():
                self.ended(event)

    def started(self, event: events.RunStarted) -> None:
        self.tools = list(event.tools) or None
        if self.replay:
            self.transcript.add(UserEntry(event.task, label="task"))
        quirks = f" · quirks {', '.join(event.quirks)}" if event.quirks else ""
        thinking = f" · thinks first (≤{event.thinking:,} tokens)" if event.thinking else ""
        self.transcript.add(Notice(Content(
            f"model {event.backend} · n_ctx {event.n_ctx} · mode {event.mode} · "
            f"scaffold {event.scaffold_mode} · sandbox {event.sandbox}{quirks}{thinking}"), "dim"))
        if event.tests:
            cannot = event.tests.startswith((CANNOT_RUN, NO_SUITE))
            self.transcript.add(Notice(Content(f"tests: {event.tests}"), "error" if cannot else "dim"))
        if self.panel is not None:
            self.panel.reset()
        if self.status is not None:
            self.status.new_run()
            self.status.sandbox = event.sandbox
        self.phase = "writing the scaffold"

    def scaffold(self, event: events.ScaffoldChosen) -> None:
        scaffold, notes = event.scaffold, list(event.clamp_notes)
        if event.fallback:
            self.transcript.add(Notice(markup("[$warning]the model's scaffold was unusable:[/] $reason; "
                                              "using the fixed scaffold", reason=event.fallback), "warning"))
            notes = notes[1:]  # the first note says the same
        steps = scaffold.get("steps") or []
        names = " → ".join(str(step.get("name")) for step in steps)
        self.transcript.add(Notice(markup("[b]scaffold[/] ($kind, $count steps): $names", kind=scaffold.get(
            "task_kind", "?"), count=len(steps), names=names), "scaffold"))
        for note in notes:
            self.transcript.add(Notice(markup("[$warning]clamped:[/] $note", note=note), "dim"))
        if self.panel is not None:
            self.panel.set_scaffold(scaffold, notes)

    def step_started(self, event: events.StepStarted) -> None:
        self.step_index = event.index
        self.turn = None
        self.transcript.add(Notice(markup("[b $accent]▶ step $index/$total: $step[/]", index=event.index,
                                          total=event.total, step=event.step), "step"))
        if self.panel is not None:
            self.panel.step_start(self.step_index)
        self.phase = f"step {event.index}/{event.total}: {event.step}"

    def model_turn(self, event: events.ModelTurn) -> None:
        if self.turn is None or self.turn.finished:
            self.turn = ModelTurn(self.tools)
            self.transcript.add(self.turn)
        self.turn.finish(event)
        if self.panel is not None:
            self.panel.model_turn(self.step_index, event.turn)
        if self.status is not None:
            self.status.turn_stats(event.stats)

    def step_ended(self, event: events.StepEnded) -> None:
        style = {"done": "$success", "replan": "$warning"}.get(event.status, "$error")
        self.transcript.add(Notice(markup(f"[{style}]$status[/]: $summary", status=event.status,
                                          summary=event.summary), "step-end"))
        if self.panel is not None:
            self.panel.step_end(self.step_index, event.status, event.summary)
        self.phase = "checking" if event.status == "done" else self.phase

    def ended(self, event: events.RunEnded) -> None:
        self.outcome = outcome = event.outcome
        label = "gaming suspected" if outcome == "flagged" else outcome
        lines = [markup(f"[b]outcome[/] [{OUTCOME_STYLE.get(outcome, '')} b]$label[/]$reason", label=label,
                        reason=f" ({event.reason})" if event.reason else "")]
        if event.evidence is not None:
            lines.append(Content(f"evidence: {Evidence.from_json(event.evidence).summary()}"))
        rules = sorted({str(finding.get("rule")) for finding in event.findings})
        lines.append(Content(f"guard: sandbox ✓ · monitor: {', '.join(rules) if rules else 'clean'}"))
        tokens = event.tokens
        lines.append(Content(f"tokens: {tokens.get('evaluated', 0)} evaluated of {tokens.get('prompt', 0)} prompt, "
                             f"{tokens.get('generated', 0)} generated · {event.turns} turns · "
                             f"{event.elapsed_s} s"))
        changed = event.files_changed
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

    def interrupted(self, session: str | None) -> None:
        """The run's thread stopped on an interrupt (no event: the trajectory has no end, so it can resume)."""
        if self.panel is not None:
            self.panel.finish("interrupted")
        self.transcript.add(Notice(markup("[$warning]interrupted.[/] The run stopped cleanly; resume it from "
                                          "/sessions (session $session).", session=session or "?"), "warning"))
