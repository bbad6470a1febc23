"""Rank suspect functions for a set of failing tests by combining three signals, each 0..1:

- sbfl: Ochiai of the function's most suspicious line over per-test coverage (see sbfl.py). The one
  signal that finds a function that only returned a wrong value: its traceback points at the test.
- traceback: where the failures raised. The innermost project frame of a test scores 1, its caller
  0.5, the next 0.25...; averaged over the group's tests.
- git: how recently the function changed (see gitsignal.py). It only reorders functions that the other
  two already suspect: a recent change nobody's failure touches is no suspect.

The combined score is the weighted mean over the signals available in this run, so it stays in 0..1;
the weights are `Weights`, and the benchmark measures each combination by zeroing some of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ornith_local.triage.failures import Failure, is_test_path
from ornith_local.triage.functions import Function, FunctionIndex
from ornith_local.triage.gitsignal import GitRecency, recently_changed_files
from ornith_local.triage.model import Suspect
from ornith_local.triage.sbfl import FunctionScore, score_functions
from ornith_local.triage.spectra import Spectra

TRACEBACK_DECAY = 0.5
NONE_VALUE_FACTOR = 0.5


@dataclass(frozen=True)
class Weights:
    """Chosen on a development set of bugs (benchmarks/triage_eval.py --grid on tabulate and isodate), never
    on the packages the benchmark reports: where a failure raised is strong evidence only for bugs that
    raise, and a function that returns a wrong value makes its callers raise, hence a light traceback."""

    sbfl: float = 1.0
    traceback: float = 0.25
    git: float = 0.3

    def only(self, *names: str) -> Weights:
        """These weights with every signal not named switched off."""
        return Weights(**{name: getattr(self, name) if name in names else 0.0 for name in ("sbfl", "traceback", "git")})


@dataclass
class Evidence:
    """Everything localization reads, gathered once per run."""

    root: Path
    functions: FunctionIndex
    git: GitRecency
    spectra: Spectra | None  # None: no per-test coverage (not pytest, or coverage.py unavailable)
    passing: int = 0  # bitset over spectra.tests of the tests that passed
    _changed: list[Function] | None = field(default=None, repr=False)

    def failing_mask(self, failures: Iterable[Failure]) -> int:
        return self.spectra.mask(f.test_id for f in failures) if self.spectra else 0

    def reset_caches(self) -> None:
        self._changed = None

    def changed_functions(self) -> list[Function]:
        """Recently changed non-test functions: candidates only when there is no coverage at all."""
        if self._changed is None:
            changed: list[Function] = []
            for path in recently_changed_files(self.root):
                if not is_test_path(path):
                    changed += [f for f in self.functions.all(path) if self.git.function_score(f) > 0]
            self._changed = changed
        return self._changed


@dataclass
class _Candidate:
    function: Function | None  # None: module-level code (import-time errors)
    path: str
    line: int
    sbfl: FunctionScore | None = None
    traceback: float = 0.0
    traceback_line: int | None = None
    git: float = 0.0

    @property
    def symbol(self) -> str:
        return self.function.symbol if self.function else "<module>"


def _traceback_scores(failures: list[Failure], candidates: dict[tuple[str, str, int], _Candidate]) -> None:
    for failure in failures:
        # "'NoneType' object has no attribute ...": the frame that raised used a value made elsewhere
        # (often a function that forgot to return), so where it raised is weaker evidence.
        victim = NONE_VALUE_FACTOR if "NoneType" in failure.message else 1.0
        seen: set[tuple[str, str, int]] = set()
        for depth, frame in enumerate(failure.frames):
            start = frame.function.line if frame.function else frame.line
            key = (frame.path, frame.symbol, start)
            if key in seen:
                continue  # recursion: count a function once per test, at its innermost frame
            seen.add(key)
            candidate = candidates.setdefault(key, _Candidate(frame.function, frame.path, frame.line))
            candidate.traceback += victim * TRACEBACK_DECAY ** depth / len(failures)
            if candidate.traceback_line is None:
                candidate.traceback_line = frame.line


def _why(candidate: _Candidate, total_failed: int, tests: int) -> str:
    parts = []
    if candidate.sbfl is not None:
        s = candidate.sbfl
        parts.append(f"line {s.line} run by {s.failed}/{total_failed} failing and {s.passed} passing tests")
    if candidate.traceback > 0:
        parts.append(f"in the traceback of {tests} failing test{'s' if tests != 1 else ''}"
                     if candidate.traceback >= 1 - 1e-9 else "in the failing call chain")
    if candidate.git > 0:
        parts.append("uncommitted change" if candidate.git >= 1 else "recently changed")
    return "; ".join(parts)


def localize(failures: list[Failure], evidence: Evidence, weights: Weights, limit: int = 10) -> list[Suspect]:
    """The suspects for `failures`, best first."""
    candidates: dict[tuple[str, str, int], _Candidate] = {}
    total_failed = 0
    # The candidates come from coverage and tracebacks whatever the weights; weights only rank them.
    if evidence.spectra is not None:
        failing = evidence.failing_mask(failures)
        total_failed = failing.bit_count()
        for scored in score_functions(evidence.spectra, evidence.functions, failing, evidence.passing):
            f = scored.function
            candidates[(f.path, f.symbol, f.line)] = _Candidate(f, f.path, scored.line, sbfl=scored)
    _traceback_scores(failures, candidates)
    if evidence.git.informative:
        if evidence.spectra is None:
            for f in evidence.changed_functions():
                candidates.setdefault((f.path, f.symbol, f.line), _Candidate(f, f.path, f.line))
        for candidate in candidates.values():
            if candidate.function is not None:
                candidate.git = evidence.git.function_score(candidate.function)
            else:
                candidate.git = evidence.git.line_score(candidate.path, candidate.line)
    active = weights.traceback + (weights.sbfl if evidence.spectra is not None else 0.0) \
        + (weights.git if evidence.git.informative else 0.0)
    suspects = []
    tests_with_frames = sum(1 for f in failures if f.frames)
    for candidate in candidates.values():
        sbfl = candidate.sbfl.score if candidate.sbfl else 0.0
        combined = weights.sbfl * sbfl + weights.traceback * candidate.traceback + weights.git * candidate.git
        if combined <= 0:
            continue
        line = candidate.sbfl.line if candidate.sbfl else candidate.traceback_line or candidate.line
        function = candidate.function
        signals = {"sbfl": sbfl, "traceback": min(candidate.traceback, 1.0), "git": candidate.git}
        suspects.append(Suspect(
            path=candidate.path, symbol=candidate.symbol, line=line, score=combined / active if active else 0.0,
            start_line=function.line if function else candidate.line,
            end_line=function.end_line if function else candidate.line, signals=signals,
            failed=candidate.sbfl.failed if candidate.sbfl else 0,
            passed=candidate.sbfl.passed if candidate.sbfl else 0,
            why=_why(candidate, total_failed, tests_with_frames),
        ))
    suspects.sort(key=lambda s: (-s.score, -s.signals["traceback"], -s.signals["git"], -s.failed, s.passed,
                                 s.path, s.start_line))
    return suspects[:limit]


def merge_rankings(rankings: Iterable[list[Suspect]], limit: int) -> list[Suspect]:
    """One list across several rankings: each function at its best score, best first."""
    best: dict[tuple[str, str, int], Suspect] = {}
    order: dict[tuple[str, str, int], int] = {}
    for ranking in rankings:
        for position, suspect in enumerate(ranking):
            current = best.get(suspect.key)
            if current is None or suspect.score > current.score:
                best[suspect.key] = suspect
                order[suspect.key] = min(order.get(suspect.key, position), position)
    ranked = sorted(best.values(), key=lambda s: (-s.score, order[s.key], s.path, s.start_line))
    return ranked[:limit]
