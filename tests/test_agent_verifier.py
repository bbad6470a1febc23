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
from ornith_local.session import GitWorkspace
from ornith_local.tools.testing import CANNOT_RUN, NO_SUITE, run_tests
from tests.conftest import git

GUARDED_AVERAGE = ("        if not self.lines:\n            return Decimal(\"0\")\n"
                   "        return round_cents(self.subtotal / len(self.lines))")


def fix_the_empty_average(repo: Path) -> None:
    source = repo / "invoicing" / "invoice.py"
    text = source.read_text()
    source.write_text(text.replace("        return round_cents(self.subtotal / len(self.lines))", GUARDED_AVERAGE))


def opened(repo: Path) -> tuple[SandboxVerifier, GitWorkspace]:
    """The verifier and the workspace as a run has them: the baseline taken, a checkpoint before the first edit."""
    verifier = SandboxVerifier(repo, open_sandbox(), (), timeout_s=120)
    verifier.baseline()
    tree = GitWorkspace(repo, "test", lambda checkpoint: None)
    tree.ensure_checkpoint()
    return verifier, tree


def test_failures_that_were_there_before_the_run_do_not_fail_it(example_repo: Path) -> None:
    verifier, tree = opened(example_repo)
    assert verifier.already_failing is not None and len(verifier.already_failing) == 3  # two bulk-tier, one average
    [tests] = verifier.verify((), tree).checks
    assert not tests.passed  # nothing fixed yet

    fix_the_empty_average(example_repo)
    checked = verifier.verify((), tree)
    [tests] = checked.checks
    assert tests.passed and "every failure was there before the run; 1 of 3 fixed" in tests.summary
    evidence = checked.evidence
    assert evidence.fail_to_pass == ("tests/test_invoice.py::test_average_of_empty_invoice_is_zero",)
    assert not evidence.regressions and not evidence.missing()
    # The guard line runs only for the empty invoice: the test that failed before executes it.
    assert evidence.coverage is not None and evidence.coverage.covered >= 1
    assert evidence.coverage.summary().startswith("changed lines covered by ")


def test_a_new_failure_still_fails_the_run_and_names_the_regression(example_repo: Path) -> None:
    verifier, tree = opened(example_repo)
    fix_the_empty_average(example_repo)
    money = example_repo / "invoicing" / "money.py"
    money.write_text(money.read_text().replace("ROUND_HALF_UP)", "ROUND_DOWN)").replace(
        "import ROUND_HALF_UP,", "import ROUND_DOWN, ROUND_HALF_UP,"))
    checked = verifier.verify((), tree)
    assert not checked.checks[0].passed
    assert "tests/test_money.py::test_round_half_up" in checked.evidence.regressions


def test_without_a_baseline_the_whole_suite_must_pass(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    tree = GitWorkspace(example_repo, "test", lambda checkpoint: None)
    tree.ensure_checkpoint()
    fix_the_empty_average(example_repo)
    checked = verifier.verify((), tree)
    assert not checked.checks[0].passed and "2 failed" in checked.checks[0].summary
    assert not checked.evidence.fail_to_pass  # nothing is known to have failed before


def test_a_suite_that_passed_before_a_change_shows_nothing(example_repo: Path) -> None:
    """The first round's false "verified": the task's bug is not covered, the suite passes before and after."""
    fix_the_empty_average(example_repo)  # a repo whose suite passes: both of the example's bugs fixed
    discounts = example_repo / "invoicing" / "discounts.py"
    discounts.write_text(discounts.read_text().replace("quantity > minimum", "quantity >= minimum"))
    git(example_repo, "commit", "-qam", "a passing suite")
    verifier, tree = opened(example_repo)
    assert verifier.already_failing == frozenset()
    money = example_repo / "invoicing" / "money.py"
    money.write_text(money.read_text() + "\n\ndef unused(value):\n    return value * 2\n")
    checked = verifier.verify((), tree)
    assert checked.checks[0].passed
    missing = " ".join(checked.evidence.missing())
    assert "no test failed before the change" in missing and "no passing test executes the changed lines" in missing


REPRO = """from decimal import Decimal

from invoicing.discounts import bulk_discount_rate


def test_bulk_discount_applies_at_the_minimum():
    assert bulk_discount_rate(10) == Decimal("0.05")
"""


def test_a_new_test_written_before_the_fix_is_the_reproduction(example_repo: Path) -> None:
    verifier, tree = opened(example_repo)
    (example_repo / "tests" / "test_repro.py").write_text(REPRO)
    seen = verifier.after_edit("tests/test_repro.py", tree)
    assert seen is not None and "fail on the untouched code" in seen
    discounts = example_repo / "invoicing" / "discounts.py"
    discounts.write_text(discounts.read_text().replace("quantity > minimum", "quantity >= minimum"))
    # An edit of the test after the code changed is no new evidence: the record stays.
    assert verifier.after_edit("tests/test_repro.py", tree) is None
    evidence = verifier.verify((), tree).evidence
    assert "tests/test_repro.py::test_bulk_discount_applies_at_the_minimum" in evidence.fail_to_pass
    assert evidence.reproduced == ("tests/test_repro.py::test_bulk_discount_applies_at_the_minimum",)


def test_a_new_test_that_cannot_import_is_no_reproduction(example_repo: Path) -> None:
    verifier, tree = opened(example_repo)
    (example_repo / "tests" / "test_repro.py").write_text("from invoicing.nowhere import thing\n\n"
                                                          "def test_x():\n    assert thing\n")
    seen = verifier.after_edit("tests/test_repro.py", tree)
    assert seen is not None and "cannot run" in seen and not verifier.reproduced


def test_a_new_test_file_cannot_patch_what_the_old_tests_see(example_repo: Path) -> None:
    """Attack: a new test file whose import-time code replaces the buggy function, so the old failing tests pass
    without any fix. Control: the same patch in the suite's own run would have turned them green."""
    verifier, tree = opened(example_repo)
    patch = ("import invoicing.invoice as invoice\nfrom decimal import Decimal\n\n"
             "invoice.Invoice.average_line_total = lambda self: Decimal('0')\n\n"
             "def test_nothing():\n    assert True\n")
    (example_repo / "tests" / "test_aaa_patch.py").write_text(patch)
    evidence = verifier.verify((), tree).evidence
    assert "tests/test_invoice.py::test_average_of_empty_invoice_is_zero" not in evidence.fail_to_pass
    control = run_tests(example_repo, open_sandbox())
    assert "tests/test_invoice.py::test_average_of_empty_invoice_is_zero" not in {c.id for c in control.failures}


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


def test_coverage_runs_with_a_project_venv_whose_interpreter_links_outside_the_repo(example_repo: Path,
                                                                                    tmp_path: Path) -> None:
    """The README demo's setup: `.venv/bin/python` links to a python3 in another folder, which the sandbox must be
    shown for the final run under coverage too (it was not: exit 127, and the demo's fix ended unverified)."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").symlink_to(base)
    venv = example_repo / ".venv"
    subprocess.run([str(tmp_path / "bin" / "python3"), "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", "pytest"], capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"pytest could not be installed in the project's venv: {installed.stderr.strip()[-200:]}")
    (example_repo / ".gitignore").write_text(".venv/\n")
    git(example_repo, "add", ".gitignore")
    git(example_repo, "commit", "-qm", "ignore the venv")
    verifier, tree = opened(example_repo)
    assert ".venv" in verifier.describe()
    fix_the_empty_average(example_repo)
    checked = verifier.verify((), tree)
    assert checked.checks[0].passed, checked.checks[0].summary
    assert checked.evidence.coverage is not None and checked.evidence.coverage.covered >= 1
