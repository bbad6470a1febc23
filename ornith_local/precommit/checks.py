"""The checks a commit must pass: configured in `.ornith.toml` or picked from the project, run in the sandbox.

A check is a shell command with placeholders, expanded per run:

    {files}             the staged files (deleted ones excluded), shell-quoted
    {files:*.py,*.pyi}  only those matching one of the globs
    {related_tests}     the test files related to the staged change (see related.py)
    {python}            the project's interpreter (its .venv when it has one)
    {{ and }}           literal braces

A check whose placeholder expands to nothing is skipped (no Python files staged: nothing for ruff; no
related tests: no test run), never run on the whole project by surprise. Other braces (`${VAR}`) pass
through untouched; an unknown `{name}` is a configuration error, so a typo never silently checks nothing.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from ornith_local.config import ConfigError
from ornith_local.sandbox import Sandbox
from ornith_local.tools.testing.nothing_ran import ran_no_test, why_nothing_ran

PLACEHOLDERS = ("files", "related_tests", "python")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_]\w*)(?::([^{}]*))?\}")
OUTPUT_TAIL_CHARS = 6000
# Checks read the staged copy only; keep them from leaving caches in it (and from colouring output).
CHECK_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
DEFAULT_PYTEST = "{python} -m pytest -q -x -p no:cacheprovider {related_tests}"
DEFAULT_RUFF = "ruff check --no-cache --force-exclude {files:*.py,*.pyi}"

Status = Literal["passed", "failed", "skipped", "timeout"]


@dataclass(frozen=True)
class Check:
    command: str  # with placeholders, as configured
    source: str  # ".ornith.toml [precommit] checks" or why the default was chosen
    ok_codes: tuple[int, ...] = (0,)
    # Set when the check cannot run here (its runner is not installed): it fails with this line, unrun.
    missing: str | None = None

    @property
    def name(self) -> str:
        """A short label: the program and its subcommand (`ruff check`), `{python} -m pytest` as `pytest`."""
        words = self.command.split()
        if words[:1] == ["{python}"] or (words and Path(words[0]).name.startswith("python")):
            words = words[2:] if words[1:2] == ["-m"] else words[1:]
        if not words:
            return self.command
        second = words[1] if len(words) > 1 and words[1][:1] not in "-{" and "/" not in words[1] else ""
        return f"{Path(words[0]).name} {second}".strip()


@dataclass(frozen=True)
class Context:
    """What the placeholders expand to for one staged change."""

    files: tuple[str, ...]
    related_tests: tuple[str, ...]
    python: str
    root: Path | None = None  # the repository (its environment, its test files), for what-to-fix hints


@dataclass
class CheckResult:
    check: Check
    status: Status
    command: str = ""  # as run, placeholders expanded
    exit_code: int | None = None
    output: str = ""  # the tail of stdout + stderr
    duration_s: float = 0.0
    note: str = ""  # why it was skipped, that it timed out, or why it checked nothing
    # It failed without testing anything: its runner is missing, or it ran no test. Editing code fixes neither.
    checked_nothing: bool = False

    @property
    def failed(self) -> bool:
        return self.status in {"failed", "timeout"}


def validate(command: str, where: str) -> None:
    for match in _PLACEHOLDER.finditer(command):
        name = match.group(1)
        if name is not None and name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ConfigError(f"{where}: unknown placeholder {{{name}}} in {command!r} (known: {known}; "
                              "write {{ and }} for literal braces)")
        if name is not None and match.group(2) is not None and name != "files":
            raise ConfigError(f"{where}: only {{files}} takes globs, as in {{files:*.py}} ({command!r})")


def expand(command: str, context: Context) -> tuple[str | None, str]:
    """The command line to run, or (None, why it is skipped) when a placeholder it uses is empty."""
    empty: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        token, name, globs = match.group(0), match.group(1), match.group(2)
        if name is None:
            return token[0]  # {{ or }}
        if name == "python":
            return shlex.quote(context.python)
        values = context.files if name == "files" else context.related_tests
        if globs:
            patterns = [g.strip() for g in globs.split(",") if g.strip()]
            values = tuple(v for v in values if any(fnmatch.fnmatch(PurePosixPath(v).name, p)
                                                    or fnmatch.fnmatch(v, p) for p in patterns))
        if not values:
            empty.append(token)
        return " ".join(shlex.quote(v) for v in values)

    expanded = _PLACEHOLDER.sub(substitute, command)
    if empty:
        what = "no related tests" if "{related_tests}" in empty else f"no staged files match {empty[0]}"
        return None, what
    return expanded, ""


def configured_checks(commands: Sequence[str], where: str) -> list[Check]:
    for command in commands:
        validate(command, where)
    return [Check(command, where) for command in commands if command.strip()]


def default_checks(root: Path, tool_path: str) -> list[Check]:
    """What runs when [precommit] checks is unset: the project's own linter, then its related tests."""
    from shutil import which

    from ornith_local.tools.diagnostics.project import ruff_configured
    from ornith_local.tools.testing.detect import detect_test_command

    checks: list[Check] = []
    if ruff_configured(root) and which("ruff", path=tool_path):
        checks.append(Check(DEFAULT_RUFF, "default: the project configures ruff"))
    command = detect_test_command(root)
    if command is not None:
        if command.runner == "pytest" and not command.source.startswith(".ornith.toml"):
            # Exit 5 is pytest's "no tests collected": related files that hold no test fail the check (see
            # nothing_ran.py); a change with no related test file at all skips it ({related_tests} is empty).
            checks.append(Check(DEFAULT_PYTEST, f"default: tests related to the staged files ({command.source})",
                                ok_codes=(0,), missing=command.missing))
        else:
            checks.append(Check(command.display, f"default: the project's tests ({command.source})",
                                missing=command.missing))
    return checks


def tool_path(root: Path, python: str) -> str:
    """PATH for the checks: the project's environment first, so `ruff` or `pytest` are the project's own."""
    dirs = [str(Path(python).parent)]
    for name in (".venv/bin", "venv/bin", "node_modules/.bin"):
        if (root / name).is_dir():
            dirs.append(str(root / name))
    dirs.append(os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    return os.pathsep.join(dict.fromkeys(dirs))


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL_CHARS else "[…]\n" + text[-OUTPUT_TAIL_CHARS:]


def run_checks(checks: Sequence[Check], context: Context, sandbox: Sandbox, tree: Path, *, timeout_s: float,
               env: Mapping[str, str], deadline: float | None = None, stop_at_failure: bool = False,
               ) -> list[CheckResult]:
    """Run each check in the sandbox with `tree` (the staged copy) as its workspace and working directory.

    `deadline` (a monotonic time) caps the whole run: a check that would outlive it is cut off there
    and reported as timed out; the ones after it are skipped.
    """
    results: list[CheckResult] = []
    for check in checks:
        if check.missing:
            results.append(CheckResult(check, "failed", check.command, note=f"cannot run: {check.missing}",
                                       checked_nothing=True))
            continue
        command, why = expand(check.command, context)
        if command is None:
            results.append(CheckResult(check, "skipped", note=why))
            continue
        remaining = timeout_s if deadline is None else min(timeout_s, deadline - time.monotonic())
        if remaining <= 0 or (stop_at_failure and any(r.failed for r in results)):
            results.append(CheckResult(check, "skipped", command, note="not run"))
            continue
        outcome = sandbox.run(command, workspace=tree, timeout_s=remaining, env={**CHECK_ENV, **env})
        output = outcome.stdout + ("\n" + outcome.stderr if outcome.stderr.strip() else "")
        status: Status = "timeout" if outcome.timed_out else \
            "passed" if outcome.exit_code in check.ok_codes else "failed"
        note = f"timed out after {remaining:.0f} s" if outcome.timed_out else ""
        nothing = status != "timeout" and ran_no_test(command, outcome.exit_code, output)
        if nothing:
            # A test check that executed nothing checked nothing: never a pass, and the note says what to fix.
            selected = context.related_tests if "{related_tests" in check.command else ()
            status, note = "failed", why_nothing_ran(context.root or tree, command, output=output, selected=selected)
        results.append(CheckResult(check, status, command, outcome.exit_code, _tail(output.strip()),
                                   outcome.duration_s, note, checked_nothing=nothing))
    return results
