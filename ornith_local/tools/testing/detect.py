"""Which command runs a project's tests: `.ornith.toml` first, then what the project's files say."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ornith_local.config import load_config

NPM_PLACEHOLDER = "no test specified"


@dataclass(frozen=True)
class TestCommand:
    __test__ = False  # not a pytest test class, despite the name

    runner: str  # pytest | unittest | go | cargo | npm | pnpm | yarn | custom
    argv: tuple[str, ...]
    source: str  # why this command: ".ornith.toml", "pyproject.toml [tool.pytest.ini_options]", ...

    @property
    def display(self) -> str:
        return shlex.join(self.argv)


def project_python(root: Path) -> str:
    """The interpreter that has the project's dependencies: its own virtualenv when it has one."""
    for name in (".venv", "venv", "env"):
        candidate = root / name / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _has_pytest_config(root: Path) -> str | None:
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(errors="replace"))
        except tomllib.TOMLDecodeError:
            data = {}
        if "pytest" in data.get("tool", {}):
            return "pyproject.toml [tool.pytest]"
    for name, section in (("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        path = root / name
        if path.is_file() and section in path.read_text(errors="replace"):
            return f"{name} {section}"
    if (root / "conftest.py").is_file():
        return "conftest.py"
    return None


def _python_tests(root: Path) -> bool:
    patterns = ("test_*.py", "*_test.py", "tests/**/test_*.py", "test/**/test_*.py", "tests/**/*_test.py")
    return any(next(root.glob(pattern), None) is not None for pattern in patterns)


def _pytest_available(python: str) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec("pytest") is not None
    return any(Path(python).parent.parent.glob("lib/python*/site-packages/pytest"))


def detect_test_command(root: Path) -> TestCommand | None:
    configured = load_config(root).tests.command
    if configured:
        argv = tuple(shlex.split(configured))
        runner = "pytest" if "pytest" in argv[:3] else "custom"
        return TestCommand(runner, argv, ".ornith.toml / config [tests] command")
    python = project_python(root)
    pytest_config = _has_pytest_config(root)
    if pytest_config or _python_tests(root):
        if pytest_config or _pytest_available(python):
            return TestCommand("pytest", (python, "-m", "pytest"), pytest_config or "test_*.py files")
        return TestCommand("unittest", (python, "-m", "unittest", "discover", "-v"), "test_*.py files, no pytest")
    if (root / "Cargo.toml").is_file():
        return TestCommand("cargo", ("cargo", "test"), "Cargo.toml")
    if (root / "go.mod").is_file():
        return TestCommand("go", ("go", "test", "-json", "./..."), "go.mod")
    package = root / "package.json"
    if package.is_file():
        try:
            script = json.loads(package.read_text()).get("scripts", {}).get("test", "")
        except (ValueError, AttributeError):
            script = ""
        if script and NPM_PLACEHOLDER not in script:
            manager = "pnpm" if (root / "pnpm-lock.yaml").exists() else "yarn" if (root / "yarn.lock").exists() \
                else "npm"
            return TestCommand(manager, (manager, "test"), f"package.json scripts.test: {script}")
    return None
