"""Long silent work shows progress (a prompt read, a plan written): the session's throttles and how `ornith run`
prints them on a terminal and into a log."""

from __future__ import annotations

import io
import itertools

import pytest
from rich.console import Console

from ornith_local.agent.events import Event, Prefilling, StepStarted, Writing
from ornith_local.cli.commands import run as run_command
from ornith_local.llm.backend import PrefillProgress
from ornith_local.session import prefill_reporter, writing_reporter


def reported(steps: list[tuple[int, int, float]]) -> list[tuple[int, float]]:
    seen: list[Event] = []
    report = prefill_reporter(seen.append)
    for evaluated, total, elapsed in steps:
        report(PrefillProgress(evaluated, total, elapsed))
    return [(event.evaluated, event.elapsed_s) for event in seen if isinstance(event, Prefilling)]


def test_a_slow_read_is_shown_from_its_first_second_twice_a_second_and_at_its_end() -> None:
    slow = [(256 * i, 4096, 0.3 * i) for i in range(1, 16)] + [(4096, 4096, 4.9)]
    shown = reported(slow)
    assert shown[0] == (256 * 4, pytest.approx(1.2))  # nothing in the first second
    assert all(b[1] - a[1] >= 0.5 for a, b in itertools.pairwise(shown[:-1]))
    assert shown[-1] == (4096, 4.9)  # the end closes the progress line


def test_a_fast_read_shows_nothing_and_each_prompt_starts_afresh() -> None:
    assert reported([(256, 512, 0.2), (512, 512, 0.4)]) == []
    two = reported([(256, 1024, 1.5), (1024, 1024, 2.0), (256, 1024, 1.2), (1024, 1024, 1.4)])
    assert two == [(256, 1.5), (1024, 2.0), (256, 1.2), (1024, 1.4)]


def test_into_a_log_ornith_run_writes_a_progress_line_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(run_command, "stderr", Console(file=buffer, force_terminal=False, width=200))
    printer = run_command.EventPrinter()
    for tenth in range(10, 250, 5):  # from 1 s to 24.5 s, twice a second
        printer(Prefilling(evaluated=tenth * 100, total=30_000, elapsed_s=tenth / 10))
    printer(Prefilling(evaluated=30_000, total=30_000, elapsed_s=25.0))
    lines = buffer.getvalue().splitlines()
    assert lines == [
        "  reading the prompt: 1,000/30,000 tokens (1 s)",
        "  reading the prompt: 11,000/30,000 tokens (11 s)",
        "  reading the prompt: 21,000/30,000 tokens (21 s)",
        "  reading the prompt: 30,000/30,000 tokens (25 s)",
    ]


def test_a_plan_written_slowly_is_counted_from_its_first_token_and_heartbeats_are_not_tokens() -> None:
    now = [0.0]
    seen: list[Event] = []
    on_text = writing_reporter(seen.append, clock=lambda: now[0])("the plan")
    for token in range(13):  # 5 s reading the prompt, then a token every 0.25 s, each followed by a heartbeat
        now[0] = 5.0 + token * 0.25
        on_text("tok")
        on_text("")
    shown = [(event.tokens, event.elapsed_s) for event in seen if isinstance(event, Writing)]
    # The prompt's reading has its own progress line: the plan's clock starts at its first token.
    assert shown == [(5, 1.0), (7, 1.5), (9, 2.0), (11, 2.5), (13, 3.0)]
    assert {event.what for event in seen if isinstance(event, Writing)} == {"the plan"}
    quick = writing_reporter(seen.append, clock=lambda: now[0])("the review")
    now[0] += 30.0
    quick("verdict")  # a fresh generation starts its own clock: nothing shown in its first second
    assert not any(isinstance(event, Writing) and event.what == "the review" for event in seen)


def test_on_a_terminal_the_progress_line_is_rewritten_in_place_and_cleared_by_the_next_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(run_command, "stderr", Console(file=buffer, force_terminal=True, width=200))
    monkeypatch.setattr(run_command, "stdout", Console(file=buffer, force_terminal=True, width=200))
    printer = run_command.EventPrinter()
    printer(Writing(what="the plan", tokens=1, elapsed_s=1.2))
    printer(Writing(what="the plan", tokens=40, elapsed_s=3.9))
    printer(StepStarted(index=1, total=2, step="understand"))
    shown = buffer.getvalue()
    assert "\r  writing the plan: 1 token (1 s)\x1b[K\r  writing the plan: 40 tokens (4 s)\x1b[K\r\x1b[K" in shown
    assert shown.index("\r\x1b[K") < shown.index("understand")  # the line is gone before the step is printed
