"""Slash commands and the command palette: /model /mode /undo /diff /sessions /scaffold /help.

Each command is a method here; the palette offers the same commands, so a key, a slash command and
a palette entry always do the same thing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from textual.app import SystemCommand
from textual.content import Content
from textual.widgets import Markdown

from ornith_local.agent.sessions import resume_state
from ornith_local.attempts import apply_checkpoint
from ornith_local.models.catalog import load_catalog
from ornith_local.models.download import PullError, pull
from ornith_local.models.local import find_local_models
from ornith_local.session import SetupError
from ornith_local.tools.base import ToolError
from ornith_local.tools.checkpoint import NotAGitRepoError, init_repo, open_repo
from ornith_local.tui.attempts import MAX_ATTEMPTS, attempt_diff, last_ranking, ranking_lines
from ornith_local.tui.changes import checkpoint_diff, last_checkpoint, restore
from ornith_local.tui.completion import SLASH_COMMANDS, parse_slash
from ornith_local.tui.screens.info import ConfirmScreen, ViewScreen, help_markdown
from ornith_local.tui.screens.models import ModelsScreen
from ornith_local.tui.screens.sessions import SessionsScreen
from ornith_local.tui.session import Mode, RunSpec
from ornith_local.tui.widgets.diffview import diff_content
from ornith_local.tui.widgets.task_input import TaskInput
from ornith_local.tui.widgets.transcript import Notice, markup

if TYPE_CHECKING:
    from ornith_local.tui.app import OrnithApp

MODES: tuple[Mode, ...] = get_args(Mode)
PULL_POLL_S = 0.5


class CommandRouter:
    def __init__(self, app: OrnithApp) -> None:
        self.app = app

    # --- dispatch --------------------------------------------------------------------------------

    def handle(self, text: str) -> bool:
        """True when `text` was a slash command (run or rejected), False when it is a task."""
        parsed = parse_slash(text)
        if parsed is None:
            return False
        name, argument = parsed
        if not any(command.name == name for command in SLASH_COMMANDS):
            self.app.notify(f"unknown command /{name} (see /help; start a task with // to send a leading /)",
                            severity="error")
            return True
        self.run(name, argument)
        return True

    def run(self, name: str, argument: str) -> None:
        getattr(self, f"cmd_{name}")(argument)

    def palette(self) -> Iterator[SystemCommand]:
        yield SystemCommand("Mode: ask", "every edit and command waits for your yes", lambda: self.cmd_mode("ask"))
        yield SystemCommand("Mode: auto", "edits and commands run without asking (in the sandbox)",
                            lambda: self.cmd_mode("auto"))
        yield SystemCommand("Mode: read-only", "the agent may only read", lambda: self.cmd_mode("read-only"))
        yield SystemCommand("Scaffold: self", "the model writes its own plan", lambda: self.cmd_scaffold("self"))
        yield SystemCommand("Scaffold: fixed", "the hand-written baseline plan", lambda: self.cmd_scaffold("fixed"))
        yield SystemCommand("Show scaffold", "the current scaffold as JSON", lambda: self.cmd_scaffold(""))
        yield SystemCommand("Models", "switch or pull a model", lambda: self.cmd_model(""))
        yield SystemCommand("Diff", "changes since the last run's checkpoint", lambda: self.cmd_diff(""))
        yield SystemCommand("Undo", "restore the files from before the last run", lambda: self.cmd_undo(""))
        yield SystemCommand("Sessions", "replay or resume past runs", lambda: self.cmd_sessions(""))
        yield SystemCommand("Attempts", "the last run's attempts, ranked, with their diffs",
                            lambda: self.cmd_attempts("show"))
        yield SystemCommand("Toggle scaffold panel", "show or hide the plan", self.app.action_toggle_scaffold)
        yield SystemCommand("Toggle thinking", "expand or fold the model's thinking", self.app.action_toggle_thinking)
        yield SystemCommand("Toggle light/dark", "switch between the light and dark theme",
                            self.app.action_toggle_dark)
        yield SystemCommand("Clear transcript", "start with an empty screen", lambda: self.cmd_clear(""))
        yield SystemCommand("Help", "keys and commands", lambda: self.cmd_help(""))

    def say(self, text: str | Content, kind: str = "info") -> None:
        self.app.transcript.add(Notice(text, kind))

    # --- commands --------------------------------------------------------------------------------

    def cmd_help(self, argument: str) -> None:
        self.app.push_screen(ViewScreen("Help", Markdown(help_markdown()), classes="help"))

    def cmd_clear(self, argument: str) -> None:
        self.app.transcript.clear()

    def cmd_quit(self, argument: str) -> None:
        self.app.call_later(self.app.action_quit)

    def cmd_mode(self, argument: str) -> None:
        options = self.app.options
        if argument and argument not in MODES:
            self.app.notify(f"/mode takes one of: {', '.join(MODES)}", severity="error")
            return
        mode: Mode = next(m for m in MODES if m == argument) if argument else MODES[
            (MODES.index(options.mode) + 1) % len(MODES)]
        options.mode = mode
        self.app.status.mode = mode
        self.app.notify(f"mode: {mode}" + (" (applies to the next run)" if self.app.running else ""))

    def cmd_scaffold(self, argument: str) -> None:
        if argument in ("self", "fixed"):
            self.app.options.scaffold_mode = "self" if argument == "self" else "fixed"
            self.app.status.scaffold_mode = argument
            self.app.notify(f"scaffold: {argument}")
            return
        if argument:
            self.app.notify("/scaffold takes self or fixed (or nothing, to show the current one)", severity="error")
            return
        plan = self.app.panel.plan
        if not plan.steps:
            self.app.notify("no scaffold yet: it appears when a run starts")
            return
        data = plan.raw
        body = Content(json.dumps(data, indent=2)) if data else Content(
            "\n".join(f"{n}. {s.name}: {s.intent} ({', '.join(s.tools)}; {s.budget} turns; on failure {s.on_failure})"
                      for n, s in enumerate(plan.steps, 1)))
        self.app.push_screen(ViewScreen(f"Scaffold ({plan.kind}): {plan.goal}", body))

    def cmd_attempts(self, argument: str) -> None:
        words = argument.split()
        if words and words[0].isdigit() and len(words) == 1:
            count = int(words[0])
            if not 1 <= count <= MAX_ATTEMPTS:
                self.app.notify(f"/attempts takes a number from 1 to {MAX_ATTEMPTS}", severity="error")
                return
            self.app.options.attempts = count
            self.app.status.attempts = count
            self.app.notify(f"attempts: {count} per task" + (" (from the next run)" if self.app.running else ""))
            return
        if words[:1] == ["apply"] and len(words) == 2 and words[1].isdigit():
            self.apply_attempt(int(words[1]))
            return
        if words and words != ["show"]:
            self.app.notify("/attempts takes N, show, or apply K", severity="error")
            return
        ranking = last_ranking(self.app.options.repo)
        if ranking is None:
            self.app.notify(f"attempts: {self.app.options.attempts} per task; no run with attempts yet")
            return
        parts = ["\n".join(ranking_lines(ranking.event))]
        for attempt in ranking.event.attempts:
            diff = attempt_diff(ranking, attempt["number"])
            parts.append(f"\n── attempt {attempt['number']} ({attempt['outcome']}) ──\n{diff or 'no change'}")
        self.app.push_screen(ViewScreen(f"Attempts of session {ranking.session_id} (/attempts apply K)",
                                        diff_content("\n".join(parts))))

    def apply_attempt(self, number: int) -> None:
        if self.app.running:
            self.app.notify("a run is in progress: interrupt it (Esc) first", severity="warning")
            return
        ranking = last_ranking(self.app.options.repo)
        attempt = ranking.attempt(number) if ranking else None
        if ranking is None or attempt is None or not attempt.get("checkpoint"):
            self.app.notify(f"the last run with attempts has no attempt {number} to apply", severity="error")
            return
        try:
            apply_checkpoint(ranking.repo, str(attempt["checkpoint"]))
        except (ToolError, SetupError) as error:
            self.app.notify(str(error), severity="error")
            return
        self.say(markup("[$success]applied attempt $number[/] ($outcome); /undo restores the tree from before the "
                        "attempts", number=number, outcome=attempt["outcome"]), "success")
        self.app._files = None

    def cmd_sessions(self, argument: str) -> None:
        def chosen(result: tuple[str, Path] | None) -> None:
            if result is not None and result[0] == "resume":
                self.resume(result[1])

        self.app.push_screen(SessionsScreen(), chosen)

    def resume(self, path: Path) -> None:
        try:
            state = resume_state(path)
        except ValueError as error:
            self.app.notify(str(error), severity="error")
            return
        options = self.app.options
        mode = state.options.get("mode") or options.mode
        scaffold_mode = state.options.get("scaffold_mode") or options.scaffold_mode
        repo = Path(str(state.options.get("repo") or options.repo))
        self.say(markup("[$warning]resuming[/] session $session in $repo", session=path.stem, repo=repo), "warning")
        self.app.start_task(state.task, RunSpec(state.task, repo, mode if mode in MODES else options.mode,
                                                "fixed" if scaffold_mode == "fixed" else "self",
                                                resume=state, session_id=path.stem))

    def cmd_diff(self, argument: str) -> None:
        found = last_checkpoint(self.app.options.repo)
        if found is None:
            self.app.notify("no run has edited this repository yet: nothing to compare")
            return
        try:
            diff = checkpoint_diff(found)
        except ToolError as error:
            self.app.notify(str(error), severity="error")
            return
        body = diff_content(diff) if diff.strip() else Content("No changes: the files match the checkpoint.")
        self.app.push_screen(ViewScreen(f"Changes since the checkpoint of session {found.session_id}", body))

    def cmd_undo(self, argument: str) -> None:
        if self.app.running:
            self.app.notify("a run is in progress: interrupt it (Esc) before undoing", severity="warning")
            return
        found = last_checkpoint(self.app.options.repo)
        if found is None:
            self.app.notify("no run has edited this repository: there is nothing to undo")
            return
        try:
            stat = checkpoint_diff(found, stat_only=True).strip()
        except ToolError as error:
            self.app.notify(str(error), severity="error")
            return
        if not stat:
            self.app.notify(f"the files already match the checkpoint of session {found.session_id}")
            return

        def confirmed(answer: bool | None) -> None:
            if not answer:
                self.app.notify("nothing changed")
                return
            report = restore(found)
            self.say(markup("[$success]undone:[/] restored $restored file(s), removed $deleted created since "
                            "(session $session)", restored=len(report.restored), deleted=len(report.deleted),
                            session=found.session_id), "success")
            self.app._files = None

        self.app.push_screen(ConfirmScreen(f"Undo session {found.session_id}? These changes will be reverted:",
                                           Content(stat)), confirmed)

    def ensure_git(self, task: str) -> bool:
        """Runs need git for checkpoints; offer `git init` instead of refusing. Yes starts `task`; No puts it back
        in the input, so nothing typed is lost."""
        repo = self.app.options.repo
        try:
            open_repo(repo)
            return True
        except NotAGitRepoError:
            pass

        def answered(answer: bool | None) -> None:
            if answer:
                init_repo(repo)
                self.say(markup("initialised a git repository in $repo", repo=repo), "success")
                self.app.start_task(task)
                return
            self.app.query_one(TaskInput).load_text(task)
            self.say(markup("not started: ornith needs git to undo its edits; your task is back in the input"),
                     "warning")

        self.app.push_screen(ConfirmScreen(f"{repo} is not a git repository. ornith needs git to checkpoint and undo "
                                           "its edits. Run 'git init' here?"), answered)
        return False

    # --- models ----------------------------------------------------------------------------------

    def cmd_model(self, argument: str) -> None:
        if self.app.running:
            self.app.notify("a run is in progress: switch models after it", severity="warning")
            return
        if argument:
            self.switch_model(argument)
            return

        def chosen(name: str | None) -> None:
            if name:
                self.switch_model(name)

        self.app.push_screen(ModelsScreen(self.app.slot.name), chosen)

    def switch_model(self, name: str) -> None:
        model = next((m for m in find_local_models() if m.name == name), None)
        if model is not None and model.status == "not downloaded" and model.entry is not None:
            entry = model.entry
            size = f"{entry.size_bytes / 1e9:.1f} GB" if entry.size_bytes else "an unknown size"

            def confirmed(answer: bool | None) -> None:
                if answer:
                    self.pull(name)

            self.app.push_screen(ConfirmScreen(f"{name} is not downloaded. Pull it now ({size})?"), confirmed)
            return
        self.app.options.model = name
        self.app.load_model(name)

    def pull(self, name: str) -> None:
        entry = load_catalog()[name]
        staging = entry.local_path.parent / ".download"
        total = entry.size_bytes or 0
        self.app.show_progress(0.0 if total else None, f"pulling {name}…")
        started = time.monotonic()

        def poll() -> None:
            done = sum(f.stat().st_size for f in staging.rglob("*") if f.is_file()) if staging.is_dir() else 0
            rate = done / max(time.monotonic() - started, 0.1) / 1e6
            fraction = min(done / total, 1.0) if total else None
            self.app.show_progress(fraction, f"pulling {name}: {done / 1e6:.0f} of {total / 1e6:.0f} MB "
                                             f"({rate:.1f} MB/s)")

        timer = self.app.set_interval(PULL_POLL_S, poll)
        self.app.run_worker(lambda: self._pull_in_thread(name, timer), thread=True, exclusive=True, group="pull")

    def _pull_in_thread(self, name: str, timer: Any) -> None:
        try:
            result = pull(load_catalog()[name], progress=False)
        except (PullError, OSError) as error:
            message = str(error)
            self.app.call_from_thread(self._pulled, name, timer, message)
            return
        self.app.call_from_thread(self._pulled, name, timer, None, str(result.path))

    def _pulled(self, name: str, timer: Any, error: str | None, path: str | None = None) -> None:
        timer.stop()
        self.app.hide_progress()
        if error:
            self.say(markup("[$error]pull failed:[/] $error", error=error), "error")
            return
        self.say(markup("pulled $name to $path", name=name, path=path), "success")
        self.app.options.model = name
        self.app.load_model(name)


