"""The fast half of the triage benchmark: rank every cached bug under every method and print the table.

Methods, all from the same cached run of each bug:
- Ochiai, DStar: each function scored by its best line, nothing else (the baselines).
- fixed weights: ornith's ranking before the learned one (Ochiai + 0.25 traceback), as `ornith triage` ran it.
- learned alone (before): the learned ranking (ranker.py) for every bug, as `ornith triage` ranked until
  2026-12-04; on a development package the ranker is fitted on the other development packages
  (leave-one-package-out), on a held-out package on all development packages.
- ornith (gated): `ornith triage` today: the learned ranking where at least half the failing tests raised in
  project code, else Ochiai with the learned score as tie-breaker (localize.Weights.gate).
- learned without <group>: the gated ranking, refitted without one group of features (the ablation).
Ties count fairly: a bug tied with t others below b better ones is in the top k with probability
clamp((k - b) / t, 0, 1), and its EXAM (the fraction of the package's functions one reads before reaching
it) uses the mean rank b + (t + 1) / 2. A bug a method does not list at all is reached after the listed
ones, halfway through the rest.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.triage_collect import Bug, Package, PackageRun
from benchmarks.triage_mutants import source_files
from ornith_local.tools.testing import TestReport
from ornith_local.tools.testing.coverage import SuiteRun
from ornith_local.tools.testing.spectra import Spectra
from ornith_local.triage.engine import Collected, TriageOptions, analyze
from ornith_local.triage.failures import Failure, read_failure
from ornith_local.triage.features import FEATURES, GROUPS
from ornith_local.triage.functions import Function, FunctionIndex
from ornith_local.triage.gitsignal import GitRecency
from ornith_local.triage.localize import Evidence, Weights, feature_rows
from ornith_local.triage.ranker import SHIPPED, Ranker, fit, shipped
from ornith_local.triage.sbfl import score_functions

KS = (1, 3, 5)
NEW = "ornith: learned where failures raise, else Ochiai"
CLASSES = ("raises", "wrong-value", "import-time")


@dataclass
class Case:
    package: str
    bug: Bug
    kind: str
    failures: list[Failure]
    evidence: Evidence
    collected: Collected
    functions: int  # functions in the package's source (EXAM's denominator)
    keys: list[tuple[str, str, int]] = field(default_factory=list)
    rows: list[tuple[float, ...]] = field(default_factory=list)

    def target(self, path: str, symbol: str) -> bool:
        return path == self.bug.site.path and symbol == self.bug.site.symbol

    def example(self) -> tuple[list[tuple[float, ...]], int] | None:
        hits = [i for i, key in enumerate(self.keys) if self.target(key[0], key[1])]
        return (self.rows, hits[0]) if hits else None


@dataclass(frozen=True)
class Placement:
    better: int
    tied: int  # including the bug itself; 0: not listed
    listed: int

    def hit(self, k: int) -> float:
        if self.tied == 0:
            return 0.0
        return min(max((k - self.better) / self.tied, 0.0), 1.0)

    def exam(self, functions: int) -> float:
        rank = self.better + (self.tied + 1) / 2 if self.tied else self.listed + (functions - self.listed + 1) / 2
        return min(rank / max(functions, 1), 1.0)


def place(scored: Sequence[tuple[str, str, float]], case: Case) -> Placement:
    """Where the bug's function lands among (path, symbol, score) rows."""
    mine = [score for path, symbol, score in scored if case.target(path, symbol)]
    if not mine:
        return Placement(0, 0, len(scored))
    score = max(mine)
    better = sum(1 for _, _, other in scored if other > score + 1e-12)
    tied = sum(1 for _, _, other in scored if abs(other - score) <= 1e-12)
    return Placement(better, tied, len(scored))


def merge_spectra(pristine: Spectra, rerun: Spectra, rerun_ids: set[str]) -> tuple[Spectra, list[str]]:
    """The whole suite's spectra for a mutant whose covering tests were rerun: those tests' coverage from
    the rerun, every other test's from the pristine run (it never reached the mutated line)."""
    merged = Spectra()
    for test in pristine.tests:  # keep the pristine order of tests, then any the rerun adds
        merged.test_index(test)
    for test in rerun.tests:
        merged.test_index(test)
    keep = 0
    for index, test in enumerate(pristine.tests):
        if test not in rerun_ids:
            keep |= 1 << index
    for path, lines in pristine.lines.items():
        per_file = merged.lines.setdefault(path, {})
        for line, tests in lines.items():
            if tests & keep:
                per_file[line] = tests & keep
    remap = [merged.test_index(test) for test in rerun.tests]
    for path, lines in rerun.lines.items():
        per_file = merged.lines.setdefault(path, {})
        for line, tests in lines.items():
            bits = 0
            while tests:
                low = tests & -tests
                bits |= 1 << remap[low.bit_length() - 1]
                tests ^= low
            per_file[line] = per_file.get(line, 0) | bits
    return merged, list(dict.fromkeys([*pristine.tests, *rerun_ids]))


def load(cache: Path, seed: str, packages: Sequence[Package]) -> list[Case]:
    cases: list[Case] = []
    for package in packages:
        home = cache / f"{package.name}-{package.version}"
        store = home / f"bugs-v2-seed{seed}"
        if not (home / "pristine.pkl").exists() or not store.is_dir():
            continue
        run: PackageRun = pickle.loads((home / "pristine.pkl").read_bytes())
        functions = FunctionIndex(run.root)
        total = sum(len(list(functions.all(path))) for path in source_files(run.root))
        git = GitRecency(run.root)  # one commit: not informative, as in a fresh clone
        for file in sorted(store.glob("bug-*.pkl")):
            bug: Bug = pickle.loads(file.read_bytes())
            if bug.spectra is None:
                continue
            spectra, test_ids = bug.spectra, bug.test_ids
            if getattr(bug, "selected", None) is not None:
                spectra, test_ids = merge_spectra(run.pristine, bug.spectra, set(bug.test_ids))
            failures = [read_failure(case, run.root, functions) for case in bug.failures]
            failed = {case.id for case in bug.failures}
            passing = spectra.mask(t for t in test_ids if t not in failed)
            evidence = Evidence(run.root, functions, git, spectra, passing)
            kind = "import-time" if bug.site.import_time else "raises" if any(
                frame.path == bug.site.path and frame.symbol == bug.site.symbol
                for failure in failures for frame in failure.frames) else "wrong-value"
            suite = SuiteRun(TestReport("pytest", "", 1, bug.triage_run_s), bug.spectra)
            collected = Collected(run.root, run.command, suite, failures, evidence, bug.triage_run_s)
            case = Case(package.name, bug, kind, failures, evidence, collected, total)
            case.keys, case.rows = feature_rows(failures, evidence)
            cases.append(case)
    return cases


def _by_sbfl(case: Case, attribute: str) -> Placement:
    spectra, evidence = case.evidence.spectra, case.evidence
    assert spectra is not None
    scores = score_functions(spectra, evidence.functions, evidence.failing_mask(case.failures), evidence.passing)
    # DStar is infinite for a line every failing test and no passing one ran: the top score, tied.
    return place([(s.function.path, s.function.symbol, min(getattr(s, attribute), 1e18)) for s in scores], case)


def _by_triage(case: Case, ranker: Ranker | None, learned: bool, gate: float = Weights().gate) -> Placement:
    case.evidence.ranker = ranker
    options = TriageOptions(weights=Weights(learned=learned, gate=gate), top_suspects=100_000,
                            suspects_per_cluster=100_000)
    _, suspects = analyze(case.collected, options)
    return place([(s.path, s.symbol, s.score) for s in suspects], case)


def _fit(cases: Sequence[Case], use: Sequence[str] = FEATURES) -> Ranker:
    examples = [example for case in cases if (example := case.example()) is not None]
    return fit(examples, use, fitted_on=sorted({case.package for case in cases}))


Method = Callable[[Case], Placement]


def methods(train_for: Callable[[Case], list[Case]], ablations: bool, ranker: Ranker | None = None,
            ) -> dict[str, Method]:
    """Each method as a function of one case; learned ones fit on `train_for(case)` (cached per training set),
    or all use `ranker` when one is given (the shipped fit)."""
    fitted: dict[tuple[tuple[str, ...], tuple[str, ...]], Ranker] = {}

    def learned(use: Sequence[str], gate: float = Weights().gate) -> Method:
        def method(case: Case) -> Placement:
            if ranker is not None:
                return _by_triage(case, ranker, learned=True, gate=gate)
            train = train_for(case)
            key = (tuple(sorted({c.package for c in train})), tuple(use))
            if key not in fitted:
                fitted[key] = _fit(train, use)
            return _by_triage(case, fitted[key], learned=True, gate=gate)
        return method

    table: dict[str, Method] = {
        "Ochiai": lambda case: _by_sbfl(case, "score"),
        "DStar": lambda case: _by_sbfl(case, "dstar"),
        "ornith fixed weights (before)": lambda case: _by_triage(case, None, learned=False),
        "learned alone (before)": learned(FEATURES, gate=0.0),
        NEW: learned(FEATURES),
    }
    if ablations:
        for group, names in GROUPS.items():
            table[f"  learned without {group}"] = learned([f for f in FEATURES if f not in names])
        table["  fixed: traceback only"] = lambda case: _traceback_only(case)
    return table


def _traceback_only(case: Case) -> Placement:
    case.evidence.ranker = None
    options = TriageOptions(weights=Weights().only("traceback"), top_suspects=100_000, suspects_per_cluster=100_000)
    _, suspects = analyze(case.collected, options)
    return place([(s.path, s.symbol, s.score) for s in suspects], case)


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap(values: Sequence[float], rounds: int = 2000, seed: int = 7) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def _row(name: str, placements: list[Placement], cases: list[Case]) -> str:
    n = len(placements)
    cells = []
    for k in KS:
        hits = sum(p.hit(k) for p in placements)
        low, high = wilson(hits, n)
        cells.append(f"{hits / n:5.1%} [{low:.0%}-{high:.0%}]" if n else "n/a")
    exams = [p.exam(c.functions) for p, c in zip(placements, cases, strict=True)]
    low, high = bootstrap(exams)
    exam = f"{statistics.fmean(exams):.3f} [{low:.3f}-{high:.3f}]" if exams else "n/a"
    return f"| {name} | {n} | " + " | ".join(cells) + f" | {exam} |"


def table(title: str, cases: list[Case], table_methods: dict[str, Method]) -> dict[str, list[Placement]]:
    placed = {name: [method(case) for case in cases] for name, method in table_methods.items()}
    packages = sorted({c.package for c in cases})
    print(f"\n### {title}: {len(cases)} bugs in {len(packages)} packages ({', '.join(packages)})\n")
    print("| method | bugs | acc@1 [95% CI] | acc@3 | acc@5 | EXAM (lower is better) |")
    print("|---|---|---|---|---|---|")
    for name, placements in placed.items():
        print(_row(name, placements, cases))
    for kind in CLASSES:
        chosen = [i for i, case in enumerate(cases) if case.kind == kind]
        if not chosen:
            continue
        for name in ("Ochiai", "DStar", "learned alone (before)", NEW):
            print(_row(f"{kind}: {name}", [placed[name][i] for i in chosen], [cases[i] for i in chosen]))
    _paired(placed, cases)
    return placed


def _paired(placed: dict[str, list[Placement]], cases: list[Case]) -> None:
    for k in (1, 5):
        gain = [a.hit(k) - b.hit(k) for a, b in zip(placed[NEW], placed["Ochiai"], strict=True)]
        low, high = bootstrap(gain)
        print(f"\nornith (gated) - Ochiai, acc@{k}: {statistics.fmean(gain):+.1%} (paired bootstrap 95% CI "
              f"{low:+.1%} to {high:+.1%})", end="")
    print()


def _whole_suite_s(bug: Bug) -> float:
    """The whole suite under triage: timed beside the rerun when only the covering tests were rerun."""
    if getattr(bug, "selected", None) is not None and getattr(bug, "full_triage_s", None):
        return float(bug.full_triage_s)  # type: ignore[arg-type]
    return bug.triage_run_s


def timing(cases: list[Case]) -> None:
    timed = [c for c in cases if c.bug.plain_s]
    if not timed:
        return
    analysis = []
    for case in timed:
        started = time.monotonic()
        _by_triage(case, case.evidence.ranker, learned=True)
        analysis.append(time.monotonic() - started)
    # A bug whose covering tests alone were rerun had the whole suite timed beside it (full_triage_s).
    ratios = [(_whole_suite_s(c.bug) + a) / (c.bug.plain_s or 1) for c, a in zip(timed, analysis, strict=True)]
    print(f"\ntime, triage (suite with per-test coverage + analysis) / plain suite run, same mutant, side by side, "
          f"{len(timed)} bugs: median {statistics.median(ratios):.2f}x, mean {statistics.fmean(ratios):.2f}x, "
          f"max {max(ratios):.2f}x; analysis median {statistics.median(analysis) * 1000:.0f} ms")


def report(cache: Path, seed: str, splits: dict[str, list[Package]], split: str, *, fit: bool, git: bool,
           use_shipped: bool = False) -> int:
    development = load(cache, seed, splits["dev"])
    print(f"loaded {len(development)} development bugs")
    by_package: dict[str, list[Case]] = {}
    for case in development:
        by_package.setdefault(case.package, []).append(case)
    final = _fit(development)
    if use_shipped:  # too few development bugs this run for a better fit than the shipped one
        final = shipped() or final
        print(f"held-out scored with the shipped ranker ({SHIPPED.name}: {final.bugs} bugs in "
              f"{', '.join(final.fitted_on)})")
    elif fit:
        SHIPPED.write_text(json.dumps(final.to_json(), indent=2) + "\n")
        print(f"wrote {SHIPPED} (fitted on {len(development)} bugs in {', '.join(final.fitted_on)})")
    print("ranker fitted on all development packages:", json.dumps(final.to_json()["features"]))
    if split in {"dev", "all"}:
        def leave_one_out(case: Case) -> list[Case]:
            return [c for c in development if c.package != case.package]
        table("development packages, leave-one-package-out", development, methods(leave_one_out, ablations=True))
    held: list[Case] = []
    if split in {"held-out", "all"}:
        held = load(cache, seed, splits["held-out"])
        placed = table("HELD-OUT packages (ranker fitted on the development packages only)", held,
                       methods(lambda case: development, ablations=not use_shipped,
                               ranker=final if use_shipped else None))
        del placed
    for case in development + held:  # timing is no tuning target: every package with a timed bug counts
        case.evidence.ranker = final
    timing(development + held)
    if git:
        git_table(development + (held if split in {"held-out", "all"} else []), final)
    return 0


class _SimulatedHistory:
    """A history in which the last commit touched the buggy function and `decoys` other candidates (the
    functions the failing tests ran): a recent change near the failure that is not the bug, as in real
    repositories. Stands in for GitRecency; not a real history, so these figures stay out of the headline."""

    available = informative = True
    note = ""

    def __init__(self, touched: set[tuple[str, str]]) -> None:
        self.touched = touched

    def function_score(self, function: Function) -> float:
        return 0.5 if (function.path, function.symbol) in self.touched else 0.0

    def line_score(self, path: str, line: int) -> float:
        return 0.5 if (path, "<module>") in self.touched else 0.0


def git_table(cases: list[Case], ranker: Ranker, decoys: int = 4) -> None:
    rng = random.Random(11)
    with_git, without = [], []
    for case in cases:
        others = sorted({(k[0], k[1]) for k in case.keys} - {(case.bug.site.path, case.bug.site.symbol)})
        touched = {(case.bug.site.path, case.bug.site.symbol), *rng.sample(others, min(decoys, len(others)))}
        real = case.evidence.git
        without.append(_by_triage(case, ranker, learned=True))
        case.evidence.git = _SimulatedHistory(touched)  # type: ignore[assignment]
        with_git.append(_by_triage(case, ranker, learned=True))
        case.evidence.git = real
    print(f"\n### git signal, separately: a simulated last commit touching the bug and {decoys} other candidate "
          f"functions ({len(cases)} bugs; ranker fitted on the development packages, git weight "
          f"{Weights().git} not fitted)\n")
    print("| method | bugs | acc@1 [95% CI] | acc@3 | acc@5 | EXAM |")
    print("|---|---|---|---|---|---|")
    print(_row("learned", without, cases))
    print(_row("learned + git recency", with_git, cases))

