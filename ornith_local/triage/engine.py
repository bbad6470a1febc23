"""Triage from top to bottom: run the suite once, read the failures, cluster, localize, report.

`collect` does the slow part (the test run, with coverage) and `analyze` the rest, so the benchmark
can re-rank one run under several signal weightings. `triage` is both, plus timings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ornith_local.sandbox import Sandbox
from ornith_local.tools.testing import TestCase, TestCommand, TestReport
from ornith_local.tools.testing.coverage import SuiteRun, run_suite
from ornith_local.tools.testing.model import parse_frames
from ornith_local.tools.testing.nothing_ran import ran_no_test, why_nothing_ran
from ornith_local.triage.cluster import Group, group_failures, merge_by_top
from ornith_local.triage.failures import Failure, is_test_path, read_failure
from ornith_local.triage.functions import FunctionIndex
from ornith_local.triage.gitsignal import GitRecency
from ornith_local.triage.localize import Evidence, Weights, learned_ranking, localize, merge_rankings, raised_share
from ornith_local.triage.model import Cluster, Suspect, TriageReport
from ornith_local.triage.sbfl import best_per_test

Progress = Callable[[str], None]
# Keep raising clusters out of the overall list where the gate hands the ranking to Ochiai (the benchmark
# compares both ways; development bugs favoured keeping them out).
MERGE_GATED = True


@dataclass(frozen=True)
class TriageOptions:
    timeout_s: float = 600.0  # the whole suite; past it the run is reported as a hang
    coverage: bool = True  # record per-test coverage for SBFL (pytest suites)
    weights: Weights = field(default_factory=Weights)
    suspects_per_cluster: int = 5
    top_suspects: int = 10


@dataclass
class Collected:
    """One run's raw evidence, before any ranking."""

    root: Path
    command: TestCommand
    suite: SuiteRun
    failures: list[Failure]
    evidence: Evidence
    tests_s: float


def collect(root: Path, sandbox: Sandbox, command: TestCommand, options: TriageOptions) -> Collected:
    started = time.monotonic()
    suite = run_suite(root, sandbox, command, timeout_s=options.timeout_s, coverage=options.coverage,
                      include=lambda path: not is_test_path(path))
    tests_s = time.monotonic() - started
    functions = FunctionIndex(root)
    cases = list(suite.report.failures) or _synthetic_failures(suite.report)
    failures = [read_failure(case, root, functions) for case in cases]
    passing = suite.spectra.mask(c.id for c in suite.report.cases if c.outcome == "passed") if suite.spectra else 0
    evidence = Evidence(root, functions, GitRecency(root), suite.spectra, passing)
    return Collected(root, command, suite, failures, evidence, tests_s)


def _synthetic_failures(report: TestReport) -> list[TestCase]:
    """A run that died before reporting any test (a broken conftest.py, say) as one failure to triage."""
    if report.cases or report.timed_out or report.exit_code == 0:
        return []
    frames = parse_frames(report.output)
    errors = [line for line in report.output.splitlines() if line.startswith("E ")]
    if not frames or not errors:
        return []
    return [TestCase(id="<test session>", outcome="error", message=errors[-1][1:].strip() + " (collection failure)",
                     details=report.output, frames=frames)]


def _per_test_suspect(evidence: Evidence, failures: list[Failure]) -> Callable[[Failure], str | None]:
    """For a failure in test code: the function per-test SBFL finds most suspicious, as "path:symbol"."""
    spectra = evidence.spectra
    if spectra is None:
        return lambda failure: None
    in_tests = [f for f in failures if not f.raised_in_project and not f.collection]
    best = best_per_test(spectra, evidence.functions, evidence.failing_mask(in_tests), evidence.passing)

    def suspect_of(failure: Failure) -> str | None:
        index = spectra.find(failure.test_id)
        function = best.get(index) if index is not None else None
        return f"{function.path}:{function.symbol}" if function else None

    return suspect_of


def _cluster(group: Group, suspects: list[Suspect]) -> Cluster:
    first = group.failures[0]
    frame = first.frames[0] if first.frames and group.kind != "wrong-value" else None
    return Cluster(
        signature=group.signature, kind=group.kind, exception=group.exception,
        message=first.message or next(iter(first.case.message.splitlines()), ""),
        tests=group.test_ids, location=f"{frame.path}:{frame.line}" if frame else None, suspects=suspects,
        variants=list(group.variants), details=first.case.details,
    )


def analyze(collected: Collected, options: TriageOptions) -> tuple[list[Cluster], list[Suspect]]:
    """Clusters (largest first) and the overall suspects (best first) for the collected failures."""
    failures, evidence, weights = collected.failures, collected.evidence, options.weights
    if not failures:
        return [], []
    groups = group_failures(failures, _per_test_suspect(evidence, failures))
    ranked = {id(g): localize(g.failures, evidence, weights, options.suspects_per_cluster) for g in groups}

    def top_of(group: Group) -> str | None:
        suspects = ranked[id(group)]
        return f"{suspects[0].path}:{suspects[0].symbol}:{suspects[0].start_line}" if suspects else None

    merged = merge_by_top(groups, top_of)
    clusters = []
    for group in merged:
        suspects = ranked[id(group)] if not group.variants else \
            localize(group.failures, evidence, weights, options.suspects_per_cluster)
        clusters.append(_cluster(group, suspects))
    # Overall: every cluster's ranking, plus one over all failures together (a single bug that shows up
    # as several clusters is best seen from all of its tests at once). With the learned ranking only the
    # clusters whose tests raised in project code merge in: where they raised is sharp evidence of a second
    # bug, while a wrong-value cluster's few tests rank worse than all tests together (merging every
    # cluster cost 11 points of acc@1 on the benchmark's development packages).
    together = localize(failures, evidence, weights, options.top_suspects)
    # Where most failures only asserted (the learned ranking stands aside, see Weights.gate), a few tests
    # that raised are more often a wrong value's callers than a second bug: their cluster stays out too.
    merged_in = ([] if MERGE_GATED and raised_share(failures) < weights.gate else
                 [c for c in clusters if c.kind in {"raises", "collection"}]) if learned_ranking(evidence, weights) \
        else clusters
    overall = merge_rankings([*(c.suspects for c in merged_in), together], options.top_suspects)
    return clusters, overall


def _counts(collected: Collected) -> dict[str, int]:
    report, progress = collected.suite.report, collected.suite.progress
    if report.cases or not progress.outcomes:
        return report.counts
    values = list(progress.outcomes.values())
    return {"passed": values.count("passed"), "failed": values.count("failed"), "errors": 0,
            "skipped": values.count("skipped")}


def build_report(collected: Collected, options: TriageOptions, tier: str) -> TriageReport:
    started = time.monotonic()
    suite, report = collected.suite, collected.suite.report
    clusters, suspects = analyze(collected, options)
    result = TriageReport(
        root=str(collected.root), status="failures", summary="", test_command=collected.command.display,
        runner=collected.command.runner, tests=_counts(collected), clusters=clusters, suspects=suspects,
        coverage=suite.spectra is not None, sandbox_tier=tier, output_tail=report.output,
    )
    if suite.coverage_note and not collected.command.missing:  # no run, no coverage: nothing to note
        result.notes.append(suite.coverage_note)
    if collected.evidence.git.note:
        result.notes.append(collected.evidence.git.note)
    _set_status(result, collected, options)
    result.timings = {"tests_s": collected.tests_s, "analysis_s": time.monotonic() - started}
    return result


def _set_status(result: TriageReport, collected: Collected, options: TriageOptions) -> None:
    report, suite = collected.suite.report, collected.suite
    failing = result.tests["failed"] + result.tests["errors"]
    if report.timed_out:
        result.status = "timeout"
        stuck = ", ".join(suite.progress.unfinished[:3]) or "unknown (no per-test progress from this runner)"
        result.summary = f"the suite did not finish within {options.timeout_s:.0f} s; still running: {stuck}"
        _add_hang_cluster(result, collected, options)
    elif result.clusters and all(c.kind == "collection" for c in result.clusters) and \
            result.tests["passed"] + result.tests["failed"] == 0:
        result.status = "import-error"
        result.summary = f"the suite could not be imported: {result.clusters[0].signature}"
    elif failing or result.clusters:
        result.summary = (f"{failing} failing test{'s' if failing != 1 else ''} in {len(result.clusters)} "
                          f"cluster{'s' if len(result.clusters) != 1 else ''}")
        if result.suspects:
            top = result.suspects[0]
            result.summary += f"; most suspicious: {top.path}:{top.line} {top.symbol}"
    elif collected.command.missing:  # never ran: what is missing, and how to fix it
        result.status = "error"
        result.summary = report.error or f"cannot run the tests: {collected.command.missing}"
    elif report.exit_code == 0 and result.tests["passed"] > 0:
        result.status = "all-passed"
        result.summary = f"all {result.tests['passed']} tests passed"
    elif result.tests["passed"] == 0 and (report.exit_code == 0 or report.ran_nothing or
                                          ran_no_test(collected.command.argv, report.exit_code, report.output)):
        # Zero tests executed (none found, all skipped, or none ornith can see) is never a pass.
        result.status = "no-tests"
        result.summary = why_nothing_ran(collected.root, collected.command.argv, output=report.output)
    else:
        result.status = "error"
        result.summary = report.error or f"the test command failed (exit {report.exit_code})"


def _add_hang_cluster(result: TriageReport, collected: Collected, options: TriageOptions) -> None:
    """The hanging test as a cluster, localized by where its stack was just before the kill."""
    suite = collected.suite
    if not suite.hang:
        return
    test_id = suite.progress.unfinished[0] if suite.progress.unfinished else "<hanging test>"
    case = TestCase(id=test_id, outcome="error", message=f"Timeout: still running after {options.timeout_s:.0f} s",
                    frames=suite.hang)
    failure = read_failure(case, collected.root, collected.evidence.functions)
    if not failure.frames:
        return
    evidence = Evidence(collected.root, collected.evidence.functions, collected.evidence.git, None)
    suspects = localize([failure], evidence, options.weights.only("traceback", "git"), options.suspects_per_cluster)
    frame = failure.frames[0]
    result.clusters.insert(0, Cluster(
        signature=f"hang @ {frame.path}:{frame.symbol}", kind="hang", exception="Timeout", message=case.message,
        tests=[test_id], location=f"{frame.path}:{frame.line}", suspects=suspects))
    result.suspects = merge_rankings([suspects, result.suspects], options.top_suspects)


def triage(root: Path, sandbox: Sandbox, command: TestCommand, options: TriageOptions,
           progress: Progress = lambda message: None) -> tuple[TriageReport, Collected]:
    """Run and analyze. The caller handles "no test command" (see `no_suite_report`) and the model."""
    progress(f"running {command.display} in the {sandbox.tier} sandbox")
    collected = collect(root, sandbox, command, options)
    progress("analyzing failures")
    report = build_report(collected, options, sandbox.tier)
    return report, collected


def no_suite_report(root: Path) -> TriageReport:
    return TriageReport(root=str(root), status="no-suite",
                        summary="no test suite detected: set [tests] command in .ornith.toml "
                        "(pytest, unittest, cargo, go and npm test are found on their own)")
