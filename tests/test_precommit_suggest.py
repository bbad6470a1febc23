"""Fix suggestions with scripted models: offered only when the guard and the checks accept them, within the
time budget (a slow model in the real child process), saved as a patch that applies to the working tree."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from precommit_helpers import (
    BROKEN_MEAN,
    FIX_FIND,
    FIX_REPLACE,
    Snapshot,
    add_unstaged_edits,
    git,
    make_project,
    ornith,
    stage_broken_mean,
)

from ornith_local.llm.backend import Backend
from ornith_local.llm.scripted import Reply, ScriptedBackend
from ornith_local.precommit.engine import patch_path, save_suggestion, staged_run
from ornith_local.precommit.model import InProcessModel, ModelChoice
from ornith_local.precommit.staged import find_repo
from ornith_local.precommit.suggest import Edit, SuggestOutcome, apply_edits, guard_reason, patch_of

NO_MODEL = ModelChoice(None, "")


def reply(file: str = "calc/stats.py", find: str = FIX_FIND, replace: str = FIX_REPLACE) -> str:
    return json.dumps({"cause": "the mean divides by one too many",
                       "edits": [{"file": file, "find": find, "replace": replace}]})


GOOD = reply()


@dataclass(frozen=True)
class ScriptedFactory:
    """Picklable: the child process builds the scripted backend itself."""

    replies: tuple[str, ...]
    delay_s: float = 0.0
    fail: bool = False

    def __call__(self) -> Backend:
        if self.fail:
            raise FileNotFoundError("no such model file: /nowhere/model.gguf")

        def slow(text: str) -> Reply:
            def answer(messages: object) -> str:
                time.sleep(self.delay_s)
                return text
            return answer

        return ScriptedBackend([slow(text) for text in self.replies])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_project(tmp_path / "calc-project")
    stage_broken_mean(repo)
    add_unstaged_edits(repo)
    return repo


def suggest(repo: Path, backend: ScriptedBackend | None = None, *, factory: ScriptedFactory | None = None,
            budget_s: float = 120, save: bool = True) -> SuggestOutcome:
    with staged_run(repo) as run:
        failures = [result for result in run.check() if result.failed]
        assert failures, "the staged change should fail the checks"
        if factory is not None:
            outcome = run.suggest(failures, ModelChoice(factory, "scripted-child"), budget_s)
        else:
            assert backend is not None
            outcome = run.suggest(failures, NO_MODEL, budget_s, session=InProcessModel(backend))
        if save and outcome.suggestion is not None:
            save_suggestion(run, outcome.suggestion)
    return outcome


def test_a_verified_fix_is_offered_saved_and_applies_to_the_working_tree(repo: Path) -> None:
    before = Snapshot.take(repo)
    backend = ScriptedBackend([GOOD])
    outcome = suggest(repo, backend)

    assert outcome.suggestion is not None, outcome
    assert [a.outcome for a in outcome.attempts] == ["offered"]
    patch = outcome.suggestion.patch
    assert "-    return total(values) / (len(values) + 1)" in patch
    assert "+    return total(values) / len(values)" in patch
    assert patch_path(find_repo(repo)).read_text() == patch
    assert Snapshot.take(repo) == before  # proposing writes nothing but .git/ornith/

    # What the model saw: the failure, the staged diff, the staged file; only staged non-test files to edit.
    call = backend.calls[0]
    prompt = call.messages[1].content
    assert "test_mean" in prompt and "(len(values) + 1)" in prompt and "TODO: median" not in prompt
    assert call.options.json_schema is not None
    assert call.options.json_schema["properties"]["edits"]["items"]["properties"]["file"]["enum"] == ["calc/stats.py"]

    # The saved patch applies with plain git to the staged content (the working tree may differ: --apply
    # merges it there, see below).
    staged_copy = repo.parent / "staged-copy"
    git(repo, "checkout-index", "--all", f"--prefix={staged_copy}/")
    check = subprocess.run(["git", "apply", "--check", str(patch_path(find_repo(repo)))], cwd=staged_copy,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_a_suggestion_that_edits_tests_is_not_offered(repo: Path) -> None:
    # Would make the checks pass (the broken mean of [2, 4] is 2), by changing what the test expects.
    cheat = reply("tests/test_stats.py", "assert mean([2, 4]) == 3", "assert mean([2, 4]) == 2")
    outcome = suggest(repo, ScriptedBackend([cheat, cheat, cheat]))
    assert outcome.suggestion is None
    assert [a.outcome for a in outcome.attempts] == ["it edits a test file (tests/test_stats.py)"] * 3
    assert not patch_path(find_repo(repo)).exists()


def test_a_suggestion_the_checks_reject_is_not_offered_and_the_model_hears_why(repo: Path) -> None:
    wrong = reply(replace="    return total(values) / (len(values) + 2)\n")
    backend = ScriptedBackend([wrong, GOOD])
    outcome = suggest(repo, backend)
    assert outcome.attempts[0].outcome.startswith("the checks still fail on it: pytest")
    assert outcome.attempts[1].outcome == "offered" and outcome.suggestion is not None
    feedback = backend.calls[1].messages[-1].content
    assert feedback.startswith("That fix was not used: the checks still fail on it") and "test_mean" in feedback
    assert "(len(values) + 2)" not in outcome.suggestion.patch


@pytest.mark.parametrize(("text", "reason"), [
    ("I think you should divide by len(values)", "not complete JSON"),
    (json.dumps({"cause": "x", "edits": []}), "no edits"),
    (reply(find="return total(values) / len(values) + 1\n"), "edit in calc/stats.py: old_string was not found"),
    (reply("setup.py"), "a file outside the staged, editable files"),
])
def test_unusable_replies_are_rejected(repo: Path, text: str, reason: str) -> None:
    outcome = suggest(repo, ScriptedBackend([text]))
    assert outcome.suggestion is None
    assert reason in outcome.attempts[0].outcome
    assert "ran out of replies" in outcome.note  # the scripted model had nothing more to say


def test_the_time_budget_holds_with_a_slow_model(repo: Path) -> None:
    factory = ScriptedFactory((GOOD,), delay_s=120)
    started = time.monotonic()
    outcome = suggest(repo, factory=factory, budget_s=3)
    elapsed = time.monotonic() - started
    assert outcome.suggestion is None
    assert "time budget ran out" in outcome.note
    assert elapsed < factory.delay_s / 2  # the model's answer was never waited for
    assert multiprocessing.active_children() == []  # and its process is gone


def test_the_child_process_path_offers_a_fix(repo: Path) -> None:
    outcome = suggest(repo, factory=ScriptedFactory((GOOD,)))
    assert outcome.suggestion is not None and outcome.model == "scripted"
    assert multiprocessing.active_children() == []


def test_a_model_that_cannot_load_is_a_note_not_a_crash(repo: Path) -> None:
    outcome = suggest(repo, factory=ScriptedFactory((), fail=True))
    assert outcome.suggestion is None
    assert outcome.note.startswith("model unavailable: FileNotFoundError")


def test_apply_writes_the_working_tree_never_the_index(repo: Path) -> None:
    suggest(repo, ScriptedBackend([GOOD]))
    index_before = (repo / ".git" / "index").read_bytes()
    result = ornith(repo, "precommit", "--apply", "--no-model")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "applied to the working tree" in result.stdout
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "show", ":calc/stats.py").stdout == BROKEN_MEAN  # still staged as it was
    text = (repo / "calc" / "stats.py").read_text()
    assert "return total(values) / len(values)" in text and "TODO: median" in text  # unstaged edit kept


def test_apply_refuses_to_merge_into_conflicting_unstaged_edits(repo: Path) -> None:
    suggest(repo, ScriptedBackend([GOOD]))
    stats = repo / "calc" / "stats.py"
    stats.write_text(stats.read_text().replace("(len(values) + 1)", "(len(values) + 3)"))
    before = Snapshot.take(repo)
    result = ornith(repo, "precommit", "--apply", "--no-model")
    assert result.returncode == 1
    assert "conflicts with unstaged edits in calc/stats.py: nothing applied" in result.stderr
    assert Snapshot.take(repo) == before


def test_apply_ignores_a_suggestion_made_for_other_staged_content(repo: Path) -> None:
    suggest(repo, ScriptedBackend([GOOD]))
    (repo / "calc" / "text.py").write_text("def shout(s):\n    return s.upper() + '?'\n")
    git(repo, "add", "calc/text.py")
    result = ornith(repo, "precommit", "--apply", "--no-model")
    assert result.returncode == 1
    assert "no fix suggested" in result.stdout
    assert "(len(values) + 1)" in (repo / "calc" / "stats.py").read_text()  # nothing applied


def test_guard_refuses_weakened_tests_and_skips() -> None:
    weakened = ("diff --git a/tests/test_x.py b/tests/test_x.py\n--- a/tests/test_x.py\n+++ b/tests/test_x.py\n"
                "@@ -1,2 +1,2 @@\n def test_x():\n-    assert f() == 3\n+    assert True\n")
    reason = guard_reason(weakened)
    assert reason is not None and "protected" in reason
    assert guard_reason("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n") is None


def test_patches_keep_crlf_and_apply_with_git(tmp_path: Path) -> None:
    original = b"def f():\r\n    return 1\r\n"
    (tmp_path / "m.py").write_bytes(original)
    changed = apply_edits(tmp_path, [Edit("m.py", "return 1", "return 2")])
    assert changed["m.py"][1] == b"def f():\r\n    return 2\r\n"
    patch = patch_of(changed)
    applied = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=patch.encode(), capture_output=True)
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "m.py").read_bytes() == b"def f():\r\n    return 2\r\n"


def test_the_cli_shows_the_fix_and_how_to_apply_it(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from ornith_local.cli.commands import precommit
    from ornith_local.precommit import model

    monkeypatch.setattr(model, "choose_model", lambda config, requested, no_model: ModelChoice(
        ScriptedFactory((GOOD,)), "scripted"))
    before = Snapshot.take(repo)
    code = precommit.main(["-C", str(repo)])
    out = capsys.readouterr().out
    assert code == 1  # the staged content still fails: the fix is offered, not applied
    assert "suggested fix from scripted" in out and "the mean divides by one too many" in out
    assert "-    return total(values) / (len(values) + 1)" in out and "+    return total(values) / len(values)" in out
    assert "ornith precommit --apply" in out and "git apply .git/ornith/suggestion.patch" in out
    assert Snapshot.take(repo) == before
