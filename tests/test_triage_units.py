"""Triage's pieces on their own: function boundaries, Ochiai, failure reading, clustering, git recency."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from ornith_local.tools.testing import Frame, TestCase
from ornith_local.tools.testing.spectra import Spectra, canonical_test_id
from ornith_local.triage.cluster import group_failures, merge_by_top
from ornith_local.triage.failures import is_test_path, message_shape, read_failure, relative_path
from ornith_local.triage.functions import FunctionIndex
from ornith_local.triage.gitsignal import GitRecency
from ornith_local.triage.localize import Evidence, Weights, localize, merge_rankings
from ornith_local.triage.model import Suspect
from ornith_local.triage.sbfl import best_per_test, ochiai, score_functions
from tests.conftest import git

SOURCE = textwrap.dedent('''\
    import functools


    def top(x):
        def inner(y):
            return y + 1
        return inner(x)


    class Shape:
        @functools.cache
        def area(self):
            return 1

        async def fetch(self):
            return 2


    VALUE = top(1)
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text("def test_x():\n    assert False\n")
    return tmp_path


def test_function_boundaries_from_ast(project: Path) -> None:
    index = FunctionIndex(project)
    symbols = {(f.symbol, f.line, f.end_line) for f in index.all("pkg/mod.py")}
    assert symbols == {("top", 4, 7), ("top.inner", 5, 6), ("Shape.area", 12, 13), ("Shape.fetch", 15, 16)}
    assert index.at("pkg/mod.py", 6).symbol == "top.inner"  # type: ignore[union-attr]
    assert index.at("pkg/mod.py", 7).symbol == "top"  # type: ignore[union-attr]
    assert index.at("pkg/mod.py", 11) is None  # the decorator line belongs to the class body
    assert index.at("pkg/mod.py", 19) is None  # module level
    assert index.at("missing.py", 1) is None


def test_function_boundaries_from_tree_sitter(tmp_path: Path) -> None:
    (tmp_path / "main.go").write_text("package main\n\nfunc add(a int, b int) int {\n\treturn a - b\n}\n")
    function = FunctionIndex(tmp_path).at("main.go", 4)
    assert function is not None and function.symbol == "add" and (function.line, function.end_line) == (3, 5)


def test_ochiai() -> None:
    assert ochiai(2, 0, 2) == 1.0
    assert ochiai(0, 5, 2) == 0.0
    assert ochiai(1, 1, 2) == pytest.approx(1 / math.sqrt(4))


def _spectra() -> Spectra:
    spectra = Spectra()
    # top.inner (line 6) runs only in the failing test; top (line 7) in every test.
    for test in ("t::fail", "t::pass1", "t::pass2"):
        spectra.add("pkg/mod.py", 7, test)
    spectra.add("pkg/mod.py", 6, "t::fail")
    spectra.add("pkg/mod.py", 13, "t::pass1")
    return spectra


def test_sbfl_ranks_the_function_only_failing_tests_run(project: Path) -> None:
    spectra = _spectra()
    scores = score_functions(spectra, FunctionIndex(project), spectra.mask(["t::fail"]),
                             spectra.mask(["t::pass1", "t::pass2"]))
    assert [(s.function.symbol, s.line, s.failed, s.passed) for s in scores] == [("top.inner", 6, 1, 0),
                                                                                  ("top", 7, 1, 2)]
    assert scores[0].score == 1.0
    best = best_per_test(spectra, FunctionIndex(project), spectra.mask(["t::fail"]), spectra.mask(["t::pass1"]))
    assert best[spectra.find("t::fail")].symbol == "top.inner"  # type: ignore[index]


def test_junit_ids_match_node_ids() -> None:
    assert canonical_test_id("tests/test_a.py::TestX::test_y[1.5-a/b]") == "tests.test_a.TestX.test_y[1.5-a/b]"
    spectra = Spectra()
    spectra.add("a.py", 1, "tests/test_a.py::TestX::test_y")
    assert spectra.find("tests.test_a.TestX::test_y") == 0


def test_test_paths() -> None:
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/tests/helpers.py") and is_test_path("conftest.py")
    assert is_test_path("x_test.py") and not is_test_path("pkg/testing.py") and not is_test_path("pkg/contest.py")


def test_relative_path_keeps_only_project_files(project: Path) -> None:
    assert relative_path(str(project / "pkg" / "mod.py"), project) == "pkg/mod.py"
    assert relative_path("pkg/mod.py", project) == "pkg/mod.py"
    assert relative_path("/usr/lib/python3.11/json/decoder.py", project) is None
    assert relative_path("<frozen importlib._bootstrap>", project) is None


def test_message_shape_hides_data() -> None:
    assert message_shape("KeyError: 'alice' at 0x7f00aa") == message_shape("KeyError: 'bob' at 0x7f11bb")
    assert message_shape("expected 3 items, got 12") == "expected <n> items, got <n>"


def _case(test_id: str, frames: tuple[Frame, ...], message: str) -> TestCase:
    details = "\n".join(f"{f.path}:{f.line}: in {f.function}" for f in frames) + f"\nE   {message}"
    return TestCase(id=test_id, outcome="failed", message=message, details=details, frames=frames)


def test_failures_group_by_exception_shape_and_frame(project: Path) -> None:
    index = FunctionIndex(project)
    raising = [read_failure(_case(f"tests/test_mod.py::t{n}", (Frame("tests/test_mod.py", 2, f"t{n}"),
                                                                Frame("pkg/mod.py", 6, "inner")),
                                  f"TypeError: bad operand {n}"), project, index) for n in range(3)]
    asserting = [read_failure(_case(f"tests/test_mod.py::a{n}", (Frame("tests/test_mod.py", 2, f"a{n}"),),
                                    f"AssertionError: assert {n} == 2"), project, index) for n in range(2)]
    assert raising[0].raised_in_project and raising[0].frames[0].symbol == "top.inner"
    assert raising[0].exception == "TypeError" and not asserting[0].raised_in_project
    groups = group_failures(raising + asserting, lambda failure: "pkg/mod.py:top")
    assert [(g.kind, len(g.failures)) for g in groups] == [("raises", 3), ("wrong-value", 2)]
    assert groups[0].signature == "TypeError: bad operand <n> @ pkg/mod.py:top.inner"
    merged = merge_by_top(groups, lambda group: "same")
    assert len(merged) == 1 and len(merged[0].failures) == 5 and merged[0].variants == [groups[1].signature]


def test_dotted_and_pytest_fail_exceptions(project: Path) -> None:
    index = FunctionIndex(project)
    dotted = read_failure(_case("t::a", (), "decimal.InvalidOperation: [<class 'x'>]"), project, index)
    assert dotted.exception == "decimal.InvalidOperation"
    failed = read_failure(_case("t::b", (), "Failed: DID NOT RAISE <class 'ValueError'>"), project, index)
    assert failed.exception == "Failed"


def test_localize_combines_signals(project: Path) -> None:
    index = FunctionIndex(project)
    spectra = _spectra()
    failure = read_failure(_case("t::fail", (Frame("tests/test_mod.py", 2, "t"), Frame("pkg/mod.py", 7, "top")),
                                 "ValueError: no"), project, index)
    evidence = Evidence(project, index, GitRecency(project), spectra, spectra.mask(["t::pass1", "t::pass2"]))
    by_sbfl = localize([failure], evidence, Weights().only("sbfl"))
    by_traceback = localize([failure], evidence, Weights().only("traceback"))
    assert by_sbfl[0].symbol == "top.inner" and by_traceback[0].symbol == "top"
    both = localize([failure], evidence, Weights())
    # The learned ranking also lists each covered module's import-time code, as "<module>".
    assert {s.symbol for s in both} == {"top", "top.inner", "<module>"}
    assert all(0 < s.score <= 1 for s in both)
    raised_in = next(s for s in both if s.symbol == "top")
    assert raised_in.signals["traceback"] == 1.0 and "traceback" in raised_in.why
    assert both[0].symbol == "top.inner"  # only the failing test runs it: SBFL outweighs the light traceback


def test_merge_rankings_keeps_each_function_once_at_its_best() -> None:
    a = Suspect("a.py", "f", 3, 0.4, 1, 5)
    b = Suspect("b.py", "g", 9, 0.9, 8, 10)
    merged = merge_rankings([[a], [b, Suspect("a.py", "f", 2, 0.7, 1, 5)]], limit=5)
    assert [(s.symbol, s.score) for s in merged] == [("g", 0.9), ("f", 0.7)]


def test_git_recency(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "import")
    index = FunctionIndex(project)
    recency = GitRecency(project)
    assert recency.available and not recency.informative  # only the initial import: nothing is recent
    assert recency.function_score(index.at("pkg/mod.py", 6)) == 0.0  # type: ignore[arg-type]
    text = (project / "pkg" / "mod.py").read_text().replace("return y + 1", "return y + 2")
    (project / "pkg" / "mod.py").write_text(text)
    git(project, "commit", "-q", "-am", "change inner")
    (project / "pkg" / "new.py").write_text("def fresh():\n    return 1\n")
    recency = GitRecency(project)
    assert recency.informative
    index = FunctionIndex(project)
    assert recency.function_score(index.at("pkg/mod.py", 6)) == 0.5  # type: ignore[arg-type]  # HEAD
    assert recency.function_score(index.at("pkg/mod.py", 13)) == 0.0  # type: ignore[arg-type]
    assert recency.function_score(index.at("pkg/new.py", 2)) == 1.0  # type: ignore[arg-type]  # untracked


def test_no_git_repo_gives_no_signal(project: Path) -> None:
    recency = GitRecency(project)
    assert not recency.available and "not a git repository" in recency.note
