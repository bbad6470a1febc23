"""The verifier: the checks that decide a run's success, run by the loop itself, never by the model.

The user's --check commands, else the project's detected test suite, judged against the run's start: which
tests failed before (the baseline), which new test showed the problem on the untouched code (the
reproduction, recorded when the model writes it), and which passing tests execute the changed lines
(coverage.py, for pytest suites). `agent/evidence.py` says what `verified` requires of that.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ornith_local.agent.evidence import Evidence, broken_test, change_coverage, changed_lines
from ornith_local.guard.monitor import GuardPolicy, is_test_path
from ornith_local.sandbox import Sandbox
from ornith_local.tools.testing import (
    CANNOT_RUN,
    NO_SUITE,
    TestCase,
    TestCommand,
    env_for_tests,
    format_report,
    integrity,
    run_tests,
)
from ornith_local.tools.testing.coverage import is_pytest, run_suite
from ornith_local.tools.testing.model import COUNTING_RUNNERS


@dataclass(frozen=True)
class CheckResult:
    name: str  # "tests" for the loop's own test command, else the check command
    command: str
    passed: bool
    summary: str  # one line: "12 passed, 0 failed" / "exit 1: ..."
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "command": self.command, "passed": self.passed, "summary": self.summary}


@dataclass(frozen=True)
class Verification:
    checks: list[CheckResult]
    evidence: Evidence


class ChangedTree(Protocol):
    """What the verifier reads of the repo under change (the loop's workspace)."""

    def diff(self) -> str: ...

    def changed_files(self) -> list[str]: ...

    def is_new_file(self, path: str) -> bool:
        """The file did not exist when the run started."""
        ...


class Verifier(Protocol):
    """Runs the checks the loop owns: the project's test command (or --check) plus the scaffold's extras."""

    def baseline(self) -> list[str] | None:
        """Before the run: the tests already failing (not this run's doing), or None when not known."""
        ...

    def after_edit(self, path: str, tree: ChangedTree) -> str | None:
        """After an edit: a new test written while the code is untouched is run to see whether it shows the
        problem; what the runtime saw, for the model, or None when there was nothing to see."""
        ...

    def verify(self, extra_checks: Sequence[str], tree: ChangedTree) -> Verification: ...

    def describe(self) -> str:
        """What will decide success, one line: the checks, the test command and why, or why tests cannot run."""
        ...


def is_new_test(path: str, tree: ChangedTree) -> bool:
    """A test file the run created: allowed, unlike an edit of the tests that were there (a new conftest.py or
    test configuration is not a test: it changes how every test runs)."""
    return GuardPolicy().may_create(path) and tree.is_new_file(path)


class SandboxVerifier:
    """The checks the runtime owns: the user's --check commands, else the detected test suite."""

    def __init__(self, root: Path, sandbox: Sandbox, checks: Sequence[str], timeout_s: float, *,
                 use_baseline: bool = True, command: TestCommand | None = None) -> None:
        self.root, self.sandbox, self.checks, self.timeout_s = root, sandbox, tuple(checks), timeout_s
        self.use_baseline = use_baseline
        self.before: dict[str, str] | None = None  # test id -> outcome before the run
        self.checks_before: dict[str, bool] = {}  # --check command -> passed before the run
        self.reproduced: dict[str, str] = {}  # new test id -> how it failed on the untouched code
        # The test command (`command`, else detected) and configuration as they are now, before any edit.
        integrity.start_run(root, command)

    @property
    def already_failing(self) -> frozenset[str] | None:
        if self.before is None:
            return None
        return frozenset(test for test, outcome in self.before.items() if outcome in ("failed", "error"))

    @property
    def needs_reproduction(self) -> bool:
        """Nothing fails before the run: the problem is not shown by any test (or --check) yet."""
        if self.checks:
            return bool(self.checks_before) and all(self.checks_before.values())
        return self.before is not None and not self.already_failing

    def baseline(self) -> list[str] | None:
        """The suite's failing tests before the run. A repo often has failures unrelated to the task: the run
        is then judged on fixing some of them without breaking anything, not on a suite it was never asked
        to make green. --check commands are run too: one that failed before and passes after is the evidence."""
        if not self.use_baseline:
            return None
        if self.checks:
            self.checks_before = {check: self._command(check, "check").passed for check in self.checks}
            return None
        report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
        if report.error is not None:
            return None
        self.before = {case.id: case.outcome for case in report.cases}
        return sorted(self.already_failing or ())

    def describe(self) -> str:
        if self.checks:
            return "checks: " + "; ".join(self.checks)
        command = integrity.freeze(self.root).command
        if command is None:
            return NO_SUITE
        if command.missing:
            return f"{CANNOT_RUN}: {command.missing}"
        return f"{command.display} ({command.source})"

    def after_edit(self, path: str, tree: ChangedTree) -> str | None:
        if self.checks or not is_new_test(path, tree):
            return None
        changed = tree.changed_files()
        if not all(is_test_path(other) for other in changed):
            return None  # the code has changed already: a failure now would not be the untouched code's
        new = sorted(other for other in changed if is_new_test(other, tree) and (self.root / other).is_file())
        if _runs_pytest(self.root):
            report = run_tests(self.root, self.sandbox, select=new, timeout_s=self.timeout_s)
            candidates = report.failures
        elif self.before is not None:  # runners that select by name, not file: the tests the baseline did not have
            report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
            candidates = [case for case in report.failures if case.id not in self.before]
        else:
            return None
        shown = {case.id: case.message for case in candidates
                 if case.outcome == "failed" and not broken_test(case.message)}
        self.reproduced = shown  # the latest state of the new tests before the first change to the code
        if shown:
            return (f"runtime: {len(shown)} new test(s) fail on the untouched code "
                    f"({', '.join(sorted(shown)[:3])}): recorded as the reproduction of the problem")
        broken = [case for case in candidates if case.id not in shown]
        if broken or report.error:
            why = broken[0].message if broken else report.error
            return f"runtime: the new tests cannot run ({why}): they do not show the problem yet"
        return "runtime: the new tests pass on the untouched code: they do not show the problem yet"

    def verify(self, extra_checks: Sequence[str], tree: ChangedTree) -> Verification:
        diff = tree.diff()
        if self.checks:
            results = [self._command(check, "check") for check in self.checks]
            fixed = tuple(r.command for r in results if r.passed and self.checks_before.get(r.command) is False)
            evidence = Evidence(tests_ran=-1, fail_to_pass=fixed, empty_diff=not diff.strip(),
                                coverage_note="coverage is not measured for --check commands")
        else:
            tests, evidence = self._tests(diff, tree)
            results = [tests]
        return Verification(results + [self._command(check, "scaffold check") for check in extra_checks], evidence)

    def _tests(self, diff: str, tree: ChangedTree) -> tuple[CheckResult, Evidence]:
        """The suite once more, under coverage where it is pytest: the tests that were there without the new
        test files (a new file's import-time code could patch what the old tests see), then the new files. Only
        pytest can leave files out by path: for other runners one run holds both, and that patch is not ruled out."""
        frozen = integrity.frozen(self.root)
        command = frozen.command if frozen else None
        new = sorted(path for path in tree.changed_files() if is_new_test(path, tree) and (self.root / path).is_file())
        source_only = lambda path: not is_test_path(path)  # noqa: E731
        if command is None or command.missing:
            report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
            return self._result(report.error or "no test ran", report.command, [], {"unrunnable": True}), \
                Evidence(tests_ran=0, empty_diff=not diff.strip(), coverage_note="no test ran")
        pytest = is_pytest(command)
        runs = [run_suite(self.root, self.sandbox, command, timeout_s=self.timeout_s, include=source_only,
                          select=[f"--ignore={path}" for path in new] if pytest else ())]
        if pytest and new:
            runs.append(run_suite(self.root, self.sandbox, command, timeout_s=self.timeout_s, include=source_only,
                                  select=new))
        cases = _merge([run.report.cases for run in runs], new)
        # New files that hold no test (a helper module) are nothing to judge: pytest's exit 5 there is no failure.
        judged = [runs[0], *(run for run in runs[1:] if run.report.exit_code != 5)]
        error = next((run.report.error for run in judged if run.report.error), None)
        if error is None and not any(case.outcome in ("failed", "error") for case in cases) and any(
                run.report.exit_code != 0 for run in judged):
            error = f"the test command exited {runs[0].report.exit_code}"
        counting = runs[0].report.runner in COUNTING_RUNNERS
        ran = sum(case.outcome in ("passed", "failed") for case in cases) if counting else -1
        check = self._result(error, runs[0].report.command, cases,
                             {"report": format_report(runs[0].report), "unrunnable": ran == 0})
        passing = {case.id for case in cases if case.outcome == "passed"}
        ran_ids = {case.id for case in cases}
        failed_before = self.already_failing or frozenset()
        spectra = [(run.spectra, {c.id for c in run.report.cases if c.outcome == "passed"})
                   for run in runs if run.spectra is not None]
        coverage = change_coverage(changed_lines(diff, source_only), spectra) if spectra and error is None else None
        evidence = Evidence(
            tests_ran=ran,
            fail_to_pass=tuple(sorted(passing & (failed_before | self.reproduced.keys()))),
            reproduced=tuple(sorted(self.reproduced)),
            regressions=tuple(sorted(test for test, outcome in (self.before or {}).items()
                                     if outcome == "passed" and test in ran_ids and test not in passing)),
            coverage=coverage, empty_diff=not diff.strip(),
            coverage_note="" if coverage else (runs[0].coverage_note or "coverage was not recorded"))
        return check, evidence

    def _result(self, error: str | None, command: str, cases: list[TestCase], details: dict[str, Any]) -> CheckResult:
        failing = {case.id for case in cases if case.outcome in ("failed", "error")}
        passed_count = sum(case.outcome == "passed" for case in cases)
        summary = error or f"{passed_count} passed, {len(failing)} failed"
        before = self.already_failing or frozenset()
        passed = error is None and (not failing or failing < before)
        if passed and failing:  # fewer failures than before the run and no new ones
            summary += f" (every failure was there before the run; {len(before - failing)} of {len(before)} fixed)"
        return CheckResult("tests", command or "(none)", passed, summary, {"failing": sorted(failing), **details})

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


def _runs_pytest(root: Path) -> bool:
    frozen = integrity.frozen(root)
    return frozen is not None and frozen.command is not None and is_pytest(frozen.command)


def _merge(reports: list[list[TestCase]], new: list[str]) -> list[TestCase]:
    """The first run's cases, then the new test files' own cases from the second (a command naming fixed paths
    may run the old tests again there)."""
    cases = list(reports[0])
    for extra in reports[1:]:
        cases += [case for case in extra if case.id.split("::")[0] in new]
    return cases
