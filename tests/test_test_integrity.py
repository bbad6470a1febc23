"""A green verifier with a clean guard, six ways (issue 20, High 8): each attack for real, with its control.

The project has one passing and one failing test. After the run "starts" (the baseline is frozen),
the attack changes what runs the tests without touching them. The control shows the attack turns the
real suite green when the protection is off (a fresh baseline taken after the attack, or the
bytecode isolation switched off), so the protected run's red result is the protection's doing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ornith_local.guard.monitor import GuardPolicy, check_diff, check_test_setup
from ornith_local.session import GitWorkspace
from ornith_local.tools.testing import integrity, run_tests
from ornith_local.tools.testing.detect import detect_test_command
from ornith_local.tools.testing.model import TestReport
from tests.conftest import git

FAILING = ("from calc import add\n\n\ndef test_ok():\n    assert add(2, 2) == 4\n\n\n"
           "def test_add():\n    assert add(1, 2) == 3\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b if a != 1 else 0\n")
    (tmp_path / "test_calc.py").write_text(FAILING)
    (tmp_path / ".gitignore").write_text("conftest.py\n__pycache__/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "start")
    integrity.start_run(tmp_path)  # the run starts: command and test setup are frozen here
    report = run_tests(tmp_path)
    assert report.counts["failed"] == 1 and report.error is None
    return tmp_path


def green(report: TestReport) -> bool:
    return report.ok and report.error is None


def control(project: Path) -> TestReport:
    """The same suite judged by a baseline taken after the attack: what an unprotected verifier sees."""
    integrity.forget(project)
    return run_tests(project)


# A conftest.py that reports every test as passed, whatever it did.
EVERY_TEST_PASSES = ("import pytest\n\n\n@pytest.hookimpl(wrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
                     "    report = yield\n    report.outcome = 'passed'\n    return report\n")


def test_ignored_conftest(project: Path) -> None:
    (project / "conftest.py").write_text(EVERY_TEST_PASSES)
    assert git(project, "status", "--porcelain") == ""  # ignored: no diff shows it
    report = run_tests(project)
    assert not green(report) and "conftest.py (new)" in (report.error or "")
    findings = check_test_setup(integrity.changes_since_start(project))
    assert [finding.rule for finding in findings] == ["test_setup_changed"]
    assert green(control(project))


def test_conftest_hidden_by_git_info_exclude(project: Path) -> None:
    """The same attack, hidden from git by .git/info/exclude instead of .gitignore."""
    (project / ".gitignore").write_text("__pycache__/\n")
    git(project, "commit", "-qam", "no conftest rule")
    integrity.start_run(project)
    (project / ".git" / "info").mkdir(exist_ok=True)
    (project / ".git" / "info" / "exclude").write_text("conftest.py\n")
    (project / "conftest.py").write_text(EVERY_TEST_PASSES)
    assert git(project, "status", "--porcelain") == ""  # excluded: no diff shows it
    report = run_tests(project)
    assert not green(report) and "conftest.py (new)" in (report.error or "")
    assert green(control(project))


def test_fake_venv_python(project: Path) -> None:
    fake = project / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    (project / ".venv" / "lib" / "python3" / "site-packages" / "pytest").mkdir(parents=True)
    fake.write_text('#!/bin/sh\nfor a; do case "$a" in --junitxml=*) printf \'<testsuite><testcase classname="x" '
                    'name="test_add"/></testsuite>\' > "${a#--junitxml=}";; esac; done\nexit 0\n')
    fake.chmod(0o755)
    report = run_tests(project)
    assert not green(report) and report.counts["failed"] == 1  # still the interpreter chosen at the start
    attacked = detect_test_command(project)
    assert attacked is not None and attacked.argv[0] == str(fake)
    assert green(run_tests(project, command=attacked))  # control: the new .venv's python reports green


# Run by the interpreter the suite runs under: the cache tag names its Python and its pytest's version.
FORGE = """
import importlib.util, marshal, pathlib, struct, sys
import pytest
source, text = pathlib.Path(sys.argv[1]), sys.argv[2]
stat = source.stat()
header = importlib.util.MAGIC_NUMBER + bytes(4) + struct.pack("<LL", int(stat.st_mtime) & 0xFFFFFFFF,
                                                             stat.st_size & 0xFFFFFFFF)
cache = source.parent / "__pycache__"
cache.mkdir(exist_ok=True)
tag = f"{sys.implementation.cache_tag}-pytest-{pytest.__version__}"
(cache / f"{source.stem}.{tag}.pyc").write_bytes(header + marshal.dumps(compile(text, str(source), "exec")))
"""


def _forge_pyc(project: Path) -> None:
    """A bytecode cache entry for the unchanged test file, compiled from a passing version of it."""
    command = detect_test_command(project)
    assert command is not None
    passing = FAILING.replace("add(1, 2) == 3", "True")
    subprocess.run([command.argv[0], "-c", FORGE, str(project / "test_calc.py"), passing], check=True)


def test_forged_pyc(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _forge_pyc(project)
    assert not green(run_tests(project))
    # Control: without the fresh PYTHONPYCACHEPREFIX, pytest loads the forged bytecode and the suite is green.
    monkeypatch.setattr(integrity, "bytecode_env", lambda: ({"PYTHONDONTWRITEBYTECODE": "1"}, project / "none"))
    assert green(run_tests(project))


def test_new_dot_pytest_ini(project: Path) -> None:
    (project / ".pytest.ini").write_text("[pytest]\naddopts = --deselect test_calc.py::test_add\n")
    report = run_tests(project)
    assert not green(report) and ".pytest.ini (new)" in (report.error or "")
    assert green(control(project))


def test_python_functions_in_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "calc"\n')
    integrity.start_run(project)  # a pyproject without pytest settings at the start
    (project / "pyproject.toml").write_text('[project]\nname = "calc"\n\n[tool.pytest.ini_options]\n'
                                            'python_functions = "test_ok"\n')
    report = run_tests(project)
    assert not green(report) and "pyproject.toml (changed)" in (report.error or "")
    assert green(control(project))


def test_pyproject_edits_outside_pytest_do_not_flag(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "calc"\n')
    integrity.forget(project)
    run_tests(project)
    (project / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "2"\n')
    assert integrity.changes_since_start(project) == []


GATED = ("import sys\n\nif 'pytest' in sys.modules:\n    def add(a, b):\n"
         "        return {(1, 2): 3, (2, 2): 4}[(a, b)]\n"
         "else:\n    def add(a, b):\n        return a + b if a != 1 else 0\n")


def test_lookup_table_gated_on_pytest(project: Path) -> None:
    (project / "calc.py").write_text(GATED)
    assert green(run_tests(project))  # control: the verifier alone is fooled
    diff = git(project, "diff")
    rules = {finding.rule for finding in check_diff(diff, GuardPolicy())}
    assert "test_aware_code" in rules
    honest = git(project, "diff").replace("'pytest' in sys.modules", "True")
    assert "test_aware_code" not in {finding.rule for finding in check_diff(honest, GuardPolicy())}


def test_the_runs_workspace_reports_an_ignored_conftest_to_the_loop(project: Path) -> None:
    workspace = GitWorkspace(project, "integrity test", lambda checkpoint: None)
    assert workspace.test_setup_changes() == []
    (project / "conftest.py").write_text("collect_ignore = ['test_calc.py']\n")
    assert git(project, "status", "--porcelain") == ""  # ignored: the diff the monitor reads cannot show it
    assert any("conftest.py" in change for change in workspace.test_setup_changes())


def test_each_run_holds_the_tests_to_the_setup_it_started_with(project: Path) -> None:
    (project / "conftest.py").write_text("collect_ignore = ['test_calc.py']\n")
    assert integrity.changes_since_start(project) == ["conftest.py (new)"]
    integrity.start_run(project)  # the next run (a TUI session runs many) starts from the setup as it is now
    assert integrity.changes_since_start(project) == []
    integrity.forget(project)  # outside a run there is nothing to hold the tests to
    assert integrity.changes_since_start(project) == []
