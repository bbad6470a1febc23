"""The slow half of the triage benchmark: mutants of real PyPI packages, each run once with per-test coverage.

Per package (an sdist fetched by pip into ornith's cache dir, never committed): extract it, make the
pristine tree a one-commit git repo, check its suite is green (deselecting a few tests that fail before
any bug, and saying so), record its pristine per-test coverage. Then per mutation site (see
triage_mutants.py), in a seeded random order: skip a site inside a function that no test executes (no
test can see it), apply the mutant, amend it into the repo's only commit (so git history carries no
signal), and run the suite the way `ornith triage` does (`run_suite`: the project's pytest with triage's
coverage plugin), but only the tests that executed the mutated line in the pristine run, as mutation
testing tools do: a test that never reaches the line behaves as before, so its pristine results and
coverage stand in for it (scoring merges them; import-time mutants run the whole suite). A mutant no
test catches, or one that hangs, is dropped. A caught one is a bug: its test results and spectra are
pickled under the cache, so re-scoring a new ranking never reruns a test. The first bugs of each
package also get the whole suite run twice, plainly and under triage, for the time ratio.

Results are keyed by package, version and seed; a rerun resumes where the last one stopped.
"""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.triage_mutants import Site, apply_site, restore, sample_sites
from ornith_local.sandbox import Sandbox, open_sandbox
from ornith_local.tools.testing import TestCase, TestCommand, run_tests
from ornith_local.tools.testing.coverage import run_suite
from ornith_local.tools.testing.spectra import Spectra
from ornith_local.triage.failures import is_test_path

FORMAT = 2  # bump when what a bug file holds changes


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    pythonpath: str = "."  # what pytest needs on sys.path to import the package from its tree
    tests: tuple[str, ...] = ()  # test paths to pass to pytest (empty: the project's own configuration)


@dataclass
class PackageRun:
    package: Package
    root: Path
    command: TestCommand
    tests: int
    plain_s: float  # the pristine suite, plain
    coverage_s: float  # the pristine suite under triage's coverage plugin
    deselected: list[str]
    pristine: Spectra


@dataclass
class Bug:
    package: str
    index: int  # position in the package's seeded site order
    site: Site
    original: str  # the line before the mutation
    failures: list[TestCase]
    test_ids: list[str]  # every test that ran (passed or not)
    spectra: Spectra | None
    triage_run_s: float  # the (selected) suite under triage's coverage plugin, this mutant
    plain_s: float | None = None  # the whole suite, plain, this mutant (the first bugs of a package)
    notes: list[str] = field(default_factory=list)
    selected: list[str] | None = None  # the tests run (None: the whole suite); the rest as in `pristine`
    full_triage_s: float | None = None  # the whole suite under triage's coverage plugin (with plain_s)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=eval", "-c", "user.email=eval@ornith.local", *args], cwd=root,
                          capture_output=True, text=True, check=True).stdout


def fetch(package: Package, sdists: Path) -> Path:
    sdists.mkdir(parents=True, exist_ok=True)
    prefixes = {f"{package.name}-{package.version}.", f"{package.name.replace('-', '_')}-{package.version}."}
    for tarball in sdists.glob("*.tar.gz"):
        if any(tarball.name.lower().startswith(prefix) for prefix in prefixes):
            return tarball
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "-d", str(sdists), f"{package.name}=={package.version}"], check=True)
    return fetch(package, sdists)


def prepare(package: Package, cache: Path) -> Path:
    """The pristine tree as a one-commit repo under the cache (reused, reset, when it is already there)."""
    home = cache / f"{package.name}-{package.version}"
    tree = home / "tree"
    if (tree / ".git").is_dir():
        git(tree, "reset", "-q", "--hard", "pristine")
        git(tree, "clean", "-q", "-fdx")
        return tree
    home.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fetch(package, cache / "sdists")) as archive:
        archive.extractall(home / "extract", filter="data")
    next((home / "extract").iterdir()).rename(tree)
    git(tree, "init", "-q", "-b", "main")
    # -f: files the package's .gitignore names are part of the pristine tree too.
    git(tree, "add", "-A", "-f")
    git(tree, "commit", "-q", "-m", "pristine")
    git(tree, "tag", "pristine")
    return tree


def _command(package: Package, deselect: list[str]) -> TestCommand:
    argv = [sys.executable, "-m", "pytest", "-q", "-o", f"pythonpath={package.pythonpath}", "-p", "no:randomly",
            "-p", "no:xdist", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", *package.tests]
    argv += [arg for test_id in deselect for arg in ("--deselect", test_id)]
    return TestCommand("pytest", tuple(argv), "benchmark")


def start_package(package: Package, cache: Path, sandbox: Sandbox, log: Callable[[str], None]) -> PackageRun | None:
    root = prepare(package, cache)
    saved = cache / f"{package.name}-{package.version}" / "pristine.pkl"
    if saved.exists():
        run: PackageRun = pickle.loads(saved.read_bytes())
        log(f"  {package.name} {package.version}: {run.tests} tests, {run.plain_s:.1f} s plain (cached)")
        return run
    command = _command(package, [])
    baseline = run_tests(root, sandbox, command=command, timeout_s=300)
    deselected: list[str] = []
    if baseline.failures and not baseline.timed_out and len(baseline.failures) <= 10:
        deselected = [case.id for case in baseline.failures]
        log(f"  {package.name}: deselected, failing before any bug: {', '.join(deselected)}")
        command = _command(package, deselected)
        baseline = run_tests(root, sandbox, command=command, timeout_s=300)
    if baseline.failures or baseline.timed_out or not baseline.cases:
        log(f"  {package.name}: pristine suite is not green ({baseline.counts}); skipped")
        return None
    started = time.monotonic()
    covered = run_suite(root, sandbox, command, timeout_s=300, include=lambda path: not is_test_path(path))
    coverage_s = time.monotonic() - started
    if covered.spectra is None or covered.report.failures:
        log(f"  {package.name}: no pristine coverage ({covered.coverage_note}); skipped")
        return None
    log(f"  {package.name} {package.version}: {baseline.counts['passed']} tests pass in {baseline.duration_s:.1f} s "
        f"plain, {coverage_s:.1f} s with coverage")
    run = PackageRun(package, root, command, baseline.counts["passed"], baseline.duration_s, coverage_s,
                     deselected, covered.spectra)
    saved.write_bytes(pickle.dumps(run))
    return run


def _selection(run: PackageRun, site: Site) -> list[str] | None:
    if site.import_time:
        return None
    bits = run.pristine.lines.get(site.path, {}).get(site.line, 0)
    return [test for index, test in enumerate(run.pristine.tests) if bits >> index & 1]


def _caught(run: PackageRun, site: Site, index: int, sandbox: Sandbox, timeout_s: float, with_plain: bool,
            ) -> Bug | None:
    root = run.root
    original = apply_site(root, site)
    try:
        git(root, "commit", "-q", "-a", "--amend", "--no-edit")  # still one commit: the bug is in the import
        selected = _selection(run, site)
        command = run.command if selected is None else \
            TestCommand("pytest", (*run.command.argv, *selected), run.command.display)
        started = time.monotonic()
        suite = run_suite(root, sandbox, command, timeout_s=timeout_s, include=lambda path: not is_test_path(path))
        elapsed = time.monotonic() - started
        report = suite.report
        if report.timed_out or not report.failures:
            return None  # a hang, or a mutant no test notices
        plain_s = full_s = None
        if with_plain:
            started = time.monotonic()
            run_suite(root, sandbox, run.command, timeout_s=timeout_s)
            full_s = time.monotonic() - started
            plain_s = run_tests(root, sandbox, command=run.command, timeout_s=timeout_s).duration_s
        return Bug(run.package.name, index, site, original, list(report.failures), [c.id for c in report.cases],
                   suite.spectra, elapsed, plain_s, [suite.coverage_note] if suite.coverage_note else [],
                   selected, full_s)
    finally:
        restore(root, site, original)
        git(root, "reset", "-q", "--hard", "pristine")
        git(root, "clean", "-q", "-fdx")


def _covered(pristine: Spectra, site: Site) -> bool:
    return site.import_time or bool(pristine.lines.get(site.path, {}).get(site.line))


def collect_package(package: Package, cache: Path, *, bugs: int, attempts: int, seed: str, budget_s: float,
                    log: Callable[[str], None], timed: int = 2) -> tuple[PackageRun | None, list[Bug]]:
    """Up to `bugs` caught mutants of `package`, from cache where an earlier run left them."""
    sandbox = open_sandbox()
    run = start_package(package, cache, sandbox, log)
    if run is None:
        return None, []
    store = cache / f"{package.name}-{package.version}" / f"bugs-v{FORMAT}-seed{seed}"
    store.mkdir(exist_ok=True)
    tried_file = store / "tried.txt"
    tried = set(tried_file.read_text().split()) if tried_file.exists() else set()
    found = [pickle.loads(p.read_bytes()) for p in sorted(store.glob("bug-*.pkl"))]
    sites = sample_sites(run.root, random.Random(f"{seed}:{package.name}"))
    # Import-time sites are few and often break every test at once: at most one bug in eight.
    import_quota = max(1, bugs // 8)
    timeout = max(15.0, 3 * run.coverage_s)  # a hanging mutant is dropped: do not wait long for it
    started = time.monotonic()
    runs = 0
    for index, site in enumerate(sites):
        caught_import = sum(1 for bug in found if bug.site.import_time)
        if len(found) >= bugs or runs >= attempts or time.monotonic() - started > budget_s:
            break
        if str(index) in tried or (site.import_time and caught_import >= import_quota):
            continue
        if not _covered(run.pristine, site):
            continue  # no test executes the line: no test can catch the mutant
        runs += 1
        timed_now = sum(1 for bug in found if bug.plain_s is not None)
        bug = _caught(run, site, index, sandbox, timeout, with_plain=timed_now < timed and not site.import_time)
        tried.add(str(index))
        with tried_file.open("a") as handle:
            handle.write(f"{index}\n")
        if bug is None:
            continue
        (store / f"bug-{index:05d}.pkl").write_bytes(pickle.dumps(bug))
        found.append(bug)
        log(f"    {bug.site.describe(bug.original)} ({len(bug.failures)} failing, {bug.triage_run_s:.1f} s)")
    log(f"  {package.name}: {len(found)} bugs ({runs} mutants run now, {time.monotonic() - started:.0f} s)")
    return run, found
