"""The learned ranking's pieces: DStar and per-function tallies, features, import-time candidates, fitting,
the shipped ranker, and the benchmark's mutation operators on real source."""

from __future__ import annotations

import ast
import math
import random
import textwrap
from pathlib import Path

import pytest

from benchmarks.triage_mutants import MODULE, apply_site, restore, sample_sites, sites_in_file
from benchmarks.triage_score import Placement, merge_spectra, wilson
from ornith_local.tools.testing import Frame, TestCase
from ornith_local.tools.testing.spectra import Spectra
from ornith_local.triage.failures import read_failure
from ornith_local.triage.features import FEATURES
from ornith_local.triage.functions import FunctionIndex
from ornith_local.triage.gitsignal import GitRecency
from ornith_local.triage.localize import Evidence, Weights, feature_rows, localize
from ornith_local.triage.ranker import Ranker, fit, shipped
from ornith_local.triage.sbfl import dstar, score_functions

SOURCE = textwrap.dedent('''\
    LIMIT = 3


    def clamp(x):
        if x > LIMIT:
            return LIMIT
        return x


    def total(items):
        result = 0
        for item in items:
            result += clamp(item)
        return result


    class Box:
        size = 2

        def fits(self, n):
            return n <= self.size and not n < 0


    def larger(a, b):
        return max(a, b) - 1
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    return tmp_path


def _spectra() -> Spectra:
    spectra = Spectra()
    for test in ("t::fail", "t::pass"):  # both run total(); only the failing one reaches clamp's `return LIMIT`
        for line in (11, 12, 13, 14, 5, 7):
            spectra.add("pkg/mod.py", line, test)
    spectra.add("pkg/mod.py", 6, "t::fail")
    return spectra


def test_dstar() -> None:
    assert dstar(2, 0, 2) == math.inf
    assert dstar(1, 1, 2) == pytest.approx(0.5)
    assert dstar(0, 3, 2) == 0.0


def test_function_tallies(project: Path) -> None:
    spectra = _spectra()
    scores = {s.function.symbol: s for s in score_functions(spectra, FunctionIndex(project),
                                                             spectra.mask(["t::fail"]), spectra.mask(["t::pass"]))}
    clamp, total = scores["clamp"], scores["total"]
    assert (clamp.line, clamp.score, clamp.dstar) == (6, 1.0, math.inf)
    assert (clamp.failed_any, clamp.passed_any, clamp.lines_failed) == (1, 1, 3)
    assert total.score < 1.0 and total.lines_failed == 4


def _evidence(project: Path, ranker: Ranker | None) -> Evidence:
    spectra = _spectra()
    return Evidence(project, FunctionIndex(project), GitRecency(project), spectra, spectra.mask(["t::pass"]),
                    ranker=ranker)


def _failure(project: Path, frames: tuple[Frame, ...], message: str = "AssertionError: assert 3 == 4"):  # type: ignore[no-untyped-def]
    details = "\n".join(f"{f.path}:{f.line}: in {f.function}" for f in frames) + f"\nE   {message}"
    case = TestCase(id="t::fail", outcome="failed", message=message, details=details, frames=frames)
    return read_failure(case, project, FunctionIndex(project))


def test_features_and_import_time_candidates(project: Path) -> None:
    failure = _failure(project, (Frame("tests/test_mod.py", 3, "test"), Frame("pkg/mod.py", 13, "total"),
                                 Frame("pkg/mod.py", 6, "clamp")), "TypeError: bad")
    keys, rows = feature_rows([failure], _evidence(project, None))
    by_symbol = {key[1]: dict(zip(FEATURES, row, strict=True)) for key, row in zip(keys, rows, strict=True)}
    assert set(by_symbol) == {"clamp", "total", MODULE}
    clamp, total, module = by_symbol["clamp"], by_symbol["total"], by_symbol[MODULE]
    assert clamp["ochiai"] == 1.0 and clamp["ochiai_rank"] == 1.0 and clamp["dstar"] == 1.0
    assert clamp["tb_inner"] == 1.0 and total["tb_inner"] == 0.0 and total["tb_entry"] == 1.0
    assert clamp["ochiai_raised"] == 1.0  # the failure raised inside project code
    assert module["module"] == 1.0 and clamp["module"] == 0.0
    assert 0 < total["ochiai"] < 1 and all(0.0 <= value <= 1.0 for row in rows for value in row)


def test_ranker_decides_where_failures_raise_and_ochiai_where_they_assert(project: Path) -> None:
    raising = _failure(project, (Frame("tests/test_mod.py", 3, "test"), Frame("pkg/mod.py", 13, "total"),
                                 Frame("pkg/mod.py", 6, "clamp")), "TypeError: bad")
    asserting = _failure(project, (Frame("tests/test_mod.py", 3, "test"),))
    likes_module = Ranker(tuple(5.0 if name == "module" else 0.0 for name in FEATURES))
    likes_coverage = Ranker(tuple(5.0 if name == "ochiai" else 0.0 for name in FEATURES))
    module = localize([raising], _evidence(project, likes_module), Weights())[0]
    assert module.symbol == MODULE and module.why.startswith("import-time code of a module 1/1 failing")
    top = localize([raising], _evidence(project, likes_coverage), Weights())[0]
    assert top.symbol == "clamp" and 0 < top.signals["learned"] < 1
    # A failure that only asserted: Ochiai orders (clamp's `return LIMIT` ran in the failing test alone) and
    # the ranker only breaks the tie between total() and the module, both run by both tests.
    gated = [s.symbol for s in localize([asserting], _evidence(project, likes_module), Weights())]
    assert gated[:3] == ["clamp", MODULE, "total"]
    assert localize([asserting], _evidence(project, likes_module), Weights(gate=0.0))[0].symbol == MODULE
    # The fixed weights ignore the ranker and never list import-time code without a traceback into it.
    fixed = localize([asserting], _evidence(project, likes_module), Weights(learned=False))
    assert fixed[0].symbol == "clamp" and MODULE not in {s.symbol for s in fixed}


def test_fit_learns_which_feature_marks_the_bug() -> None:
    rng = random.Random(3)
    examples = []
    for _ in range(40):
        rows = [tuple(rng.random() for _ in FEATURES) for _ in range(6)]
        target = rng.randrange(6)
        marked = list(rows[target])
        marked[FEATURES.index("tb_inner")] = 1.0  # the bug always has the highest tb_inner
        rows[target] = tuple(marked)
        for i in range(6):
            if i != target:
                row = list(rows[i])
                row[FEATURES.index("tb_inner")] *= 0.5
                rows[i] = tuple(row)
        examples.append((rows, target))
    ranker = fit(examples, fitted_on=["synthetic"])
    weights = dict(zip(FEATURES, ranker.weights, strict=True))
    assert weights["tb_inner"] == max(weights.values()) > 0
    without = fit(examples, [name for name in FEATURES if name != "tb_inner"])
    assert dict(zip(FEATURES, without.weights, strict=True))["tb_inner"] == 0.0
    again = Ranker.from_json(ranker.to_json())
    assert again.fitted_on == ("synthetic",) and again.weights == pytest.approx(ranker.weights, abs=1e-4)


def test_shipped_ranker_is_fitted_on_development_packages_only() -> None:
    from benchmarks.triage_eval import DEVELOPMENT, HELD_OUT

    ranker = shipped()
    assert ranker is not None and ranker.bugs >= 50
    assert set(ranker.fitted_on) <= {p.name for p in DEVELOPMENT}
    assert not set(ranker.fitted_on) & {p.name for p in HELD_OUT}


def test_mutation_operators_on_real_source(project: Path) -> None:
    sites = sites_in_file(project, "pkg/mod.py", FunctionIndex(project))
    operators = {site.operator for site in sites}
    assert operators == {"cmp", "arith", "off-by-one", "return", "bool", "negation", "remove", "swap-args"}
    assert any(site.symbol == MODULE for site in sites)  # LIMIT = 3, size = 2: import-time code
    assert {site.symbol for site in sites} == {"clamp", "total", "Box.fits", "larger", MODULE}
    before = (project / "pkg" / "mod.py").read_text()
    for site in sample_sites(project, random.Random(0)):
        original = apply_site(project, site)
        mutated = (project / "pkg" / "mod.py").read_text()
        assert mutated != before and len(mutated.splitlines()) == len(before.splitlines())
        ast.parse(mutated)  # every mutant still compiles
        restore(project, site, original)
        assert (project / "pkg" / "mod.py").read_text() == before


def test_placement_counts_ties_fairly() -> None:
    tied = Placement(better=1, tied=4, listed=10)  # ranks 2..5, each equally likely
    assert (tied.hit(1), tied.hit(3), tied.hit(5)) == (0.0, 0.5, 1.0)
    assert tied.exam(100) == pytest.approx(3.5 / 100)
    missing = Placement(0, 0, listed=10)
    assert missing.hit(5) == 0.0 and missing.exam(100) == pytest.approx((10 + 91 / 2) / 100)
    low, high = wilson(30, 50)
    assert low < 0.6 < high and wilson(0, 0) == (0.0, 0.0)


def test_rerun_spectra_replace_only_the_rerun_tests() -> None:
    pristine = Spectra()
    for test in ("a", "b", "c"):
        pristine.add("m.py", 1, test)
    pristine.add("m.py", 2, "b")  # b reaches the mutated line: it is rerun
    rerun = Spectra()
    rerun.add("m.py", 1, "b")
    rerun.add("m.py", 3, "b")  # under the mutant, b takes another path
    merged, tests = merge_spectra(pristine, rerun, {"b"})
    assert sorted(tests) == ["a", "b", "c"]
    covering = {line: {merged.tests[i] for i in range(len(merged.tests)) if bits >> i & 1}
                for line, bits in merged.lines["m.py"].items()}
    assert covering == {1: {"a", "b", "c"}, 3: {"b"}}
