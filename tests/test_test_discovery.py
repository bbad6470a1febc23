"""Test-runner discovery on real project layouts: each tool makes its own environment, then the suite runs
through `run_tests` (the verifier's path) in the real sandbox.

Each project has one passing and one failing test, so a run that found nothing, or ran another interpreter
that lacks the project's package, cannot look like the right answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ornith_local.tools.testing import detect_test_command, run_tests

BIN = Path(sys.executable).parent
TOOLS_MISSING = "needs {} (the dev extra installs it)"
PROJECT_TEST = ("from shop import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n\n\n"
                "def test_total_of_nothing():\n    assert total([]) == 1\n")


def tool(name: str, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    """The dev extra's copy of a project tool; with `monkeypatch`, also on PATH, where a user who uses that tool
    has it (CI runs the suite without activating its venv, so the venv's bin is not on PATH there)."""
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.skip(TOOLS_MISSING.format(name))
    if monkeypatch is not None:
        monkeypatch.setenv("PATH", f"{Path(found).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return found


def sh(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True, timeout=600,
                   env={**os.environ, **(env or {})})


def shop(root: Path, pyproject: str, *, src: bool = False) -> Path:
    """A small package `shop` with one passing and one failing test."""
    package = root / ("src/shop" if src else "shop")
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def total(items):\n    return sum(items)\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_shop.py").write_text(PROJECT_TEST)
    (root / "pyproject.toml").write_text(pyproject)
    return root


def assert_runs_the_suite(root: Path, source_word: str) -> None:
    command = detect_test_command(root)
    assert command is not None and command.missing is None, command
    assert source_word in command.source, command.source
    report = run_tests(root)
    assert report.error is None, report.output
    assert report.counts["passed"] == 1 and [case.id for case in report.failures] == [
        "tests/test_shop.py::test_total_of_nothing"]


PLAIN = '[project]\nname = "shop"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'


def test_plain_venv_is_the_projects_interpreter(tmp_path: Path) -> None:
    root = shop(tmp_path / "plain", PLAIN)
    sh(sys.executable, "-m", "venv", ".venv", cwd=root)
    sh(str(root / ".venv/bin/python"), "-m", "pip", "install", "-q", "pytest", "-e", ".", cwd=root)
    assert_runs_the_suite(root, ".venv (the project's virtualenv)")


def test_uv_project_runs_in_its_synced_venv_and_says_to_sync_when_missing(tmp_path: Path) -> None:
    uv = tool("uv")
    root = shop(tmp_path / "uvproj", PLAIN + '\n[dependency-groups]\ndev = ["pytest"]\n\n[tool.uv]\npackage = true\n')
    unsynced = detect_test_command(root)
    assert unsynced is not None and unsynced.missing is not None and "uv sync" in unsynced.missing
    assert "uv sync" in (run_tests(root).error or "")
    sh(uv, "sync", "-q", cwd=root)
    assert (root / "uv.lock").is_file()
    assert_runs_the_suite(root, "uv project")


def test_poetry_environment_outside_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    poetry = tool("poetry", monkeypatch)
    root = shop(tmp_path / "poetryproj",
                '[tool.poetry]\nname = "shop"\nversion = "0.1.0"\ndescription = ""\nauthors = []\n'
                'packages = [{include = "shop"}]\n\n[tool.poetry.dependencies]\npython = ">=3.11"\n\n'
                '[tool.poetry.group.dev.dependencies]\npytest = "*"\n\n'
                '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n')
    env = {"POETRY_VIRTUALENVS_IN_PROJECT": "false", "POETRY_VIRTUALENVS_PATH": str(tmp_path / "poetry-envs")}
    os.environ.update(env)
    try:
        before = detect_test_command(root)
        assert before is not None and before.missing is not None and "poetry install" in before.missing
        sh(poetry, "install", "-q", cwd=root, env=env)
        from ornith_local.tools.testing import environments

        environments._run_tool.cache_clear()
        assert not (root / ".venv").exists()
        assert_runs_the_suite(root, "poetry environment")
    finally:
        for name in env:
            os.environ.pop(name, None)


def test_pdm_project_in_its_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdm = tool("pdm", monkeypatch)
    root = shop(tmp_path / "pdmproj", PLAIN + '\n[tool.pdm]\ndistribution = true\n\n'
                '[dependency-groups]\ntest = ["pytest"]\n\n'
                '[build-system]\nrequires = ["pdm-backend"]\nbuild-backend = "pdm.backend"\n')
    sh(pdm, "install", "-q", "-G", "test", cwd=root, env={"PDM_CHECK_UPDATE": "false"})
    assert_runs_the_suite(root, "pdm project")


def test_hatch_environment_outside_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hatch = tool("hatch", monkeypatch)
    root = shop(tmp_path / "hatchproj", PLAIN + '\n[tool.hatch.envs.default]\ndependencies = ["pytest"]\n\n'
                '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n')
    env = {"HATCH_DATA_DIR": str(tmp_path / "hatch-data")}
    os.environ.update(env)
    try:
        sh(hatch, "env", "create", cwd=root, env=env)
        assert_runs_the_suite(root, "hatch environment")
    finally:
        for name in env:
            os.environ.pop(name, None)


def test_src_layout_without_an_install_is_importable(tmp_path: Path) -> None:
    root = shop(tmp_path / "srcproj", PLAIN, src=True)
    sh(sys.executable, "-m", "venv", ".venv", cwd=root)
    sh(str(root / ".venv/bin/python"), "-m", "pip", "install", "-q", "pytest", cwd=root)
    command = detect_test_command(root)
    assert command is not None and ("PYTHONPATH", "src") in command.env
    assert_runs_the_suite(root, ".venv")


def test_a_pytest_suite_without_pytest_is_reported_never_run_by_unittest(tmp_path: Path) -> None:
    root = shop(tmp_path / "nopytest", PLAIN)
    sh(sys.executable, "-m", "venv", ".venv", cwd=root)
    command = detect_test_command(root)
    assert command is not None and command.runner == "pytest"
    assert command.missing is not None and "pytest is not installed" in command.missing
    assert f"{root / '.venv/bin/python'} -m pip install pytest" in command.missing
    report = run_tests(root)
    assert not report.ok and "pytest is not installed" in (report.error or "")


def test_unittest_suite_runs_under_unittest_and_zero_tests_never_pass(tmp_path: Path) -> None:
    root = tmp_path / "unit"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_sums.py").write_text(
        "import unittest\n\n\nclass Sums(unittest.TestCase):\n    def test_adds(self):\n"
        "        self.assertEqual(1 + 1, 2)\n")
    sh(sys.executable, "-m", "venv", ".venv", cwd=root)
    command = detect_test_command(root)
    assert command is not None and command.runner == "unittest" and command.missing is None
    report = run_tests(root)
    assert report.ok and report.counts["passed"] == 1
    (root / "tests" / "test_sums.py").write_text("import unittest\n")  # a suite that runs nothing
    empty = run_tests(root)
    assert not empty.ok and "ran no test" in (empty.error or "")


JS_TESTS = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
            'test("adds", () => assert.strictEqual(1 + 2, 3));\ntest("breaks", () => assert.strictEqual(1, 2));\n')


def js_project(root: Path, lock_file: str, lock_text: str) -> Path:
    """A package whose `node --test` suite has one passing and one failing test, with the given lock file."""
    (root / "test").mkdir(parents=True)
    (root / "package.json").write_text('{"name": "shop", "version": "1.0.0", "scripts": {"test": "node --test"}}')
    (root / lock_file).write_text(lock_text)
    (root / "test" / "total.test.js").write_text(JS_TESTS)
    return root


def assert_js_suite_runs(root: Path, runner: str) -> None:
    command = detect_test_command(root)
    assert command is not None and command.runner == runner and command.missing is None, command
    report = run_tests(root)
    assert report.counts["passed"] == 1 and len(report.failures) == 1, report.output


def test_pnpm_project_and_missing_node_modules(tmp_path: Path) -> None:
    pnpm = tool("pnpm")
    root = js_project(tmp_path / "jsproj", "pnpm-lock.yaml", "lockfileVersion: '9.0'\n")
    assert_js_suite_runs(root, "pnpm")
    # A project with dependencies that were never installed says so instead of failing obscurely.
    (root / "package.json").write_text('{"name": "shop", "scripts": {"test": "node --test"}, '
                                       '"devDependencies": {"left-pad": "1.3.0"}}')
    missing = detect_test_command(root)
    assert missing is not None and missing.missing == "node_modules is missing: run `pnpm install` first"
    # The manager a project declares wins over its lock file.
    (root / "package.json").write_text('{"packageManager": "bun@1.1.0", "scripts": {"test": "bun test"}}')
    assert detect_test_command(root).runner == "bun"  # type: ignore[union-attr]
    assert pnpm


def test_npm_project_runs_its_test_script(tmp_path: Path) -> None:
    tool("npm")
    lock = '{"name": "shop", "lockfileVersion": 3, "packages": {}}'
    root = js_project(tmp_path / "npmproj", "package-lock.json", lock)
    assert_js_suite_runs(root, "npm")


def test_a_runner_that_is_not_installed_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "go.mod").write_text("module example.com/shop\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    command = detect_test_command(tmp_path)
    assert command is not None and command.missing == "go is not on PATH: install it, or set [tests] command " \
                                                       "in .ornith.toml"


def test_precommit_fails_when_the_suite_cannot_run_instead_of_passing_on_nothing(tmp_path: Path) -> None:
    """The newcomer finding: `✓ unittest discover 0.1 s / checks pass` on a pytest suite without pytest."""
    from precommit_helpers import make_project, ornith, stage_broken_mean

    repo = make_project(tmp_path / "calc")
    sh(sys.executable, "-m", "venv", "--without-pip", ".venv", cwd=repo)  # the project's env, no pytest in it
    stage_broken_mean(repo)
    result = ornith(repo, "precommit", "--no-model", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1, report
    [tests_check] = [check for check in report["checks"] if "pytest" in check["command"]]
    assert tests_check["status"] == "failed" and "pytest is not installed" in json.dumps(tests_check)
