"""Hook overhead when the checks pass: what `ornith precommit` adds on top of the checks themselves.

Run: .venv/bin/python -m benchmarks.precommit_overhead [--runs N] [--modules M]
Target (issue 10): < 0.5 s on top of the checks.

A small project (a package, its pytest suite) in a real git repo with a passing change staged, plus
an unstaged edit. Side by side, each the median of --runs:

- checks alone: the same check command the hook runs (pytest on the related tests), run directly in
  the repo, unsandboxed: what a user would pay without ornith;
- the hook as `ornith hook install` writes it (`python -m ornith_local.cli.commands.precommit --hook`);
- `ornith precommit` (the full CLI, as .pre-commit-hooks.yaml runs it);
- `git commit` with the hook installed, against `git commit --no-verify` (the commit is undone each time);
- the hook entry with the checks replaced by `true`: all of it is overhead, with less noise from pytest.

Bytecode caching is left on (PYTHONDONTWRITEBYTECODE unset), as in an installed ornith and a user's
own test runs. Then one in-process run split into its steps. --modules adds that many modules (and tests) to show how
the staged copy and the related-test scan grow with the repo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable
ENTRY = [PYTHON, "-m", "ornith_local.cli.commands.precommit", "--hook"]
ORNITH = str(Path(PYTHON).with_name("ornith"))
CHECKS = "checks alone (pytest on the related tests, bare)"
ENTRY_NAME = "hook entry (python -m ...precommit --hook)"
CLI_NAME = "ornith precommit --hook (full CLI)"
NO_VERIFY = "git commit --no-verify"
COMMIT = "git commit with the installed hook"
NOOP = "hook entry, checks = [\"true\"] (all overhead)"
STATS = "def total(values):\n    return sum(values)\n\n\ndef mean(values):\n    return total(values) / len(values)\n"
# An installed package has its .pyc files; a user's own pytest run caches the project's bytecode.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
TEST = "from calc.stats import mean, total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n\n\n" \
       "def test_mean():\n    assert mean([2, 4]) == 3\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@ornith.local", *args], cwd=repo,
                   check=True, capture_output=True, env=ENV)


def make_repo(root: Path, modules: int) -> Path:
    repo = root / "project"
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "calc" / "__init__.py").write_text("")
    (repo / "calc" / "stats.py").write_text(STATS)
    (repo / "tests" / "test_stats.py").write_text(TEST)
    for index in range(modules):
        (repo / "calc" / f"mod{index}.py").write_text(f"def f{index}(x):\n    return x + {index}\n")
        (repo / "tests" / f"test_mod{index}.py").write_text(
            f"from calc.mod{index} import f{index}\n\n\ndef test_f():\n    assert f{index}(1) == {index + 1}\n")
    (repo / "conftest.py").write_text("")
    (repo / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    (repo / "calc" / "stats.py").write_text(STATS + "\n\ndef spread(values):\n    return max(values) - min(values)\n")
    git(repo, "add", "calc/stats.py")
    with (repo / "calc" / "__init__.py").open("a") as handle:
        handle.write("# an unstaged edit\n")
    return repo


def interleaved(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Wall seconds of each action, once per round, round after round: load on a shared machine drifts,
    and rounds spread the drift over every action alike instead of favouring one."""
    for action in actions.values():
        action()  # warm-up: the page cache, bytecode, the sandbox's binaries
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            samples[name].append(time.perf_counter() - started)
    return samples


def run_ok(argv: list[str], repo: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, cwd=repo, capture_output=True, text=True, env=env or ENV)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def commit_and_undo(repo: Path, *extra: str) -> None:
    git(repo, "commit", "-q", "-m", "bench", *extra)
    git(repo, "reset", "-q", "--soft", "HEAD~1")


def steps(repo: Path) -> list[tuple[str, float]]:
    """One in-process run, step by step (imports are already paid for here)."""
    from ornith_local.precommit.engine import staged_run
    from ornith_local.precommit.related import related_tests
    from ornith_local.precommit.staged import find_repo, materialise, read_staged
    from ornith_local.sandbox import open_sandbox, probe_tiers

    out: list[tuple[str, float]] = []

    def step(name: str, action: Callable[[], object]) -> object:
        started = time.perf_counter()
        value = action()
        out.append((name, time.perf_counter() - started))
        return value

    found = find_repo(repo)
    step("git: find the repo + read the staged files", lambda: read_staged(find_repo(repo)))
    staged = read_staged(found)
    with tempfile.TemporaryDirectory() as tmp:
        step("git checkout-index: the staged copy", lambda: materialise(found, Path(tmp)))
        step("related tests (import scan)", lambda: related_tests(Path(tmp), staged.present, staged.deleted))
    step("sandbox probe (once per process)", lambda: (probe_tiers(refresh=True), open_sandbox()))
    with staged_run(repo) as run:
        check = step("the checks, in the sandbox", run.check)
        command = check[0].command  # type: ignore[index]
    step("the same checks, bare in the repo", lambda: subprocess.run(command, shell=True, cwd=repo, env=ENV,
                                                                     capture_output=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--modules", type=int, default=0, help="extra modules and tests in the repo (default 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ornith-precommit-bench-") as tmp:
        repo = make_repo(Path(tmp), args.modules)
        files = int(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True).stdout.count("\n"))
        checks_cmd = [PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_stats.py"]
        run_ok([ORNITH, "hook", "install"], repo)
        results = interleaved({
            CHECKS: lambda: run_ok(checks_cmd, repo),
            ENTRY_NAME: lambda: run_ok(ENTRY, repo),
            CLI_NAME: lambda: run_ok([ORNITH, "precommit", "--hook"], repo),
            NO_VERIFY: lambda: commit_and_undo(repo, "--no-verify"),
            COMMIT: lambda: commit_and_undo(repo),
            NOOP: lambda: run_ok(ENTRY, repo, {**ENV, "ORNITH_PRECOMMIT_CHECKS": "true"}),
        }, args.runs)

        print(f"repo: {files} tracked files, 1 staged; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}; median of {args.runs} interleaved runs")
        for name, samples in results.items():
            print(f"  {name:<52} {statistics.median(samples):6.3f} s  (min {min(samples):.3f})")

        def extra(name: str) -> float:
            return statistics.median(results[name]) - statistics.median(results[CHECKS])

        commit = statistics.median(results[COMMIT]) - statistics.median(results[NO_VERIFY]) - \
            statistics.median(results[CHECKS])
        print(f"overhead on top of the checks (target < 0.5 s): hook entry {extra(ENTRY_NAME):+.3f} s, "
              f"full CLI {extra(CLI_NAME):+.3f} s, real git commit {commit:+.3f} s;"
              f" the hook around a no-op check: {statistics.median(results[NOOP]):.3f} s")
        print("one run, step by step (in-process):")
        for name, seconds in steps(repo):
            print(f"  {name:<52} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
