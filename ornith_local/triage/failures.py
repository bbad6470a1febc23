"""A failing test as triage reads it: its exception, its message's shape and its frames in project code."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ornith_local.tools.testing import TestCase
from ornith_local.triage.functions import Function, FunctionIndex

TEST_DIRS = {"tests", "test"}
_EXCEPTION = re.compile(r"^(?:E\s+)?(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<rest>.*))?$")
_PYTEST_FAILED = re.compile(r"^(?:E\s+)?Failed: ")
_SHAPES = [
    (re.compile(r"0x[0-9a-fA-F]+"), "<addr>"),
    (re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""), "<str>"),
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def is_test_path(path: str) -> bool:
    """Test code never becomes a suspect: test_*.py, *_test.py, conftest.py, or anything under tests/."""
    pure = PurePosixPath(path)
    name = pure.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith(("_test.py", "_tests.py")):
        return True
    return any(part in TEST_DIRS for part in pure.parts[:-1])


def relative_path(path: str, root: Path) -> str | None:
    """A traceback path as a repo-relative path, or None when it is outside the repo (stdlib, site-packages)."""
    if not path or path.startswith("<"):
        return None
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    real = os.path.realpath(candidate)
    real_root = os.path.realpath(root)
    if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
        return None
    relative = os.path.relpath(real, real_root).replace(os.sep, "/")
    parts = relative.split("/")
    if any(part in {".venv", "venv", "site-packages", "node_modules", ".tox", ".nox"} for part in parts):
        return None
    return relative


@dataclass(frozen=True)
class ProjectFrame:
    path: str
    line: int
    function: Function | None  # None: module level (an import-time error)

    @property
    def symbol(self) -> str:
        return self.function.symbol if self.function else "<module>"


@dataclass
class Failure:
    case: TestCase
    exception: str  # "ZeroDivisionError", "AssertionError", "decimal.InvalidOperation"
    message: str  # the exception's first line without its type
    shape: str  # the message with literals replaced, so data-dependent messages compare equal
    frames: list[ProjectFrame] = field(default_factory=list)  # non-test project frames, innermost first
    raised_in_project: bool = False  # the innermost frame of the traceback is project (non-test) code
    collection: bool = False  # a module that failed to import or collect, not a test

    @property
    def test_id(self) -> str:
        return self.case.id


def message_shape(text: str) -> str:
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text.strip()[:120]


def _exception(case: TestCase) -> tuple[str, str]:
    """The exception type and the rest of its first line, from the `E` lines first, then the message."""
    candidates = [line for line in case.details.splitlines() if line.startswith("E ")]
    candidates += case.message.splitlines()[:1]
    for line in candidates:
        if _PYTEST_FAILED.match(line):
            return "Failed", line.split("Failed:", 1)[1].strip()
        match = _EXCEPTION.match(line.strip())
        if match and (match["rest"] is not None or "." in match["type"] or match["type"][:1].isupper()):
            name = match["type"]
            if name[:1].isupper() or "." in name:
                return name, (match["rest"] or "").strip()
    first = case.message.splitlines()[0].strip() if case.message else ""
    if first.startswith("assert "):
        return "AssertionError", first
    return ("Error" if case.outcome == "error" else "Failure"), first


def read_failure(case: TestCase, root: Path, functions: FunctionIndex) -> Failure:
    exception, message = _exception(case)
    frames: list[ProjectFrame] = []
    raised_in_project: bool | None = None  # decided by the innermost frame inside the repo
    for frame in reversed(case.frames):
        relative = relative_path(frame.path, root)
        if relative is None:
            continue  # stdlib or a dependency: the project frame that called it is where it went wrong
        test_code = is_test_path(relative)
        if raised_in_project is None:
            raised_in_project = not test_code
        if not test_code:
            frames.append(ProjectFrame(relative, frame.line, functions.at(relative, frame.line)))
    collection = case.outcome == "error" and ("::" not in case.id or "collection failure" in case.message)
    # An assertion's message is the test's own expression and values: no shape to compare.
    asserted = message.startswith("assert ") or exception == "AssertionError"
    shape = "assertion" if asserted else message_shape(message)
    return Failure(case, exception, message, shape, frames, bool(raised_in_project), collection)
