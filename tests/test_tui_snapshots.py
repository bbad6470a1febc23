"""SVG snapshots of the main screens (pytest-textual-snapshot), drawn from fixed events.

Nothing in them depends on the clock, the machine or tmp paths: the events carry fixed timings, the
repo path shown is fixed, session times are rendered in UTC, and the cursor does not blink.
Update after an intended change with: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_support import EDIT, call, make_app, type_text

from ornith_local.agent.events import from_json
from ornith_local.agent.trajectory import sessions_dir
from ornith_local.tools.edit import EditFile
from ornith_local.tools.workspace import Workspace
from ornith_local.tui.bridge import ApprovalRequest
from ornith_local.tui.modelinfo import ModelInfo
from ornith_local.tui.render import EventRenderer
from ornith_local.tui.screens.approval import ApprovalScreen
from ornith_local.tui.screens.sessions import ReplayScreen, SessionsScreen

SIZE = (130, 40)
MODEL = ModelInfo("gemma-3-270m", "Q4_K_M", "llama.cpp CPU", "0/18", 16384)
STEPS = [
    {"name": "locate", "intent": "find the bulk discount rule", "tools": ["read_file", "search"], "turn_budget": 3,
     "exit_condition": "found", "on_failure": "replan", "max_retries": 1},
    {"name": "fix", "intent": "change > to >=", "tools": ["edit_file"], "turn_budget": 3, "exit_condition": "fixed",
     "on_failure": "retry", "max_retries": 1},
]
SCAFFOLD = {"task_kind": "fix_bug", "goal": "exactly 10 items get the 5% rate", "steps": STEPS,
            "acceptance_checks": [], "limits": {"max_total_turns": 12, "max_replans": 2, "max_wall_s": 900}}
DIFF = ("--- a/invoicing/discounts.py\n+++ b/invoicing/discounts.py\n@@ -19,5 +19,5 @@\n"
        "     for minimum, rate in BULK_TIERS:\n-        if quantity > minimum:\n+        if quantity >= minimum:\n"
        "             return rate\n")
STATS = {"prompt_tokens": 2412, "evaluated_prompt_tokens": 312, "generated_tokens": 48,
         "time_to_first_token_s": 0.82, "total_s": 3.9, "decode_tokens_per_s": 15.26}
TASK = "Fix the bulk discount: buying exactly 10 items should give the 5% rate"
READ = "\n".join(f"{n:>3}│line {n}" for n in range(1, 36))
EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("start", {"task": TASK, "mode": "ask", "scaffold_mode": "self", "backend": MODEL.name, "n_ctx": 16384,
               "sandbox": "bwrap"}),
    ("scaffold", {"scaffold": SCAFFOLD, "clamp_notes": ["step 'fix': turn budget 5 -> 3"]}),
    ("step_start", {"step": "locate", "index": 1, "total": 2}),
    ("model_turn", {"step": "locate", "turn": 1, "stats": STATS, "finish_reason": "stop", "problems": [],
                    "text": "<think>The tiers use >, so 10 items fall through.</think>I will read the rule first."
                            + call("read_file", path="invoicing/discounts.py")}),
    ("tool_call", {"step": "locate", "tool": "read_file", "arguments": {"path": "invoicing/discounts.py"},
                   "findings": []}),
    ("tool_result", {"tool": "read_file", "ok": True, "title": "read invoicing/discounts.py lines 1-35 of 35",
                     "text": READ, "diff": None}),
    ("step_end", {"step": "locate", "status": "done", "summary": "bulk_discount_rate compares with >", "turns": 2}),
    ("step_start", {"step": "fix", "index": 2, "total": 2}),
    ("model_turn", {"step": "fix", "turn": 1, "stats": STATS, "finish_reason": "stop", "problems": [],
                    "text": call("edit_file", **EDIT)}),
    ("tool_call", {"step": "fix", "tool": "edit_file", "arguments": EDIT, "findings": []}),
    ("approval", {"tool": "edit_file", "answer": "yes"}),
    ("tool_result", {"tool": "edit_file", "ok": True, "title": "edited invoicing/discounts.py (+1 -1)",
                     "text": "edited", "diff": DIFF}),
    ("step_end", {"step": "fix", "status": "done", "summary": "changed > to >=", "turns": 1}),
    ("checks", {"checks": [{"name": "tests", "command": "python -m pytest", "passed": True,
                            "summary": "12 passed, 0 failed"}]}),
    ("judge", {"verdict": "approve", "reason": "a general fix of the comparison"}),
    ("end", {"outcome": "verified", "turns": 3, "tokens": {"prompt": 7236, "evaluated": 2600, "generated": 144},
             "elapsed_s": 21.4, "findings": [], "files_changed": ["invoicing/discounts.py"], "error": None}),
]


def fixed_title(pilot: Pilot[Any]) -> None:
    pilot.app.sub_title = "~/src/invoicing"


def after_a_run(theme: str = "textual-dark") -> Callable[[Pilot[Any]], Any]:
    async def draw(pilot: Pilot[Any]) -> None:
        app: Any = pilot.app
        app.theme = theme
        fixed_title(pilot)
        app.status.model = MODEL
        renderer = EventRenderer(app.transcript, app.panel, app.status)
        for name, data in EVENTS:
            event = from_json({"type": name, **data})
            assert event is not None, name
            renderer.event(event)
        await pilot.pause()
        app.transcript.scroll_end(animate=False)
        await pilot.pause()

    return draw


def test_main_screen_after_a_run(example_repo: Path, snap_compare: Any) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=after_a_run())


def test_main_screen_light_theme(example_repo: Path, snap_compare: Any) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=after_a_run("textual-light"))


def test_welcome_screen_with_path_completion(example_repo: Path, snap_compare: Any) -> None:
    async def draw(pilot: Pilot[Any]) -> None:
        fixed_title(pilot)
        await type_text(pilot, "explain @inv")

    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=draw)


def test_approval_screen(example_repo: Path, snap_compare: Any) -> None:
    async def draw(pilot: Pilot[Any]) -> None:
        fixed_title(pilot)
        preview = EditFile(Workspace.at(example_repo)).preview(EDIT)
        await pilot.app.push_screen(ApprovalScreen(ApprovalRequest("edit_file", preview, "bwrap"), example_repo))

    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=draw)


def write_sessions() -> list[Path]:
    folder = sessions_dir()
    folder.mkdir(parents=True, exist_ok=True)
    base = 1_800_000_000.0  # fixed times, shown in UTC
    runs = [("20270115-080000-aaaaaa", EVENTS, base), ("20270115-090000-bbbbbb", EVENTS[:8], base + 3600)]
    paths = []
    for session_id, events, start in runs:
        path = folder / f"{session_id}.jsonl"
        with path.open("w") as handle:
            for offset, (name, data) in enumerate(events):
                handle.write(json.dumps({"type": name, "time": start + offset, **data}) + "\n")
        paths.append(path)
    return sorted(paths, reverse=True)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_sessions_screen(example_repo: Path, snap_compare: Any, utc: None) -> None:
    paths = write_sessions()

    async def draw(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SessionsScreen(paths))

    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=draw)


def test_replay_screen(example_repo: Path, snap_compare: Any) -> None:
    path = write_sessions()[1]  # the finished run

    async def draw(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(ReplayScreen(path))
        await pilot.pause()

    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=draw)


def test_help_screen(example_repo: Path, snap_compare: Any) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, press=["f1"], run_before=fixed_title)
