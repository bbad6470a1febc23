"""What the learned ranking reads about each suspect function: a few numbers, each 0..1, each explainable.

From coverage (per-test spectra), for the function's most suspicious line and for the function as a whole:
- ochiai: Ochiai of its best line (the classic SBFL score)
- dstar: DStar of its best line by DStar, squashed to d / (1 + d) (1: every failing test, no passing one)
- ochiai_rank: 1 / its rank by Ochiai among the candidates (ties share their mean rank)
- ef_all: 1 when every failing test executed its best line
- ep_fn: passing tests that executed any of its lines, log-scaled by all passing tests (0: none did)
- ef_fn: failing tests that executed any of its lines, over all failing tests
- lines: how many of its lines failing tests executed, log-scaled (a long path through it, or one line)
From tracebacks (only failures that raised in project code have any):
- tb_inner: failing tests whose exception was raised in it (innermost project frame), over all failing tests
- tb_chain: the traceback score (innermost frame 1, its caller 1/2, ...), averaged over failing tests
- tb_entry: failing tests whose outermost project frame (the function the test called) is it
- ochiai_raised: ochiai again, but only when some failing test raised inside project code (zero for pure
  wrong values), so the ranking can weigh coverage differently for the two kinds of bug
From names (tests are usually named after what they test):
- name_match: the largest share of the function's name words (`parse_date` -> parse, date) found among the
  words of a failing test's id, over the failing tests
- file_match: failing tests whose test file names the function's module (test_dates.py -> dates.py), share
From the code: module: the candidate is module-level code (import-time), not a function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ornith_local.triage.failures import Failure
from ornith_local.triage.sbfl import FunctionScore

MODULE_LINE = 1  # localize.MODULE_LINE: a module's import-time code as one candidate keyed at line 1

FEATURES = ("ochiai", "dstar", "ochiai_rank", "ef_all", "ep_fn", "ef_fn", "lines", "tb_inner", "tb_chain",
            "tb_entry", "ochiai_raised", "name_match", "file_match", "module")
# Feature groups for the benchmark's ablations: each is dropped (and the ranker refitted) in turn.
GROUPS = {"coverage": ("ochiai", "dstar", "ochiai_rank", "ef_all", "ep_fn", "ef_fn", "lines"),
          "traceback": ("tb_inner", "tb_chain", "tb_entry", "ochiai_raised"), "names": ("name_match", "file_match"),
          "structure": ("module",)}

Key = tuple[str, str, int]  # path, symbol, first line


@dataclass(frozen=True)
class Observation:
    """The raw evidence about one candidate, before it becomes features."""

    key: Key
    sbfl: FunctionScore | None
    traceback: float  # the decayed traceback score, averaged over the failing tests


def _mean_ranks(values: Sequence[float]) -> list[float]:
    """Rank 1 for the largest value; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def features(observations: Sequence[Observation], failures: Sequence[Failure], total_failed: int,
             total_passed: int) -> list[tuple[float, ...]]:
    """One feature vector (in FEATURES order) per observation."""
    inner: dict[Key, int] = {}
    entry: dict[Key, int] = {}
    raised = 0
    for failure in failures:
        if not failure.frames:
            continue
        if failure.raised_in_project:
            raised += 1
            inner[_key(failure, 0)] = inner.get(_key(failure, 0), 0) + 1
        entry[_key(failure, -1)] = entry.get(_key(failure, -1), 0) + 1
    count = max(len(failures), 1)
    failed = max(total_failed, 1)
    test_words = [words(failure.test_id.split("::", 1)[-1]) for failure in failures]
    file_words = [words(failure.test_id.split("::", 1)[0].rsplit("/", 1)[-1]) | {
        _stem(failure.test_id.split("::", 1)[0]).removeprefix("test_").removesuffix("_test")} for failure in failures]
    ranks = _mean_ranks([o.sbfl.score if o.sbfl else 0.0 for o in observations])
    rows: list[tuple[float, ...]] = []
    for observation, rank in zip(observations, ranks, strict=True):
        s = observation.sbfl
        star = s.dstar if s else 0.0
        rows.append((
            s.score if s else 0.0,
            1.0 if math.isinf(star) else star / (1 + star),
            1 / rank if s else 0.0,
            1.0 if s and s.failed >= total_failed else 0.0,
            math.log1p(s.passed_any) / math.log1p(max(total_passed, 1)) if s else 0.0,
            s.failed_any / failed if s else 0.0,
            min(math.log1p(s.lines_failed) / math.log(64), 1.0) if s else 0.0,
            inner.get(observation.key, 0) / count,
            min(observation.traceback, 1.0),
            entry.get(observation.key, 0) / count,
            (s.score if s else 0.0) if raised else 0.0,
            _name_match(observation.key[1], test_words),
            sum(1 for words in file_words if _stem(observation.key[0]) in words) / count,
            1.0 if observation.key[1] == "<module>" else 0.0,
        ))
    return rows


_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_NOISE = {"test", "tests", "py", "self", "cls", "init", "call", "get", "set", "the", "and", "for", "new"}


def words(text: str) -> set[str]:
    """Lower-case words of an identifier or path: `TestParseDate::test_iso_week` -> parse, date, iso, week."""
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2 and w.lower() not in _NOISE}


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".py").strip("_").lower()


def _name_match(symbol: str, test_words: list[set[str]]) -> float:
    mine = words(symbol.rsplit(".", 1)[-1])
    if not mine or not test_words:
        return 0.0
    return max(len(mine & theirs) / len(mine) for theirs in test_words)


def _key(failure: Failure, index: int) -> Key:
    frame = failure.frames[index]
    return (frame.path, frame.symbol, frame.function.line if frame.function else MODULE_LINE)
