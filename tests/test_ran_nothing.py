"""A test run that executed zero tests is never a pass (issue #25, item 6): `ornith precommit` and `ornith triage`
on real throwaway repos, run as a user runs them, each saying in one line what to install or configure.

The projects: pytest-style tests where pytest is missing (a project .venv without it), pytest-style tests under a
configured `unittest discover`, unittest-style suites with no test, a configured custom command that runs nothing,
a suite whose only test is skipped; and the controls, suites that do run tests, which still pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ornith_local.sandbox import open_sandbox
from ornith_local.tools.testing import run_tests
from ornith_local.tools.testing.nothing_ran import ran_no_test, why_nothing_ran
from tests.conftest import trust
from tests.precommit_helpers import git, ornith

CALC = "def add(a, b):\n    return a + b\n"
PYTEST_STYLE = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
UNITTEST_EMPTY = "import unittest\n\n\nclass TestCalc(unittest.TestCase):\n    pass\n"
UNITTEST_SUITE = ("import unittest\n\nfrom calc import add\n\n\nclass TestCalc(unittest.TestCase):\n"
                  "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n")
ONLY_SKIPPED = "import pytest\n\n\n@pytest.mark.skip(reason='later')\ndef test_add():\n    assert False\n"
BASE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"


def make_repo(root: Path, tests: dict[str, str], *, venv: bool = False, config: str | None = None) -> Path:
    """A git repo with calc.py and `tests`, all staged (never committed); `venv`: a .venv without pytest."""
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    for name, text in tests.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    if venv:  # the project's own interpreter, without pip and so without pytest
        subprocess.run([str(BASE_PYTHON), "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
        (root / ".gitignore").write_text(".venv\n")
    if config is not None:
        (root / ".ornith.toml").write_text(config)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    if config is not None:
        trust(root)
    return root


def precommit(repo: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    shown = ornith(repo, "precommit", "--no-model")
    data = json.loads(ornith(repo, "precommit", "--no-model", "--json").stdout)
    return shown, data


def triage(repo: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    shown = ornith(repo, "triage", "--no-model", "--no-coverage", env=None)
    result = ornith(repo, "triage", "--no-model", "--no-coverage", "--json")
    return shown, {**json.loads(result.stdout), "exit_code": result.returncode}


def check_line(output: str, mark: str = "✗") -> str:
    lines = [line for line in output.splitlines() if line.strip().startswith(mark)]
    assert len(lines) == 1, output
    return lines[0]


def assert_not_a_pass(shown: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "Traceback" not in shown.stdout + shown.stderr
    assert "checks pass" not in shown.stdout and "tests passed" not in shown.stdout
    line = check_line(shown.stdout) if "precommit" in shown.args[1] else shown.stdout.splitlines()[0]
    for word in words:
        assert word in line, line
    return line


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # each message on one line, as a wide terminal shows it


@pytest.mark.skipif(not BASE_PYTHON.exists(), reason="needs the base interpreter to make a venv")
def test_pytest_style_suite_without_pytest(tmp_path: Path) -> None:
    """The reported case: a pytest-style suite whose interpreter lacks pytest is never '✓ unittest discover'."""
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": PYTEST_STYLE}, venv=True)
    venv_python = str(repo / ".venv" / "bin" / "python")

    shown, data = precommit(repo)
    assert shown.returncode == 1 and "checks failed" in shown.stdout
    line = assert_not_a_pass(shown, "pytest is not installed for", venv_python, "-m pip install pytest",
                             "[tests] command in .ornith.toml")
    assert "unittest" not in line
    assert data["status"] == "failed" and data["checks"][0]["checked_nothing"] is True
    assert data["suggestion"] is None  # no model is asked to "fix" a missing runner

    shown, report = triage(repo)
    assert shown.returncode == 3 and report["exit_code"] == 3 and report["status"] == "error"
    assert "pytest is not installed for" in report["summary"] and "-m pip install pytest" in report["summary"]
    assert_not_a_pass(shown, "cannot run the tests: pytest is not installed")
    assert not any("coverage" in note for note in report["notes"])  # nothing ran: no coverage note to add


def test_pytest_style_suite_under_configured_unittest(tmp_path: Path) -> None:
    config = '[tests]\ncommand = "python3 -m unittest discover"\n'
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": PYTEST_STYLE}, config=config)

    shown, data = precommit(repo)
    assert shown.returncode == 1
    assert_not_a_pass(shown, "unittest discover", "no test ran", "pytest-style", "[tests] command")
    assert data["checks"][0]["status"] == "failed"

    shown, report = triage(repo)
    assert shown.returncode == 3 and report["status"] == "no-tests"
    assert "pytest-style" in report["summary"] and "[tests] command" in report["summary"]
    assert_not_a_pass(shown, "no test ran", "pytest-style")

    # The agent's verifier and its run_tests tool read the same run the same way: no pass, and the fix named.
    tested = run_tests(repo, open_sandbox())
    assert not tested.ok or tested.error is not None
    assert tested.error is not None and "pytest-style" in tested.error and "[tests] command" in tested.error


@pytest.mark.skipif(not BASE_PYTHON.exists(), reason="needs the base interpreter to make a venv")
def test_unittest_suite_outside_a_package_runs_nothing(tmp_path: Path) -> None:
    """`unittest discover` never enters tests/ without an __init__.py: zero tests, and the fix named."""
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": UNITTEST_SUITE}, venv=True)
    shown, _ = precommit(repo)
    assert shown.returncode == 1
    assert_not_a_pass(shown, "no test ran", "tests/__init__.py", "unittest discover -s tests")
    shown, report = triage(repo)
    assert shown.returncode == 3 and report["status"] == "no-tests"
    assert "tests/__init__.py" in report["summary"]


@pytest.mark.skipif(not BASE_PYTHON.exists(), reason="needs the base interpreter to make a venv")
def test_unittest_suite_with_zero_tests(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p", {"tests/__init__.py": "", "tests/test_calc.py": UNITTEST_EMPTY}, venv=True)
    shown, _ = precommit(repo)
    assert shown.returncode == 1
    assert_not_a_pass(shown, "no test ran", "no TestCase with a test_ method")
    shown, report = triage(repo)
    assert shown.returncode == 3 and report["status"] == "no-tests"
    assert_not_a_pass(shown, "no test ran", "no TestCase with a test_ method")


def test_related_test_file_with_no_test_under_pytest(tmp_path: Path) -> None:
    """pytest on the staged change's related tests collects nothing: a failure, not a skip under 'checks pass'."""
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": UNITTEST_EMPTY})
    shown, data = precommit(repo)
    assert shown.returncode == 1
    assert_not_a_pass(shown, "pytest collected no test from the related test files (tests/test_calc.py)")
    assert data["checks"][0]["status"] == "failed" and data["checks"][0]["exit_code"] == 5
    shown, report = triage(repo)
    assert shown.returncode == 3 and report["status"] == "no-tests"
    assert_not_a_pass(shown, "pytest collected no test")


def test_configured_custom_command_that_runs_nothing(tmp_path: Path) -> None:
    command = "python3 -m unittest discover -s tests"
    config = f'[precommit]\nchecks = ["{command}"]\n\n[tests]\ncommand = "{command}"\n'
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": UNITTEST_EMPTY}, config=config)
    shown, data = precommit(repo)
    assert shown.returncode == 1 and data["checks"][0]["command"] == command
    assert_not_a_pass(shown, "no test ran", command, "[tests] command")
    shown, report = triage(repo)
    assert shown.returncode == 3 and report["status"] == "no-tests"
    assert_not_a_pass(shown, "no test ran", command)


def test_a_suite_whose_only_test_is_skipped(tmp_path: Path) -> None:
    """Every test skipped: nothing was checked (triage used to say 'all 0 tests passed', exit 0)."""
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": ONLY_SKIPPED})
    shown, _ = precommit(repo)
    assert shown.returncode == 1
    assert_not_a_pass(shown, "no test ran", "skipped")
    shown, report = triage(repo)
    assert shown.returncode == 3 and report["status"] == "no-tests" and report["tests"]["skipped"] == 1
    assert_not_a_pass(shown, "no test ran", "skipped")


def test_control_a_pytest_suite_that_runs_passes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p", {"tests/test_calc.py": PYTEST_STYLE})
    shown, data = precommit(repo)
    assert shown.returncode == 0 and "checks pass" in shown.stdout and data["status"] == "passed"
    assert check_line(shown.stdout, "✓").split()[1] == "pytest"
    shown, report = triage(repo)
    assert shown.returncode == 0 and report["status"] == "all-passed"
    assert shown.stdout.startswith("all 1 tests passed")


@pytest.mark.skipif(not BASE_PYTHON.exists(), reason="needs the base interpreter to make a venv")
def test_control_a_unittest_suite_without_pytest_passes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p", {"tests/__init__.py": "", "tests/test_calc.py": UNITTEST_SUITE}, venv=True)
    shown, data = precommit(repo)
    assert shown.returncode == 0 and "checks pass" in shown.stdout
    assert "unittest discover" in data["checks"][0]["command"]
    shown, report = triage(repo)
    assert shown.returncode == 0 and report["status"] == "all-passed" and report["tests"]["passed"] == 1


# --- the rule itself, on runners' own output -------------------------------------------------------------

@pytest.mark.parametrize(("command", "exit_code", "output"), [
    ("python -m pytest -q", 5, "\nno tests ran in 0.01s\n"),
    ("python -m unittest discover", 0, "\n----\nRan 0 tests in 0.000s\n\nOK\n"),
    ("python3.12 -m unittest", 5, "\nNO TESTS RAN\n"),
    ("make test", 0, "collected 0 items\n"),
    ("python -m pytest", 0, "=========== 2 skipped in 0.02s ===========\n"),
    ("python -m pytest -q", 0, "3 deselected, 1 warning in 0.10s\n"),
    ("python -m unittest -v", 0, "Ran 2 tests in 0.001s\n\nOK (skipped=2)\n"),
])
def test_zero_test_runs_are_recognised(command: str, exit_code: int, output: str) -> None:
    assert ran_no_test(command, exit_code, output)


@pytest.mark.parametrize(("command", "exit_code", "output"), [
    ("python -m pytest -q", 0, "3 passed, 2 skipped in 0.10s\n"),
    ("python -m pytest", 1, "=== 1 failed, 1 skipped in 0.1s ===\n"),
    ("python -m unittest -v", 0, "Ran 3 tests in 0.001s\n\nOK (skipped=2)\n"),
    ("ruff check x.py", 5, "All checks passed!\n"),  # exit 5 means "no tests" for pytest only
])
def test_runs_that_ran_tests_are_not(command: str, exit_code: int, output: str) -> None:
    assert not ran_no_test(command, exit_code, output)


def test_hints_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(PYTEST_STYLE)
    for command in ("python -m unittest discover", "python -m pytest", "make test"):
        hint = why_nothing_ran(tmp_path, command)
        assert hint.startswith("no test ran") and "\n" not in hint and ".ornith.toml" in hint
