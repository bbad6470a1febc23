"""Spectrum-based fault localization: Ochiai per line, aggregated per function by its best line.

Ochiai(line) = ef / sqrt(F * (ef + ep)), with ef / ep the failing / passing tests that executed the
line and F all failing tests under consideration. A line run by every failing test and no passing one
scores 1. A function scores as its most suspicious line, the usual aggregation in the literature (a
mean would punish long functions for their many innocent lines). DStar (Wong et al. 2014, star 2:
ef^2 / (ep + nf), nf = F - ef) is kept beside it, per function by its own best line: the benchmark's
second baseline and one of the learned ranking's features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ornith_local.tools.testing.spectra import Spectra
from ornith_local.triage.functions import Function, FunctionIndex


@dataclass(frozen=True)
class FunctionScore:
    function: Function
    score: float  # Ochiai of the function's most suspicious line, 0..1
    line: int  # that line
    failed: int  # failing tests that executed it (ef)
    passed: int  # passing tests that executed it (ep)
    dstar: float = 0.0  # DStar of the function's best line by DStar (inf: every failing test, no passing one)
    failed_any: int = 0  # failing tests that executed any line of the function
    passed_any: int = 0  # passing tests that executed any line of the function
    lines_failed: int = 0  # lines of the function some failing test executed


def ochiai(failed_covering: int, passed_covering: int, total_failed: int) -> float:
    if failed_covering == 0 or total_failed == 0:
        return 0.0
    return failed_covering / math.sqrt(total_failed * (failed_covering + passed_covering))


def dstar(failed_covering: int, passed_covering: int, total_failed: int) -> float:
    if failed_covering == 0:
        return 0.0
    denominator = passed_covering + total_failed - failed_covering
    return math.inf if denominator == 0 else failed_covering ** 2 / denominator


@dataclass
class _Tally:
    best: FunctionScore
    dstar: float = 0.0
    failed: int = 0  # bitset
    passed: int = 0  # bitset
    lines: int = 0


def score_functions(spectra: Spectra, functions: FunctionIndex, failing: int, passing: int) -> list[FunctionScore]:
    """Every function executed by at least one of the `failing` tests (bitsets over spectra.tests), best first."""
    total_failed = failing.bit_count()
    if total_failed == 0:
        return []
    tallies: dict[tuple[str, str, int], _Tally] = {}
    for path, lines in spectra.lines.items():
        index = functions.file(path)
        for line, tests in lines.items():
            function = index.at(line)
            if function is None:
                continue
            key = (function.path, function.symbol, function.line)
            ef = (tests & failing).bit_count()
            tally = tallies.get(key)
            if ef == 0:
                if tally is not None:
                    tally.passed |= tests & passing
                else:  # remember what passing tests ran it, in case a failing test runs another line
                    tallies[key] = _Tally(FunctionScore(function, -1.0, line, 0, 0), passed=tests & passing)
                continue
            ep = (tests & passing).bit_count()
            candidate = FunctionScore(function, ochiai(ef, ep, total_failed), line, ef, ep)
            if tally is None:
                tally = tallies[key] = _Tally(candidate)
            elif tally.best.score < 0 or _better(candidate, tally.best):
                tally.best = candidate
            tally.dstar = max(tally.dstar, dstar(ef, ep, total_failed))
            tally.failed |= tests & failing
            tally.passed |= tests & passing
            tally.lines += 1
    scored = [FunctionScore(t.best.function, t.best.score, t.best.line, t.best.failed, t.best.passed, t.dstar,
                            t.failed.bit_count(), t.passed.bit_count(), t.lines)
              for t in tallies.values() if t.best.score >= 0]
    return sorted(scored, key=lambda s: (-s.score, -s.failed, s.passed, s.function.path, s.function.line))


def _better(a: FunctionScore, b: FunctionScore) -> bool:
    return (a.score, a.failed, -a.passed, -a.line) > (b.score, b.failed, -b.passed, -b.line)


def best_per_test(spectra: Spectra, functions: FunctionIndex, failing: int, passing: int) -> dict[int, Function]:
    """For each failing test alone (a bit in `failing`), its most suspicious function, in one pass.

    Alone, a test's Ochiai on a line is 1 / sqrt(1 + ep): the line fewest passing tests run wins; among
    those, the line most other failing tests also run, which pulls tests of one bug toward one function.
    """
    best: dict[int, tuple[tuple[int, int, str, int], Function]] = {}
    for path, lines in spectra.lines.items():
        index = functions.file(path)
        for line, tests in lines.items():
            fails = tests & failing
            if not fails:
                continue
            function = index.at(line)
            if function is None:
                continue
            rank = ((tests & passing).bit_count(), -fails.bit_count(), path, line)
            while fails:
                low = fails & -fails
                test = low.bit_length() - 1
                fails ^= low
                current = best.get(test)
                if current is None or rank < current[0]:
                    best[test] = (rank, function)
    return {test: function for test, (_, function) in best.items()}
