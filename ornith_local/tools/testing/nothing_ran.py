"""A test run that executed no test checked nothing: how to tell, and what to install or configure about it.

Shared by `run_tests` (a custom command whose output says it ran nothing), `ornith precommit` (a test check that
ran nothing fails) and `ornith triage` (never "all passed"):

    ran_no_test(command, exit_code, output)  # pytest's exit 5, "Ran 0 tests", "NO TESTS RAN", all skipped...
    why_nothing_ran(root, command)           # one line: why, most likely, and what to install or configure
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

# pytest (-q or not), unittest before and after Python 3.12 (which exits 5 for it), and runs whose every test
# was skipped or deselected: pytest's summary line with nothing but those, unittest's "OK (skipped=N)" of N.
_NO_TESTS = re.compile(r"^Ran 0 tests? in|^NO TESTS RAN|\bno tests ran in [\d.]+s|collected 0 items", re.M)
_ONLY_SKIPPED = re.compile(r"^[= ]*(?:\d+ (?:skipped|deselected|warnings?)(?:, )?)+ in [\d.]+s\b", re.M)
_UNITTEST_ALL_SKIPPED = re.compile(r"^Ran (\d+) tests? in .*\n+OK \(skipped=\1\)", re.M)
_PYTEST_STYLE = re.compile(r"^(?:import pytest|from pytest |def test_\w*\(|async def test_\w*\(|@pytest\.)", re.M)
_TEST_FILE = re.compile(r"^(?:test_.*|.*_test)\.py$")
_SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", ".nox", "build", "dist"}
CONFIGURE = "set [tests] command in .ornith.toml"


def _words(command: str | Sequence[str]) -> list[str]:
    if not isinstance(command, str):
        return list(command)
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def runs_pytest(command: str | Sequence[str]) -> bool:
    return any(Path(word).name in {"pytest", "py.test"} for word in _words(command)[:4])


def runs_unittest(command: str | Sequence[str]) -> bool:
    words = _words(command)
    return any(words[i:i + 2] == ["-m", "unittest"] for i in range(min(len(words), 4)))


def ran_no_test(command: str | Sequence[str], exit_code: int | None, output: str) -> bool:
    """The run says it executed no test: pytest's exit 5, or a runner's own zero-tests (or all-skipped) lines."""
    if runs_pytest(command) and exit_code == 5:
        return True
    return bool(_NO_TESTS.search(output) or _ONLY_SKIPPED.search(output) or _UNITTEST_ALL_SKIPPED.search(output))


def _test_files(root: Path, limit: int = 50) -> list[Path]:
    found: list[Path] = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".") and
                         not d.endswith(".egg-info"))
        for name in sorted(names):
            if _TEST_FILE.match(name):
                found.append(Path(directory, name))
                if len(found) >= limit:
                    return found
    return found


def _pytest_style(files: list[Path]) -> bool:
    for path in files:
        try:
            if _PYTEST_STYLE.search(path.read_text(encoding="utf-8", errors="replace")[:50000]):
                return True
        except OSError:
            continue
    return False


def _outside_packages(root: Path, files: list[Path]) -> list[str]:
    """Folders holding test files that `unittest discover` (started at the root) never enters: not packages."""
    folders: list[str] = []
    for path in files:
        parts = path.relative_to(root).parts[:-1]
        for depth in range(1, len(parts) + 1):
            if not (root.joinpath(*parts[:depth]) / "__init__.py").is_file():
                folders.append("/".join(parts[:depth]))
                break
    return list(dict.fromkeys(folders))


def _install_pytest(root: Path) -> str:
    """How to get pytest for the project's interpreter, or how to point ornith at it when it is there."""
    try:
        from ornith_local.tools.testing.environments import has_module, install_hint, python_env

        env = python_env(root)
        if has_module(env, "pytest"):
            return f'{CONFIGURE} to "{env.python} -m pytest" (pytest is installed for {env.python})'
        return f"pytest is not installed for {env.python}: {install_hint(root, env, 'pytest')}"
    except Exception:  # a hint must never turn a report into a traceback
        return f"install pytest, or {CONFIGURE}"


def why_nothing_ran(root: Path, command: str | Sequence[str], *, output: str = "",
                    selected: Sequence[str] = ()) -> str:
    """One line: the run executed no test, the likely reason, and what to install or configure.

    `selected` are the test files the command was given (precommit's related tests), when it was given any.
    """
    words = _words(command)
    shown = shlex.join(words) if len(shlex.join(words)) <= 60 else shlex.join(words)[:57] + "…"
    if _ONLY_SKIPPED.search(output) or _UNITTEST_ALL_SKIPPED.search(output):
        return (f"no test ran: every test {shown} found was skipped or deselected, so nothing was checked; "
                f"run at least one test here, or {CONFIGURE}")
    files = _test_files(root)
    if runs_unittest(words):
        if files and _pytest_style(files):
            return (f"no test ran: the tests are pytest-style (plain test_ functions), which `{shown}` does not "
                    f"run; {_install_pytest(root)}")
        hidden = _outside_packages(root, files) if "-s" not in words and "--start-directory" not in words else []
        if hidden:
            folder = hidden[0]
            return (f"no test ran: `{shown}` does not look in {folder}/ (no __init__.py); add {folder}/__init__.py, "
                    f'or {CONFIGURE} to "python -m unittest discover -s {folder}"')
        return (f"no test ran: `{shown}` found no TestCase with a test_ method; add tests, or {CONFIGURE} to the "
                "command that runs them")
    if runs_pytest(words):
        if selected:
            listed = ", ".join(selected[:3]) + (f" and {len(selected) - 3} more" if len(selected) > 3 else "")
            return (f"no test ran: pytest collected no test from the related test files ({listed}); give them "
                    "test_ functions or Test classes, or check the markers and -k options that deselect them")
        return (f"no test ran: pytest collected no test; check the test paths and names (test_*.py files, test_ "
                f"functions) and pytest's testpaths, or {CONFIGURE}")
    if _NO_TESTS.search(output):
        return f"no test ran: `{shown}` reports zero tests; check what it runs, or {CONFIGURE}"
    return (f"no test ran that ornith can see: `{shown}` reported no test it can read (pytest, unittest -v, go "
            f"test, cargo test or TAP output), so nothing shows a test ran; {CONFIGURE} to a command that does")
