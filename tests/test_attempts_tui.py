"""Attempts in the TUI (a Textual pilot): /attempts 2 shows in the status bar, a task runs twice in worktrees,
the ranking lands in the transcript, /attempts show lists each attempt's diff, /attempts apply K picks another."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import make_app, send, texts, wait_until

from ornith_local.tui.screens.info import ViewScreen
from tests.test_attempts import SOURCE, fixes, gives_up

pytestmark = pytest.mark.anyio
FIXED = "quantity >= minimum"


async def test_attempts_run_from_the_tui_and_another_can_be_applied(example_repo: Path) -> None:
    judge = '{"verdict": "approve", "reason": "a general fix"}'  # the TUI's runs have the judge review the diff
    app = make_app(example_repo, [*gives_up(), *fixes(), judge], mode="auto")
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: app.status.model is not None, "the model")
        await send(pilot, "/attempts 2")
        assert app.options.attempts == 2 and "2 attempts" in str(app.status.render())
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: app.running, "the start of the run")
        await wait_until(pilot, lambda: not app.running, "the end of the attempts", timeout=180)
        assert app.last_outcome == "verified", texts(app.transcript)[-3000:]
        assert FIXED in (example_repo / SOURCE).read_text()
        transcript = texts(app.transcript)
        assert "→ 2  verified" in transcript and "applied: attempt 2" in transcript
        await send(pilot, "/attempts show")
        await wait_until(pilot, lambda: isinstance(app.screen, ViewScreen), "the ranking")
        shown = texts(app.screen)
        assert "attempt 1 (" in shown and "attempt 2 (verified)" in shown
        assert "+        if quantity >= minimum:" in shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ViewScreen), "the ranking to close")
        await send(pilot, "/attempts apply 1")  # the attempt that changed nothing: the tree as it was
        await wait_until(pilot, lambda: FIXED not in (example_repo / SOURCE).read_text(), "attempt 1 applied")
