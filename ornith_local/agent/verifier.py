"""The verifier: the checks that decide a run's success, run by the loop itself, never by the model.

The user's --check commands, else the project's detected test suite, judged against the tests that
were already failing before the run; plus the scaffold's own acceptance checks.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ornith_local.sandbox import Sandbox
from ornith_local.tools.testing import CANNOT_RUN, NO_SUITE, env_for_tests, format_report, integrity, run_tests


@dataclass(frozen=True)
class CheckResult:
    name: str  # "tests" for the loop's own test command, else the check command
    command: str
    passed: bool
    summary: str  # one line: "12 passed, 0 failed" / "exit 1: ..."
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "command": self.command, "passed": self.passed, "summary": self.summary}


class Verifier(Protocol):
    """Runs the checks the loop owns: the project's test command (or --check) plus the scaffold's extras."""

    def baseline(self) -> list[str] | None:
        """Before the run: the tests already failing (not this run's doing), or None when not known."""
        ...

    def verify(self, extra_checks: Sequence[str]) -> list[CheckResult]: ...

    def describe(self) -> str:
        """What will decide success, one line: the checks, the test command and why, or why tests cannot run."""
        ...


class SandboxVerifier:
    """The checks the runtime owns: the user's --check commands, else the detected test suite."""

    def __init__(self, root: Path, sandbox: Sandbox, checks: Sequence[str], timeout_s: float, *,
                 use_baseline: bool = True) -> None:
        self.root, self.sandbox, self.checks, self.timeout_s = root, sandbox, tuple(checks), timeout_s
        self.use_baseline = use_baseline
        self.already_failing: frozenset[str] | None = None
        integrity.start_run(root)  # the test command and configuration as they are now, before any edit

    def baseline(self) -> list[str] | None:
        """The suite's failing tests before the run. A repo often has failures unrelated to the task: the run
        is then judged on fixing some of them without breaking anything, not on a suite it was never asked
        to make green. --check commands have no baseline: they are the user's own verdict."""
        if self.checks or not self.use_baseline:
            return None
        report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
        if report.error is not None:
            return None
        self.already_failing = frozenset(case.id for case in report.failures)
        return sorted(self.already_failing)

    def describe(self) -> str:
        if self.checks:
            return "checks: " + "; ".join(self.checks)
        command = integrity.freeze(self.root).command
        if command is None:
            return NO_SUITE
        if command.missing:
            return f"{CANNOT_RUN}: {command.missing}"
        return f"{command.display} ({command.source})"

    def verify(self, extra_checks: Sequence[str]) -> list[CheckResult]:
        results = [self._command(check, "check") for check in self.checks] if self.checks else [self._tests()]
        return results + [self._command(check, "scaffold check") for check in extra_checks]

    def _tests(self) -> CheckResult:
        report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
        counts = report.counts
        summary = report.error or f"{counts['passed']} passed, {counts['failed'] + counts['errors']} failed"
        passed = report.ok and report.error is None and report.exit_code == 0
        failing_ids = [case.id for case in report.failures]
        failing, before = set(failing_ids), self.already_failing
        if not passed and report.error is None and before and failing and failing < before:
            passed = True  # fewer failures than before the run and no new ones
            summary += f" (all {len(failing)} were failing before the run; {len(before - failing)} fixed)"
        return CheckResult("tests", report.command or "(none)", passed, summary,
                           {"failing": failing_ids, "report": format_report(report)})

    def _command(self, command: str, name: str) -> CheckResult:
        try:
            argv = shlex.split(command)
        except ValueError as error:
            return CheckResult(name, command, False, f"cannot parse the command: {error}")
        # The test tools' environment: no bytecode caches written into the user's tree by a check.
        result = self.sandbox.run(argv, workspace=self.root, timeout_s=self.timeout_s, env=env_for_tests(self.root))
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
        summary = "timed out" if result.timed_out else f"exit {result.exit_code}: {tail[0][:160]}"
        return CheckResult(name, command, result.exit_code == 0 and not result.timed_out, summary)
