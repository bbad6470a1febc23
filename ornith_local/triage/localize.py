"""Rank suspect functions for a set of failing tests.

With per-test coverage, the ranking is learned (ranker.py over features.py): a small linear model fitted on
the benchmark's development packages. It decides only where failures raised in project code: where they
only failed an assertion (a wrong value), Ochiai orders and the learned score breaks ties, since the
learned order alone lost to Ochiai on such bugs (figures in benchmarks/README.md). Its score is the
"learned" signal; git recency, when the history is informative, is mixed in with its weight. Without
coverage, or with `Weights(learned=False)`, the fixed-weight combination below ranks, the one ornith used
before the learned ranking. Signals, each 0..1:

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

from ornith_local.tools.testing.spectra import Spectra
from ornith_local.triage.failures import Failure, is_test_path
from ornith_local.triage.features import Observation, features
from ornith_local.triage.functions import Function, FunctionIndex
from ornith_local.triage.gitsignal import GitRecency, recently_changed_files
from ornith_local.triage.model import Suspect
from ornith_local.triage.ranker import Ranker, shipped
from ornith_local.triage.sbfl import FunctionScore, dstar, ochiai, score_functions

TRACEBACK_DECAY = 0.5
MODULE_LINE = 1  # where a module's import-time code "starts", for its key and snippet
NONE_VALUE_FACTOR = 0.5
# Where the failures only asserted, Ochiai orders and the learned score moves a function past another only
# when their Ochiai is equal: the learned ranking, fitted mostly on bugs that raise, put a wrong value's
# raising callers first (31% acc@1 against Ochiai's 71% on such bugs, benchmarks/README.md).
TIE_BREAK = 1e-3


@dataclass(frozen=True)
class Weights:
    """Chosen on a development set of bugs (benchmarks/triage_eval.py --grid on tabulate and isodate), never
    on the packages the benchmark reports: where a failure raised is strong evidence only for bugs that
    raise, and a function that returns a wrong value makes its callers raise, hence a light traceback."""

    sbfl: float = 1.0
    traceback: float = 0.25
    git: float = 0.3
    learned: bool = True  # rank with the learned model where there is coverage (sbfl / traceback then unused)
    # The learned ranking decides only where at least this share of the failing tests raised in project
    # code; below it Ochiai orders and the learned score only breaks its ties (0: the learned ranking always).
    gate: float = 0.5

    def only(self, *names: str) -> Weights:
        """These weights with every signal not named switched off (and the fixed-weight ranking)."""
        return Weights(**{name: getattr(self, name) if name in names else 0.0 for name in ("sbfl", "traceback", "git")},
                       learned=False)


@dataclass
class Evidence:
    """Everything localization reads, gathered once per run."""

    root: Path
    functions: FunctionIndex
    git: GitRecency
    spectra: Spectra | None  # None: no per-test coverage (not pytest, or coverage.py unavailable)
    passing: int = 0  # bitset over spectra.tests of the tests that passed
    ranker: Ranker | None = field(default_factory=shipped)  # the learned ranking; None: fixed weights only
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


def _traceback_scores(failures: list[Failure], candidates: dict[tuple[str, str, int], _Candidate],
                      modules: bool = False) -> None:
    for failure in failures:
        # "'NoneType' object has no attribute ...": the frame that raised used a value made elsewhere
        # (often a function that forgot to return), so where it raised is weaker evidence.
        victim = NONE_VALUE_FACTOR if "NoneType" in failure.message else 1.0
        seen: set[tuple[str, str, int]] = set()
        for depth, frame in enumerate(failure.frames):
            start = frame.function.line if frame.function else MODULE_LINE if modules else frame.line
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
    if candidate.sbfl is not None and candidate.symbol == "<module>":
        s = candidate.sbfl
        parts.append(f"import-time code of a module {s.failed}/{total_failed} failing and {s.passed} passing tests use")
    elif candidate.sbfl is not None:
        s = candidate.sbfl
        parts.append(f"line {s.line} run by {s.failed}/{total_failed} failing and {s.passed} passing tests")
    if candidate.traceback > 0:
        parts.append(f"in the traceback of {tests} failing test{'s' if tests != 1 else ''}"
                     if candidate.traceback >= 1 - 1e-9 else "in the failing call chain")
    if candidate.git > 0:
        parts.append("uncommitted change" if candidate.git >= 1 else "recently changed")
    return "; ".join(parts)


def _module_scores(spectra: Spectra, failing: int, passing: int) -> list[FunctionScore]:
    """Import-time code as a candidate per module, "run" by every test that ran any of the module's lines.

    Module-level lines run while pytest collects, outside any test, so coverage gives them to no test; the
    tests that use a module are the ones that depend on what its import set up."""
    total_failed = failing.bit_count()
    scores = []
    for path, lines in spectra.lines.items():
        users = 0
        for tests in lines.values():
            users |= tests
        ef, ep = (users & failing).bit_count(), (users & passing).bit_count()
        if ef:
            module = Function(path, "<module>", MODULE_LINE, MODULE_LINE)
            scores.append(FunctionScore(module, ochiai(ef, ep, total_failed), MODULE_LINE, ef, ep,
                                        dstar(ef, ep, total_failed), ef, ep, 0))
    return scores


def _gather(failures: list[Failure], evidence: Evidence, modules: bool = False,
            ) -> tuple[dict[tuple[str, str, int], _Candidate], int]:
    """Every candidate with its raw evidence, and the number of failing tests coverage knows about.
    `modules`: also each module's import-time code, as one candidate per module (the learned ranking)."""
    candidates: dict[tuple[str, str, int], _Candidate] = {}
    total_failed = 0
    # The candidates come from coverage and tracebacks whatever the weights; weights only rank them.
    if evidence.spectra is not None:
        failing = evidence.failing_mask(failures)
        total_failed = failing.bit_count()
        scores = score_functions(evidence.spectra, evidence.functions, failing, evidence.passing)
        if modules:
            scores += _module_scores(evidence.spectra, failing, evidence.passing)
        for scored in scores:
            f = scored.function
            candidates[(f.path, f.symbol, f.line)] = _Candidate(f, f.path, scored.line, sbfl=scored)
    _traceback_scores(failures, candidates, modules)
    if evidence.git.informative:
        if evidence.spectra is None:
            for f in evidence.changed_functions():
                candidates.setdefault((f.path, f.symbol, f.line), _Candidate(f, f.path, f.line))
        for candidate in candidates.values():
            if candidate.function is not None and candidate.function.symbol != "<module>":
                candidate.git = evidence.git.function_score(candidate.function)
            else:
                candidate.git = evidence.git.line_score(candidate.path, candidate.line)
    return candidates, total_failed


Key = tuple[str, str, int]


def feature_rows(failures: list[Failure], evidence: Evidence) -> tuple[list[Key], list[tuple[float, ...]]]:
    """The candidates' keys (path, symbol, first line) and feature rows, as the learned ranking sees them
    (what the benchmark fits the ranker on)."""
    candidates, total_failed = _gather(failures, evidence, modules=True)
    observations = [Observation(key, c.sbfl, c.traceback) for key, c in candidates.items()]
    return list(candidates), features(observations, failures, total_failed, evidence.passing.bit_count())


def localize(failures: list[Failure], evidence: Evidence, weights: Weights, limit: int = 10) -> list[Suspect]:
    """The suspects for `failures`, best first."""
    use_learned = learned_ranking(evidence, weights)
    candidates, total_failed = _gather(failures, evidence, modules=use_learned)
    learned = _learned_scores(candidates, failures, evidence, total_failed) if use_learned else None
    if learned is not None and raised_share(failures) < weights.gate:
        learned = {key: (1 - TIE_BREAK) * (c.sbfl.score if c.sbfl else 0.0) + TIE_BREAK * learned[key]
                   for key, c in candidates.items()}
    git_weight = weights.git if evidence.git.informative else 0.0
    active = (1.0 if learned is not None else weights.traceback + (weights.sbfl if evidence.spectra is not None
                                                                   else 0.0)) + git_weight
    suspects = []
    tests_with_frames = sum(1 for f in failures if f.frames)
    for key, candidate in candidates.items():
        sbfl = candidate.sbfl.score if candidate.sbfl else 0.0
        evidence_score = learned[key] if learned is not None else \
            weights.sbfl * sbfl + weights.traceback * candidate.traceback
        combined = evidence_score + weights.git * candidate.git
        if combined <= 0:
            continue
        line = candidate.sbfl.line if candidate.sbfl else candidate.traceback_line or candidate.line
        function = candidate.function
        signals = {"sbfl": sbfl, "traceback": min(candidate.traceback, 1.0), "git": candidate.git}
        if learned is not None:
            signals["learned"] = learned[key]
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


def raised_share(failures: list[Failure]) -> float:
    """The share of failing tests whose exception was raised in project code, not by a test's assertion."""
    return sum(1 for f in failures if f.raised_in_project) / len(failures) if failures else 0.0


def learned_ranking(evidence: Evidence, weights: Weights) -> bool:
    """Whether `localize` ranks with the learned model here (it needs per-test coverage)."""
    return weights.learned and evidence.ranker is not None and evidence.spectra is not None


def _learned_scores(candidates: dict[tuple[str, str, int], _Candidate], failures: list[Failure], evidence: Evidence,
                    total_failed: int) -> dict[tuple[str, str, int], float]:
    assert evidence.ranker is not None
    observations = [Observation(key, c.sbfl, c.traceback) for key, c in candidates.items()]
    rows = features(observations, failures, total_failed, evidence.passing.bit_count())
    return {o.key: evidence.ranker.score(row) for o, row in zip(observations, rows, strict=True)}


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
