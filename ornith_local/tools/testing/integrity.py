"""Test-run integrity: the verifier runs the project's tests as they were configured at the start.

A model that cannot edit tests can still make a suite pass by changing what runs it: a new
`conftest.py` (git-ignored, so no diff shows it), a `.pytest.ini` or a changed `python_functions`,
a `.venv/bin/python` that writes a passing report, a forged `.pyc` beside an unchanged test. So:

- the test command, interpreter included, is fixed when the run starts (`freeze`), and a later
  `.venv/bin/python` is never picked up; the interpreter's real file is fingerprinted;
- every test run gets PYTHONDONTWRITEBYTECODE and a fresh, empty PYTHONPYCACHEPREFIX, so no bytecode
  from the workspace is ever loaded (pytest's own cache is off via `-p no:cacheprovider`);
- the test configuration (every conftest.py, ignored or not; pytest.ini, .pytest.ini, tox.ini,
  setup.cfg, pyproject's [tool.pytest*] tables, sitecustomize.py) is fingerprinted at the start, and
  any change turns the run's report into an error the verifier cannot read as green.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ornith_local.tools.testing.detect import TestCommand, detect_test_command

CONFIG_FILES = ("pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "sitecustomize.py",
                "usercustomize.py")
_WALK_SKIPPED = frozenset({".git", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".tox"})
_MAX_DIRS = 20000


@dataclass(frozen=True)
class TestBaseline:
    __test__ = False  # not a pytest test class, despite the name

    root: Path
    command: TestCommand | None  # fixed at the start, interpreter included
    interpreter: str | None  # fingerprint of the interpreter's real file, when the command names one
    config: tuple[tuple[str, str], ...]  # (path relative to root, fingerprint) of every test config file


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pyproject_pytest(data: bytes) -> bytes:
    """Only pyproject's pytest tables count: other edits to the file are not test configuration."""
    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return data  # unparseable: fingerprint it whole
    tables = {key: value for key, value in tool.items() if isinstance(key, str) and key.startswith("pytest")}
    return repr(sorted(tables.items())).encode()


def _fingerprint(path: Path, relative: str) -> str | None:
    try:
        if path.is_symlink():
            return "symlink:" + os.readlink(path)
        data = path.read_bytes()
    except OSError:
        return None
    if relative == "pyproject.toml":
        data = _pyproject_pytest(data)
    return _digest(data)


def _conftests(root: Path) -> list[str]:
    """Every conftest.py under root, git-ignored ones included (found on disk, not through git)."""
    found: list[str] = []
    pending, seen = [root], 0
    while pending and seen < _MAX_DIRS:
        directory = pending.pop()
        seen += 1
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name == "conftest.py":
                found.append(os.path.relpath(entry.path, root))
            elif entry.name not in _WALK_SKIPPED and entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    return found


def config_fingerprints(root: Path) -> tuple[tuple[str, str], ...]:
    names = [name for name in CONFIG_FILES if (root / name).exists() or (root / name).is_symlink()]
    entries = []
    for relative in sorted({*names, *_conftests(root)}):
        fingerprint = _fingerprint(root / relative, relative)
        if fingerprint is not None:
            entries.append((relative, fingerprint))
    return tuple(entries)


def _interpreter(command: TestCommand | None) -> str | None:
    if command is None or not command.argv or "python" not in Path(command.argv[0]).name:
        return None
    path = Path(command.argv[0])
    try:
        return f"{path.resolve()}:{_digest(path.resolve().read_bytes())}"
    except OSError:
        return None


_BASELINES: dict[Path, TestBaseline] = {}


def frozen(root: Path) -> TestBaseline | None:
    """The baseline a run took of `root`, or None outside a run (nothing to hold the tests to)."""
    return _BASELINES.get(root.resolve())


def freeze(root: Path, command: TestCommand | None = None) -> TestBaseline:
    """The baseline of `root`, taken now if none is held (at the start of a run: see `start_run`); `command`:
    the test command found otherwise (an attempt's worktree borrows the user's virtualenv)."""
    key = root.resolve()
    if key not in _BASELINES:
        command = command or detect_test_command(key)
        _BASELINES[key] = TestBaseline(key, command, _interpreter(command), config_fingerprints(key))
    return _BASELINES[key]


def start_run(root: Path, command: TestCommand | None = None) -> TestBaseline:
    """A fresh baseline for a new run: what an earlier run in this process froze (a TUI session runs many) is
    dropped, so a `uv sync` or `pip install pytest` done between two runs counts."""
    forget(root)
    return freeze(root, command)


def forget(root: Path | None = None) -> None:
    """Drop the baseline (of `root`, or all): a new run, or a test."""
    if root is None:
        _BASELINES.clear()
    else:
        _BASELINES.pop(root.resolve(), None)


def changes_since_start(root: Path) -> list[str]:
    """What changed in the test setup since `freeze`: "conftest.py (new)", "the interpreter", ...; nothing
    outside a run."""
    baseline = frozen(root)
    if baseline is None:
        return []
    before, now = dict(baseline.config), dict(config_fingerprints(baseline.root))
    changes = [f"{path} ({'new' if path not in before else 'removed' if path not in now else 'changed'})"
               for path in sorted({*before, *now}) if before.get(path) != now.get(path)]
    if baseline.interpreter is not None and _interpreter(baseline.command) != baseline.interpreter:
        changes.append(f"the interpreter {baseline.command.argv[0] if baseline.command else ''} (changed)")
    return changes


def bytecode_env() -> tuple[dict[str, str], Path]:
    """Environment for one test run that loads no bytecode from the workspace, and the temp dir to remove."""
    prefix = Path(tempfile.mkdtemp(prefix="ornith-pycache-"))
    return {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(prefix)}, prefix
