"""Pilot tests of the input and the commands: history, completion, slash commands, palette, themes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Markdown
from textual.widgets._markdown import MarkdownTableContent
from tui_support import fix_replies, make_app, notes_shown, send, texts, type_text, wait_until

from ornith_local.tui.screens.info import ConfirmScreen, ViewScreen
from ornith_local.tui.screens.models import ModelsScreen
from ornith_local.tui.widgets.task_input import CompletionList, TaskInput

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def input_of(app: object) -> TaskInput:
    return app.query_one(TaskInput)  # type: ignore[attr-defined, no-any-return]


async def test_multi_line_input_and_enter_sends(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    sent: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        app.start_task = lambda task, spec=None: sent.append(task)  # type: ignore[method-assign]
        await type_text(pilot, "first line")
        await pilot.press("ctrl+j")
        await type_text(pilot, "second\\")
        await pilot.press("enter")  # a trailing backslash continues the task on a new line
        await type_text(pilot, "third")
        assert input_of(app).text == "first line\nsecond\nthird"
        await pilot.press("enter")
        assert sent == ["first line\nsecond\nthird"]
        assert input_of(app).text == ""


async def test_history_walks_back_and_forward_keeping_the_draft(example_repo: Path) -> None:
    app = make_app(example_repo, [], history=["older task", "newer task"], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "draft")
        await pilot.press("up")
        assert input_of(app).text == "newer task"
        await pilot.press("up")
        assert input_of(app).text == "older task"
        await pilot.press("up")  # the oldest stays
        assert input_of(app).text == "older task"
        await pilot.press("down", "down")
        assert input_of(app).text == "draft"


async def test_at_path_completion_offers_repo_files_and_tab_takes_one(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "look at @disc")
        completion = app.query_one(CompletionList)
        assert completion.display
        labels = [str(option.prompt) for option in completion.options]
        assert labels[0] == "invoicing/discounts.py"
        assert "tests/test_discounts.py" in labels
        await pilot.press("tab")
        assert input_of(app).text == "look at @invoicing/discounts.py "
        assert not completion.display


async def test_completion_list_is_navigated_with_arrows_and_closed_with_escape(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "@disc")
        completion = app.query_one(CompletionList)
        await pilot.press("down")
        assert completion.highlighted == 1
        await pilot.press("enter")  # Enter takes the highlighted suggestion while the list shows
        assert input_of(app).text == "@tests/test_discounts.py "
        await type_text(pilot, "@inv")
        assert completion.display
        await pilot.press("escape")
        assert not completion.display
        assert app.is_running  # Esc closed the list; it did not count as a quit press


async def test_slash_completion_and_unknown_commands(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_text(pilot, "/mo")
        completion = app.query_one(CompletionList)
        assert [str(option.prompt).split()[0] for option in completion.options] == ["/model", "/mode"]
        await pilot.press("down", "tab")
        assert input_of(app).text == "/mode "
        await pilot.press("ctrl+u")
        await type_text(pilot, "/mode")  # typed in full: the exact command is offered first
        assert str(completion.options[0].prompt).startswith("/mode ")
        await pilot.press("ctrl+u")  # clear
        await send(pilot, "/frobnicate")
        assert "unknown command /frobnicate" in await notes_shown(pilot)


async def test_mode_and_scaffold_commands_change_what_the_next_run_uses(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "/mode")
        assert app.options.mode == "auto" and app.status.mode == "auto"  # ask -> auto
        await send(pilot, "/mode read-only")
        assert app.options.mode == "read-only"
        await send(pilot, "/mode sideways")
        assert app.options.mode == "read-only"
        await send(pilot, "/scaffold fixed")
        assert app.options.scaffold_mode == "fixed" and "fixed scaffold" in str(app.status.render())
        await send(pilot, "/scaffold")
        assert "no scaffold yet" in await notes_shown(pilot)


async def test_help_and_clear(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/help")
        assert isinstance(app.screen, ViewScreen)
        markdown = app.screen.query_one(Markdown)
        assert "/undo" in markdown.source and "Ctrl+C" in markdown.source
        await pilot.pause()
        rows = [[cell.plain for cell in row] for table in app.screen.query(MarkdownTableContent) for row in table.rows]
        # A `|` in a usage string stays in its cell instead of splitting the row.
        assert ["/mode [read-only|ask|auto]", "what may change without asking (no argument: next mode)"] in rows
        await pilot.press("escape")
        await pilot.press("f1")
        assert isinstance(app.screen, ViewScreen)
        await pilot.press("escape")
        assert texts(app.transcript)
        await send(pilot, "/clear")
        await pilot.pause()
        assert not app.transcript.children


async def test_diff_and_undo_after_a_run(example_repo: Path) -> None:
    app = make_app(example_repo, fix_replies(), mode="auto")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "/diff")
        assert "no run has edited" in await notes_shown(pilot)
        await send(pilot, "fix the bulk discount")
        await wait_until(pilot, lambda: not app.running, "the run")
        await send(pilot, "/diff")
        assert isinstance(app.screen, ViewScreen)
        shown = texts(app.screen)
        assert "-        if quantity > minimum:" in shown and "+        if quantity >= minimum:" in shown
        await pilot.press("escape")
        await send(pilot, "/undo")
        assert isinstance(app.screen, ConfirmScreen)
        assert "invoicing/discounts.py" in texts(app.screen)
        await pilot.press("n")
        assert "quantity >= minimum" in (example_repo / "invoicing" / "discounts.py").read_text()
        await send(pilot, "/undo")
        await pilot.press("y")
        await wait_until(pilot, lambda: "undone" in texts(app.transcript), "the undo")
    assert "quantity > minimum" in (example_repo / "invoicing" / "discounts.py").read_text()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=example_repo, capture_output=True, text=True)
    assert status.stdout.strip() == ""  # exactly as before the run


async def test_model_command_lists_models_and_switches(example_repo: Path) -> None:
    loaded: list[str | None] = []

    def factory(name: str | None) -> object:
        from ornith_local.llm.scripted import ScriptedBackend

        loaded.append(name)
        return ScriptedBackend([])

    app = make_app(example_repo, factory=factory)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.model is not None, "the model")
        await send(pilot, "/model")
        assert isinstance(app.screen, ModelsScreen)
        names = [str(app.screen.query_one(DataTable).get_row_at(i)[1])
                 for i in range(app.screen.query_one(DataTable).row_count)]
        assert "gemma3-270m" in names
        await pilot.press("escape")
        await send(pilot, "/model gemma3-270m")
        await wait_until(pilot, lambda: loaded == [None, "gemma3-270m"] and app.status.model is not None, "reload")
        assert app.options.model == "gemma3-270m"


async def test_command_palette_runs_the_same_commands(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await type_text(pilot, "Mode: auto")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.options.mode == "auto", "the mode change")


async def test_light_and_dark_themes_and_the_scaffold_panel_toggle(example_repo: Path) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        assert not app.current_theme.dark and app.theme == "textual-light"
        await pilot.press("ctrl+t")
        assert app.current_theme.dark
        assert app.panel.display
        await pilot.press("ctrl+b")
        assert not app.panel.display


async def test_a_folder_without_git_is_offered_git_init(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    app = make_app(folder, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "do something")
        assert isinstance(app.screen, ConfirmScreen)
        assert not app.running
        await pilot.press("y")
        await wait_until(pilot, lambda: (folder / ".git").is_dir(), "git init")
        assert "initialised a git repository" in texts(app.transcript)
        await wait_until(pilot, lambda: "do something" in texts(app.transcript), "the task to start")


async def test_declining_git_init_puts_the_task_back_in_the_input(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    app = make_app(folder, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "rename the helper and update its callers")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert input_of(app).text == "rename the helper and update its callers"
        assert "your task is back in the input" in texts(app.transcript)
        assert not (folder / ".git").exists() and not app.running


async def test_a_fast_typed_command_is_sent_as_typed_not_as_a_stale_suggestion(
        example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(example_repo, [], load_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "/mo")
        task_input = app.query_one(TaskInput)
        assert task_input.completion is not None and task_input.completion.display  # /model and /mode offered
        # The rest arrives faster than the list refreshes, as when keys outrun the Changed messages.
        monkeypatch.setattr(task_input, "refresh_suggestions", lambda: None)
        await send(pilot, "de auto")
        assert app.options.mode == "auto" and task_input.text == ""
