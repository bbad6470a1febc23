"""The runtime's own test check on the real example repo, in the real sandbox: judged against the suite's
state before the run, so failures the task never asked about do not fail it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from ornith_local.agent.events import RunStarted
from ornith_local.agent.verifier import SandboxVerifier
from ornith_local.cli.commands import run as run_command
from ornith_local.sandbox import open_sandbox
from ornith_local.tools.testing import CANNOT_RUN, NO_SUITE

GUARDED_AVERAGE = ("        if not self.lines:\n            return Decimal(\"0\")\n"
                   "        return round_cents(self.subtotal / len(self.lines))")


def fix_the_empty_average(repo: Path) -> None:
    source = repo / "invoicing" / "invoice.py"
    text = source.read_text()
    source.write_text(text.replace("        return round_cents(self.subtotal / len(self.lines))", GUARDED_AVERAGE))


def test_failures_that_were_there_before_the_run_do_not_fail_it(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    already = verifier.baseline()
    assert already is not None and len(already) == 3  # two bulk-tier tests and the empty average
    [tests] = verifier.verify(())
    assert not tests.passed  # nothing fixed yet

    fix_the_empty_average(example_repo)
    [tests] = verifier.verify(())
    assert tests.passed and "2 were failing before the run; 1 fixed" in tests.summary


def test_a_new_failure_still_fails_the_run(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    verifier.baseline()
    fix_the_empty_average(example_repo)
    money = example_repo / "invoicing" / "money.py"
    money.write_text(money.read_text() + "\nraise RuntimeError('broken import')\n")
    [tests] = verifier.verify(())
    assert not tests.passed


def test_without_a_baseline_the_whole_suite_must_pass(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    fix_the_empty_average(example_repo)
    [tests] = verifier.verify(())
    assert not tests.passed and "2 failed" in tests.summary


def test_the_run_header_says_what_decides_success_or_why_tests_cannot_run(example_repo: Path, tmp_path: Path) -> None:
    sandbox = open_sandbox()
    described = SandboxVerifier(example_repo, sandbox, (), timeout_s=60).describe()
    assert "-m pytest" in described and "(" in described  # the command, and why this one
    assert SandboxVerifier(example_repo, sandbox, ("make check",), timeout_s=60).describe() == "checks: make check"

    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_app.py").write_text("def test_ok():\n    assert True\n")
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    described = SandboxVerifier(project, sandbox, (), timeout_s=60).describe()
    assert described.startswith(f"{CANNOT_RUN}: pytest is not installed for ") and ".venv" in described

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("notes\n")
    assert SandboxVerifier(empty, sandbox, (), timeout_s=60).describe() == NO_SUITE


def test_ornith_run_prints_a_suite_that_cannot_run_in_red(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(run_command, "stdout", Console(file=buffer, force_terminal=True, color_system="standard",
                                                       width=200))
    missing = f"{CANNOT_RUN}: pytest is not installed for /p/.venv/bin/python (.venv): pip install pytest"
    run_command.EventPrinter()(RunStarted(task="fix it", tests=missing))
    shown = buffer.getvalue()
    assert "tests: cannot run the tests: pytest is not installed" in Text.from_ansi(shown).plain
    assert "\x1b[31m" in shown  # red: the run cannot be verified
