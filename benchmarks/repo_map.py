"""Repo map and edit-tool figures on a real mid-size repository: the Python standard library's Lib/.

Prints: cold build (parse everything), warm rebuild (nothing changed), rebuild after one file changed
(with the median time of each phase of it), files/s; then edit_file throughput (exact,
whitespace-tolerant, and misses with candidate search). Targets from issue 6 (2-core machine, ~1,000
files): warm <= 0.3 s, one-file change <= 0.5 s. The machine is often shared: the load average is
printed at the start and the end, and CPU seconds next to wall-clock seconds where they differ much.

    .venv/bin/python -m benchmarks.repo_map [--source DIR] [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path

from ornith_local.tools.base import call_tool
from ornith_local.tools.edit import EditFile
from ornith_local.tools.repomap import RepoMap
from ornith_local.tools.workspace import Workspace


def copy_sources(source: Path, target: Path) -> int:
    """The .py files of `source` (site-packages and caches left out), so the benchmark can edit them."""
    count = 0
    for path in source.rglob("*.py"):
        rel = path.relative_to(source)
        if {"site-packages", "__pycache__"} & set(rel.parts):
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / rel)
        count += 1
    return count


def timed(action: object, cpu: list[float] | None = None) -> float:
    """Wall-clock seconds of `action()`; its CPU seconds are appended to `cpu` when given."""
    started, started_cpu = time.perf_counter(), time.process_time()
    action()  # type: ignore[operator]
    if cpu is not None:
        cpu.append(time.process_time() - started_cpu)
    return time.perf_counter() - started


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def bench_map(root: Path, cache: Path, runs: int) -> None:
    started, started_cpu = time.perf_counter(), time.process_time()
    cold = RepoMap(root, cache_dir=cache).build(tokens=2048)
    cold_s, cold_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    print(f"files with a grammar      {cold.files_total}")
    print(f"definitions               {cold.definitions_total}  (map shows {cold.definitions_shown}, "
          f"~{cold.tokens} tokens)")
    print(f"cold build                {cold_s:.2f} s  ({cold.files_total / cold_s:.0f} files/s; CPU {cold_cpu:.2f} s, "
          f"{cold.files_total / cold_cpu:.0f} files per CPU s)")

    warm_cpu: list[float] = []
    warm = [timed(lambda: RepoMap(root, cache_dir=cache).build(tokens=2048), warm_cpu) for _ in range(runs)]
    print(f"warm rebuild (no change)  median {statistics.median(warm):.3f} s  (min {min(warm):.3f}, "
          f"CPU median {statistics.median(warm_cpu):.3f} s, runs {runs})")

    target = root / "json" / "decoder.py"
    if not target.exists():
        target = next(root.rglob("*.py"))
    original = target.read_text()
    changed: list[float] = []
    changed_cpu: list[float] = []
    phases: dict[str, list[float]] = {}
    for run in range(runs):
        target.write_text(target.read_text() + f"\n\ndef benchmark_added_{run}(value):\n    return value\n")
        repo_map = RepoMap(root, cache_dir=cache)
        changed.append(timed(functools.partial(repo_map.build, tokens=2048), changed_cpu))
        for phase, seconds in repo_map.timings.items():
            phases.setdefault(phase, []).append(seconds)
    print(f"one file changed          median {statistics.median(changed):.3f} s  (min {min(changed):.3f}, "
          f"CPU median {statistics.median(changed_cpu):.3f} s)")
    print("  phases (median s)       " + ", ".join(f"{phase} {statistics.median(seconds):.3f}"
                                                   for phase, seconds in phases.items()))
    size = sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())
    print(f"cache on disk             {size / 1e6:.1f} MB")

    # A different task each run: the memo of the last build cannot answer, the tag cache does.
    focused = [timed(lambda run=run: RepoMap(root, cache_dir=cache).build(
        task=f"fix JSONDecoder.raw_decode (attempt {run})", tokens=2048)) for run in range(runs)]
    print(f"new task, tags cached     median {statistics.median(focused):.3f} s")
    target.write_text(original)


def bench_edits(root: Path, edits: int) -> None:
    source = root / "argparse.py"
    if not source.exists():
        source = max(root.rglob("*.py"), key=lambda p: p.stat().st_size)
    work = Workspace.at(root)
    tool = EditFile(work)
    rel = str(source.relative_to(root))
    lines = source.read_text().splitlines()
    anchors = [line for line in lines if len(line.strip()) > 30 and sum(1 for x in lines if x == line) == 1]
    print(f"edit target               {rel} ({len(lines)} lines, {source.stat().st_size // 1024} KiB)")

    def exact(i: int) -> None:
        anchor = anchors[i % len(anchors)]
        result = call_tool(tool, {"path": rel, "old_string": anchor, "new_string": anchor + f"  # e{i}"})
        assert result.ok, result.text
        call_tool(tool, {"path": rel, "old_string": anchor + f"  # e{i}", "new_string": anchor})

    def tolerant(i: int) -> None:
        anchor = anchors[i % len(anchors)]
        result = call_tool(tool, {"path": rel, "old_string": anchor.strip() + "   ", "new_string": "pass  # t"})
        assert result.ok, result.text
        call_tool(tool, {"path": rel, "old_string": "pass  # t", "new_string": anchor.strip()})

    def miss(i: int) -> None:
        anchor = anchors[i % len(anchors)]
        result = call_tool(tool, {"path": rel, "old_string": anchor.replace("e", "a", 2), "new_string": "x"})
        assert not result.ok

    for label, action, pairs in (("exact edit + revert", exact, 2), ("tolerant edit + revert", tolerant, 2),
                                 ("miss with candidates", miss, 1)):
        started = time.perf_counter()
        for i in range(edits):
            action(i)
        elapsed = time.perf_counter() - started
        print(f"{label:<25} {edits * pairs / elapsed:.0f} calls/s  ({elapsed / edits * 1000:.1f} ms per round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ornith-bench-") as temp:
        root, cache = Path(temp) / "repo", Path(temp) / "cache"
        count = copy_sources(args.source, root)
        print(f"repository                {args.source} ({count} .py files copied)")
        print(f"load average              {load_average()}  ({os.cpu_count()} CPUs)")
        bench_map(root, cache, args.runs)
        bench_edits(root, args.edits)
        print(f"load average              {load_average()}")


if __name__ == "__main__":
    main()
