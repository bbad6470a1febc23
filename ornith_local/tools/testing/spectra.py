"""Per-test line coverage (the "program spectra" of SBFL), read from coverage.py's dynamic contexts.

Each covered line maps to the set of tests that executed it. Sets are Python ints used as bitsets
(bit i = test i), so the Ochiai counts for a whole cluster are one `&` and one `bit_count()` per line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

BETWEEN_TESTS = "ornith:between-tests"  # the plugin's context outside any test (imports, collection)


def canonical_test_id(test_id: str) -> str:
    """One spelling for a pytest node id and its JUnit classname + name: `a/b.py::C::t[x]` -> `a.b.C.t[x]`."""
    head, bracket, params = test_id.partition("[")
    head = head.replace("::", ".").replace("/", ".").replace("\\", ".")
    head = head.replace(".py.", ".")
    return head + bracket + params


@dataclass
class Spectra:
    """Which tests executed which lines, for the files under the repo root."""

    tests: list[str] = field(default_factory=list)  # index -> test id (as the coverage contexts name it)
    lines: dict[str, dict[int, int]] = field(default_factory=dict)  # path -> line -> bitset of tests
    _index: dict[str, int] = field(default_factory=dict)
    _canonical: dict[str, int] = field(default_factory=dict)

    def test_index(self, test_id: str) -> int:
        index = self._index.get(test_id)
        if index is None:
            index = len(self.tests)
            self.tests.append(test_id)
            self._index[test_id] = index
            self._canonical.setdefault(canonical_test_id(test_id), index)
        return index

    def find(self, test_id: str) -> int | None:
        """The index of a test named by the runner's id, which may be spelt differently from the context."""
        found = self._index.get(test_id)
        return found if found is not None else self._canonical.get(canonical_test_id(test_id))

    def mask(self, test_ids: Iterable[str]) -> int:
        bits = 0
        for test_id in test_ids:
            index = self.find(test_id)
            if index is not None:
                bits |= 1 << index
        return bits

    def add(self, path: str, line: int, test_id: str) -> None:
        bit = 1 << self.test_index(test_id)
        per_file = self.lines.setdefault(path, {})
        per_file[line] = per_file.get(line, 0) | bit

    @property
    def empty(self) -> bool:
        return not self.lines


def _relative(path: str, root: str) -> str | None:
    real = os.path.realpath(path)
    if not real.startswith(root + os.sep):
        return None
    return os.path.relpath(real, root).replace(os.sep, "/")


def read_spectra(data_files: Iterable[Path], root: Path, include: Callable[[str], bool] = lambda path: True) -> Spectra:
    """Merge coverage.py data files (one per test process) into Spectra for the files under `root`
    whose repo-relative path `include` accepts."""
    from coverage import CoverageData  # imported late: only triage needs it

    real_root = os.path.realpath(root)
    spectra = Spectra()
    for data_file in sorted(data_files):
        data = CoverageData(basename=str(data_file))
        data.read()
        for measured in data.measured_files():
            relative = _relative(measured, real_root)
            if relative is None or not include(relative):
                continue
            for line, contexts in data.contexts_by_lineno(measured).items():
                for context in contexts:
                    if context and context != BETWEEN_TESTS:
                        spectra.add(relative, line, context)
    return spectra
