"""Which command runs a project's tests: `.ornith.toml` first, then what the project's files say.

The interpreter is the project's own (see `environments.py`); when what the tests need is not installed there,
the command carries `missing`: one line saying what is missing and how to fix it. A missing runner is reported,
never replaced by another runner that would find nothing (`unittest discover` on a pytest suite reports zero
tests and exit 0).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from ornith_local.config import load_config
from ornith_local.tools.testing.environments import (
    PythonEnv,
    has_module,
    install_hint,
    interpreter_dirs,
    pyproject_tool,
    python_env,
)

NPM_PLACEHOLDER = "no test specified"
_PYTEST_STYLE = re.compile(r"^(import pytest|from pytest|def test_\w*\(|@pytest\.)", re.M)
_UNITTEST_STYLE = re.compile(r"unittest\.TestCase|^from unittest import|^import unittest", re.M)


@dataclass(frozen=True)
class TestCommand:
    __test__ = False  # not a pytest test class, despite the name

    runner: str  # pytest | unittest | go | cargo | npm | pnpm | yarn | bun | custom
    argv: tuple[str, ...]
    source: str  # why this command: ".ornith.toml", "pyproject.toml [tool.pytest.ini_options]", ...
    # What the run needs that is not there, with how to fix it; None when the command can run.
    missing: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # e.g. PYTHONPATH=src for a src layout that is not installed
    read_only: tuple[Path, ...] = ()  # interpreter folders outside the workspace the sandbox must show

    @property
    def display(self) -> str:
        return shlex.join(self.argv)

    def describe(self) -> str:
        """One line for doctor and the run header: the command and why, or what is missing."""
        line = f"{self.display}  ({self.source})"
        return f"{line}\n  missing: {self.missing}" if self.missing else line


def project_python(root: Path) -> str:
    """The interpreter that has the project's dependencies (see `python_env`)."""
    return python_env(root).python


def _pytest_config(root: Path) -> str | None:
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    if "pytest" in pyproject_tool(root):
        return "pyproject.toml [tool.pytest]"
    for name, section in (("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        path = root / name
        if path.is_file() and section in path.read_text(errors="replace"):
            return f"{name} {section}"
    if (root / "conftest.py").is_file():
        return "conftest.py"
    return None


def _python_test_files(root: Path) -> list[Path]:
    patterns = ("test_*.py", "*_test.py", "tests/**/test_*.py", "test/**/test_*.py", "tests/**/*_test.py",
                "src/**/tests/test_*.py")
    found: list[Path] = []
    for pattern in patterns:
        found += [path for path in root.glob(pattern) if ".venv" not in path.parts and "venv" not in path.parts]
        if len(found) > 20:
            break
    return found[:20]


def _style(files: list[Path]) -> str:
    """"pytest" when any test file needs pytest (bare test functions, fixtures), else "unittest"."""
    for path in files:
        try:
            text = path.read_text(errors="replace")[:20000]
        except OSError:
            continue
        if _PYTEST_STYLE.search(text) or not _UNITTEST_STYLE.search(text):
            return "pytest"
    return "unittest"


def _src_layout(root: Path) -> tuple[tuple[str, str], ...]:
    """PYTHONPATH=src for a src layout whose package the interpreter cannot import otherwise."""
    src = root / "src"
    if not src.is_dir():
        return ()
    packages = [path for path in src.iterdir() if path.is_dir() and (path / "__init__.py").is_file()]
    configured = "pythonpath" in str(pyproject_tool(root).get("pytest", ""))
    return (("PYTHONPATH", "src"),) if packages and not configured else ()


def _python_command(root: Path, env: PythonEnv | None = None) -> TestCommand | None:
    config = _pytest_config(root)
    files = _python_test_files(root)
    if not config and not files:
        return None
    env = env or python_env(root)
    extra = _src_layout(root)
    if env.missing:
        return TestCommand("pytest", (env.python, "-m", "pytest"), env.source, missing=env.missing, env=extra,
                           read_only=env.read_only)
    if has_module(env, "pytest"):
        return TestCommand("pytest", (env.python, "-m", "pytest"), _why(config or "test_*.py files", env),
                           env=extra, read_only=env.read_only)
    if config or _style(files) == "pytest":
        missing = f"pytest is not installed for {env.python} ({env.source}): {install_hint(root, env, 'pytest')}"
        return TestCommand("pytest", (env.python, "-m", "pytest"), _why(config or "pytest-style tests", env),
                           missing=missing, env=extra, read_only=env.read_only)
    return TestCommand("unittest", (env.python, "-m", "unittest", "discover", "-v"),
                       _why("unittest-style tests, no pytest", env), env=extra, read_only=env.read_only)


def _why(what: str, env: PythonEnv) -> str:
    return f"{what}; interpreter: {env.source}"


def _tool_command(runner: str, argv: tuple[str, ...], source: str, root: Path) -> TestCommand:
    tool = argv[0]
    missing = None
    if shutil.which(tool) is None:
        missing = f"{tool} is not on PATH: install it, or set [tests] command in .ornith.toml"
    return TestCommand(runner, argv, source, missing=missing)


def _js_manager(root: Path, package: dict[str, object]) -> str:
    declared = package.get("packageManager")
    if isinstance(declared, str) and declared.split("@")[0] in {"npm", "pnpm", "yarn", "bun"}:
        return declared.split("@")[0]
    for lockfile, manager in (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun"),
                              ("bun.lock", "bun")):
        if (root / lockfile).exists():
            return manager
    return "npm"


def _js_command(root: Path) -> TestCommand | None:
    path = root / "package.json"
    if not path.is_file():
        return None
    try:
        package = json.loads(path.read_text())
        script = package.get("scripts", {}).get("test", "")
    except (ValueError, AttributeError):
        return None
    if not isinstance(script, str) or not script or NPM_PLACEHOLDER in script:
        return None
    manager = _js_manager(root, package)
    command = _tool_command(manager, (manager, "test"), f"package.json scripts.test: {script}", root)
    dependencies = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    if command.missing is None and dependencies and not (root / "node_modules").is_dir():
        command = TestCommand(manager, command.argv, command.source,
                              missing=f"node_modules is missing: run `{manager} install` first")
    return command


def detect_test_command(root: Path, env: PythonEnv | None = None) -> TestCommand | None:
    """`env`: the project's Python environment when the caller has already looked it up."""
    configured = load_config(root).tests.command
    if configured:
        argv = tuple(shlex.split(configured))
        runner = "pytest" if "pytest" in argv[:3] else "custom"
        source = ".ornith.toml / config [tests] command"
        missing = None
        if argv and "/" not in argv[0] and shutil.which(argv[0]) is None:
            missing = f"{argv[0]} is not on PATH (from [tests] command)"
        return TestCommand(runner, argv, source, missing=missing)
    python = _python_command(root, env)
    if python is not None:
        return python
    if (root / "Cargo.toml").is_file():
        return _tool_command("cargo", ("cargo", "test"), "Cargo.toml", root)
    if (root / "go.mod").is_file():
        return _tool_command("go", ("go", "test", "-json", "./..."), "go.mod", root)
    return _js_command(root)


def command_in_copy(root: Path, original: Path) -> TestCommand | None:
    """The test command of `root`, a copy of `original` made from git (an attempt's worktree). The copy has no
    git-ignored virtualenv, so an in-project one of `original` runs its tests, shown read-only (and, like any
    in-project env, inspected on disk, never run on the host). The copy's own code comes first on PYTHONPATH:
    an editable install in that virtualenv points at `original`."""
    if load_config(root).tests.command:
        return detect_test_command(root)
    theirs, ours = python_env(original), python_env(root)
    if not theirs.in_project or ours.in_project:
        return detect_test_command(root, ours)
    borrowed = replace(theirs, source=f"{theirs.source} of {original}", read_only=interpreter_dirs(theirs.python))
    command = _python_command(root, borrowed)
    if command is None:
        return detect_test_command(root, ours)
    path = "src" if (root / "src").is_dir() else "."
    return replace(command, env=(("PYTHONPATH", path), *(item for item in command.env if item[0] != "PYTHONPATH")))
