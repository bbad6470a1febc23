"""run_tests: detect the test command, run it in the sandbox, and return structured results.

Results come from the runner's machine-readable output wherever it has one (pytest's JUnit XML,
`go test -json`), from its verbose lines otherwise (unittest, cargo). npm-style runners are reported
by exit code and output only: their reporters differ per project.
"""

from __future__ import annotations

import secrets
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ornith_local.config import load_config
from ornith_local.sandbox import Sandbox, open_sandbox, with_read_only
from ornith_local.sandbox.workspace_fs import WorkspaceFS
from ornith_local.tools.base import CallPreview, Effect, ToolError, ToolResult, schema
from ornith_local.tools.testing import integrity
from ornith_local.tools.testing.detect import TestCommand, detect_test_command
from ornith_local.tools.testing.model import Frame, TestCase, TestReport
from ornith_local.tools.testing.nothing_ran import ran_no_test, why_nothing_ran
from ornith_local.tools.testing.parsers import (
    looks_like_tap,
    parse_cargo,
    parse_go_json,
    parse_junit,
    parse_tap,
    parse_unittest,
)
from ornith_local.tools.workspace import Workspace

OUTPUT_TAIL_CHARS = 4000
SHOWN_FAILURES = 10
SHOWN_DETAILS = 3
DETAIL_CHARS = 1500
# Keep test runs from leaving bytecode caches and pytest caches in the user's tree.
JS_RUNNERS = ("npm", "pnpm", "yarn")
TEST_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
JUNIT_MAX_BYTES = 64 * 1024 * 1024

__all__ = [
    "CANNOT_RUN",
    "NO_SUITE",
    "Frame",
    "RunTests",
    "TestCase",
    "TestCommand",
    "TestReport",
    "detect_test_command",
    "env_for_tests",
    "format_report",
    "run_tests",
]

NO_SUITE = "no test suite detected (set [tests] command in .ornith.toml)"
CANNOT_RUN = "cannot run the tests"  # followed by ": what is missing, and how to fix it"


def _tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "[…]\n" + text[-limit:]


def env_for_tests(root: Path) -> dict[str, str]:
    """The environment of a test run in `root`: ours, then the project's `[tests] env` entries."""
    configured = dict(entry.split("=", 1) for entry in load_config(root).tests.env)
    return {**TEST_ENV, **{name.strip(): value for name, value in configured.items()}}


def run_tests(root: Path, sandbox: Sandbox | None = None, *, command: TestCommand | None = None,
              select: Sequence[str] = (), timeout_s: float | None = None) -> TestReport:
    """Run the project's tests (or `select`ed ones) in the sandbox; never raises for a failing suite."""
    config = load_config(root)
    # The command (interpreter included) is the one found at the start: never a .venv made mid-run. A project
    # with no suite at the start has nothing to protect: its first suite is detected when it appears.
    baseline = integrity.frozen(root)
    command = command or (baseline.command if baseline else None) or detect_test_command(root)
    if command is None:
        return TestReport("none", "", exit_code=-1, duration_s=0.0,
                          error=NO_SUITE)
    if command.missing:
        return TestReport(command.runner, command.display, exit_code=-1, duration_s=0.0,
                          error=f"{CANNOT_RUN}: {command.missing}")
    sandbox = sandbox or open_sandbox(config.sandbox)
    if command.read_only:
        sandbox = with_read_only(sandbox, command.read_only)
    timeout = timeout_s or config.tests.timeout_s
    argv = list(command.argv)
    junit: Path | None = None
    if command.runner == "pytest":
        junit = root / f".ornith-junit-{secrets.token_hex(6)}.xml"
        argv += ["-p", "no:cacheprovider", "--tb=short", "-o", "junit_family=xunit1", f"--junitxml={junit}"]
    if command.runner in JS_RUNNERS:
        # JS runners select by file; the ids this module reports are `file::test name` (or the bare name when the
        # runner did not say where the test is): what names no file runs the whole suite.
        select = [path for path in dict.fromkeys(item.split("::")[0] for item in select) if (root / path).exists()]
    argv += list(select)
    changed = integrity.changes_since_start(root)
    no_bytecode, pycache = integrity.bytecode_env()
    try:
        result = sandbox.run(argv, workspace=root, timeout_s=timeout,
                             env={**env_for_tests(root), **dict(command.env), **no_bytecode})
        junit_text, junit_problem = _read_report(root, junit)
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
        if junit is not None:
            junit.unlink(missing_ok=True)
    output = result.stdout + ("\n" + result.stderr if result.stderr else "")
    report = TestReport(command.runner, " ".join(argv[:len(command.argv)] + list(select)), result.exit_code,
                        result.duration_s, timed_out=result.timed_out, output=_tail(output))
    if command.runner == "pytest" and junit_text:
        try:
            report.cases = parse_junit(junit_text)
        except ElementTree.ParseError as error:
            junit_problem = f"the JUnit report is not valid XML ({error})"
    elif command.runner == "go":
        report.cases = parse_go_json(result.stdout)
    elif command.runner == "cargo":
        report.cases = parse_cargo(output)
    elif command.runner == "unittest":
        report.cases = parse_unittest(output)
    elif command.runner in (*JS_RUNNERS, "custom") and looks_like_tap(result.stdout):
        report.cases = parse_tap(result.stdout, root)
    report.error = junit_problem or _problem(root, report, command, timeout)
    if changed:  # the result cannot be trusted, whatever it says
        report.error = "the test setup changed since the run started: " + ", ".join(changed)
    return report


def _read_report(root: Path, junit: Path | None) -> tuple[str | None, str | None]:
    """The JUnit file pytest wrote in the sandbox, read without following a link a test could have put there
    (to a 0600 file of the user's) and without blocking on a FIFO; (text, None) or (None, why not)."""
    if junit is None:
        return None, None
    try:
        data = WorkspaceFS(root).read_bytes(junit.name, JUNIT_MAX_BYTES)
    except FileNotFoundError:
        return None, None
    except OSError as error:  # UnsafePath: a link, FIFO or oversized file in the report's place
        return None, f"the JUnit report was not read: {error}"
    return data.decode("utf-8", errors="replace"), None


def _problem(root: Path, report: TestReport, command: TestCommand, timeout: float) -> str | None:
    if report.timed_out:
        return f"the test command timed out after {timeout:.0f} s"
    if report.exit_code == 127:
        return f"command not found: {command.argv[0]}"
    if command.runner == "pytest" and report.exit_code == 5:
        return "pytest collected no tests"
    if report.ran_nothing:
        return f"the test command ran no test (exit {report.exit_code}): a check that runs nothing never passes"
    if not report.cases and ran_no_test(command.argv, report.exit_code, report.output):
        # A configured command reads as "custom": its own output says it ran nothing (unittest on pytest tests).
        return why_nothing_ran(root, command.argv, output=report.output)
    if report.exit_code != 0 and not report.cases:
        return f"the test command failed (exit {report.exit_code}) before reporting any test"
    if report.exit_code != 0 and not report.failures and command.runner in {"pytest", "go", "cargo", "unittest"}:
        return f"the test command failed (exit {report.exit_code}) although no test failed"
    return None


def _where(case: TestCase) -> str:
    if case.frames:
        frame = case.frames[-1]
        return f"{frame.path}:{frame.line}" + (f" in {frame.function}" if frame.function else "")
    return f"{case.file}:{case.line}" if case.file and case.line else ""


def format_report(report: TestReport) -> str:
    """The report as the model reads it: counts, then each failure with its message and location."""
    counts = report.counts
    head = (f"{report.runner}: {counts['failed']} failed, {counts['passed']} passed, {counts['errors']} errors, "
            f"{counts['skipped']} skipped in {report.duration_s:.1f} s (exit {report.exit_code})")
    lines = [head]
    if report.error:
        lines.append(f"problem: {report.error}")
    for index, case in enumerate(report.failures[:SHOWN_FAILURES]):
        lines.append(f"{case.outcome.upper()} {case.id}")
        lines += [f"  {line}" for line in case.message.splitlines()]
        where = _where(case)
        if where:
            lines.append(f"  at {where}")
        if index < SHOWN_DETAILS and case.details:
            lines += ["  " + line for line in _tail(case.details.strip(), DETAIL_CHARS).splitlines()]
    if len(report.failures) > SHOWN_FAILURES:
        lines.append(f"[{len(report.failures) - SHOWN_FAILURES} more failures]")
    if (report.error or not report.cases) and report.output:
        lines += ["output:", report.output]
    return "\n".join(lines)


@dataclass
class RunTests:
    workspace: Workspace
    sandbox: Sandbox | None = None
    name: str = "run_tests"
    description: str = (
        "Run the project's test suite (the command is fixed by the project's configuration) in the sandbox "
        "and get per-test results: failures with messages and file:line. Pass tests to run only some "
        "(pytest node ids or paths)."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "tests": {"type": "array", "items": {"type": "string"},
                  "description": "only these tests, e.g. ['tests/test_x.py::test_y'] (default: all)"},
    }, []))
    # It runs only the project's configured test command, in the sandbox, and keeps nothing it writes (no
    # bytecode caches): it observes, so read-only mode keeps it and ask mode does not ask (the weak tier does).
    effect: ClassVar[Effect] = "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        tests = " ".join(str(item) for item in args.get("tests") or []) or "the whole suite"
        tier = getattr(self.sandbox, "tier", "configured")
        return CallPreview("command", f"run_tests: {tests}", f"run the tests ({tests}; sandbox: {tier})")
    last_report: TestReport | None = None

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        select = [str(item) for item in args.get("tests") or []]
        if any(item.startswith("-") for item in select):
            raise ToolError("tests must be test ids or paths, not options")
        report = run_tests(self.workspace.root, self.sandbox, select=select)
        self.last_report = report
        counts = report.counts
        title = (f"tests: {counts['failed'] + counts['errors']} failing, {counts['passed']} passed"
                 + (f" — {report.error}" if report.error else ""))
        return ToolResult(report.ok, format_report(report), title=title,
                          data={"runner": report.runner, "exit_code": report.exit_code, "counts": counts,
                                "failing": [case.id for case in report.failures], "error": report.error})
