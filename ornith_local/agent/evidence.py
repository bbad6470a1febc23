"""What a run's verification showed, and what "verified" requires of it.

`verified` is earned, not the absence of a failure: some test failed before the change and passes after it
(a test of the suite that was already failing, or a new test the model wrote that failed on the untouched
code), no test that passed before fails after, and, where coverage can be measured, a passing test executes
the changed lines. A run whose suite passes without that is `unverified`, and `missing()` says which part
is absent. An empty diff is never verified.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ornith_local.tools.testing.spectra import Spectra

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
# Lines that carry no code of their own: a changed comment or blank line is not a change a test can execute.
_NOT_CODE = re.compile(r"^\s*(#|//|/\*|\*|$)")
# Failures that show a broken test rather than the problem: the test cannot run at all.
_BROKEN_TEST = re.compile(r"^(ImportError|ModuleNotFoundError|SyntaxError|IndentationError|NameError|"
                          r"fixture '.*' not found)|file or directory not found", re.M)


@dataclass(frozen=True)
class Coverage:
    """How much of the change the passing tests execute."""

    tests: int  # passing tests that execute at least one changed line
    covered: int  # changed lines executed by a passing test
    changed: int  # changed lines of code (comments and blank lines left out)
    uncovered: tuple[str, ...] = ()  # `path:line` of changed lines no passing test executes (the first few)

    def summary(self) -> str:
        tests = f"{self.tests} test" + ("" if self.tests == 1 else "s")
        return f"changed lines covered by {tests} ({self.covered} of {self.changed} lines)"

    def to_json(self) -> dict[str, Any]:
        return {"tests": self.tests, "covered": self.covered, "changed": self.changed,
                "uncovered": list(self.uncovered)}


@dataclass(frozen=True)
class Evidence:
    tests_ran: int  # tests executed by the final run; -1: not countable (--check commands, a runner without ids)
    fail_to_pass: tuple[str, ...] = ()  # failed before the change, pass after it
    reproduced: tuple[str, ...] = ()  # new tests that failed on the untouched code (part of the fail-to-pass set)
    regressions: tuple[str, ...] = ()  # passed before the run, fail after it
    coverage: Coverage | None = None
    coverage_note: str = ""  # why there is no coverage figure
    empty_diff: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)  # what else the runtime saw (a rejected reproduction)

    def missing(self) -> list[str]:
        """What `verified` needs and this run did not show, one phrase each; empty when nothing is missing."""
        if self.empty_diff:  # the rest follows from it
            return ["nothing was changed"]
        gaps: list[str] = []
        if not self.fail_to_pass:
            gaps.append("no test failed before the change and passes after it (nothing showed the problem; a new "
                        "test that fails on the untouched code is the evidence)")
        if self.coverage is not None and self.coverage.covered == 0:
            gaps.append("no passing test executes the changed lines" if self.coverage.changed else
                        "the change has no line of code a test could execute")
        return gaps

    def summary(self) -> str:
        parts = []
        if self.fail_to_pass:
            parts.append(f"{len(self.fail_to_pass)} failing before, passing after")
        if self.regressions:
            parts.append(f"{len(self.regressions)} passing before, failing after")
        parts.append(self.coverage.summary() if self.coverage else (self.coverage_note or "coverage not measured"))
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"tests_ran": self.tests_ran, "fail_to_pass": list(self.fail_to_pass),
                "reproduced": list(self.reproduced), "regressions": list(self.regressions),
                "coverage": self.coverage.to_json() if self.coverage else None, "coverage_note": self.coverage_note,
                "empty_diff": self.empty_diff, "notes": list(self.notes), "missing": self.missing()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        coverage = data.get("coverage")
        return cls(tests_ran=int(data.get("tests_ran", -1)), fail_to_pass=tuple(data.get("fail_to_pass") or ()),
                   reproduced=tuple(data.get("reproduced") or ()), regressions=tuple(data.get("regressions") or ()),
                   coverage=Coverage(coverage["tests"], coverage["covered"], coverage["changed"],
                                     tuple(coverage.get("uncovered") or ())) if coverage else None,
                   coverage_note=str(data.get("coverage_note") or ""), empty_diff=bool(data.get("empty_diff")),
                   notes=tuple(data.get("notes") or ()))


def broken_test(message: str) -> bool:
    """A failure that shows the test itself cannot run (an import error, a typo), not the problem."""
    return bool(_BROKEN_TEST.search(message))


def changed_lines(diff: str, keep: Callable[[str], bool]) -> dict[str, set[int]]:
    """Line numbers, in the new version, of the code lines the diff adds or changes in the files `keep` accepts.
    A hunk that only deletes counts the line that now stands where the deletion was: running it runs the
    changed flow."""
    changed: dict[str, set[int]] = {}
    path: str | None = None
    line = 0
    deleted_at: int | None = None  # this hunk deleted lines here and, so far, added none

    def close_hunk() -> None:
        if path is not None and deleted_at is not None:
            changed.setdefault(path, set()).add(max(deleted_at, 1))

    for text in diff.splitlines():
        hunk = _HUNK.match(text)
        if text.startswith(("diff --git", "--- ", "+++ ")) or hunk:
            close_hunk()
            deleted_at = None
            if text.startswith("+++ "):
                name = text[4:].strip()
                kept = name[2:] if name.startswith("b/") else None  # /dev/null: a deleted file
                path = kept if kept is not None and keep(kept) else None
            elif hunk:
                line = int(hunk.group(1))
            continue
        if path is None:
            continue
        if text.startswith("+"):
            if not _NOT_CODE.match(text[1:]):
                changed.setdefault(path, set()).add(line)
            line, deleted_at = line + 1, None
        elif text.startswith("-"):
            deleted_at = line if deleted_at is None else deleted_at
        elif text.startswith(" "):
            line += 1
    close_hunk()
    return changed


def change_coverage(changed: dict[str, set[int]], runs: Sequence[tuple[Spectra, set[str]]],
                    shown: int = 5) -> Coverage:
    """Which changed lines the passing tests execute, over one or more runs (each its spectra and the ids of the
    tests that passed in it): a line only a failing test reached is not covered."""
    covering: set[str] = set()
    covered, total = 0, 0
    uncovered: list[str] = []
    masks = [(spectra, spectra.mask(passing)) for spectra, passing in runs]
    for path, lines in sorted(changed.items()):
        for number in sorted(lines):
            total += 1
            hit = False
            for spectra, mask in masks:
                bits = spectra.lines.get(path, {}).get(number, 0) & mask
                if bits:
                    hit = True
                    covering.update(spectra.tests[index] for index in range(bits.bit_length()) if bits >> index & 1)
            covered += hit
            if not hit and len(uncovered) < shown:
                uncovered.append(f"{path}:{number}")
    return Coverage(tests=len(covering), covered=covered, changed=total, uncovered=tuple(uncovered))
