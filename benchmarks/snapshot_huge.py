"""Checkpoint snapshot of a big working tree: the path-based snapshot before issue 20 against the link-free one.

Run: .venv/bin/python -m benchmarks.snapshot_huge [--files N] [--huge-gib G] [--before COMMIT]

A real git repo with --files small tracked files (committed) and one untracked, not ignored, sparse file of
--huge-gib GiB (a data dump left in the tree), copied twice so each implementation starts from the same state.
Side by side, in one run:

- before: `snapshot_tree` as it was at --before (ls-files, lstat by path, `git hash-object -w --stdin-paths`
  for every regular file, the huge one included), loaded from git history;
- after: today's `snapshot_tree` (every file opened beneath the root without following links, blobs hashed
  in-process and written only when git lacks them, untracked files over SNAPSHOT_MAX_BYTES skipped).

Each is timed on its first snapshot (a checkpoint) and a second one with nothing changed (what every git_diff
call and the final diff of a run pay). Printed as seconds and the before/after ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import git

from ornith_local.tools import checkpoint as after

ROOT = Path(__file__).resolve().parent.parent
BEFORE_COMMIT = "d58ea95"  # the last commit before issue 20's workspace_fs


def load_before(commit: str, scratch: Path) -> ModuleType:
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:ornith_local/tools/checkpoint.py"],
                            capture_output=True, text=True, check=True).stdout
    path = scratch / "checkpoint_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("checkpoint_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def make_repo(path: Path, files: int) -> None:
    path.mkdir()

    def run(*args: str) -> None:
        # gc.auto=0: a background `git gc` packing the objects would race the copies made next.
        subprocess.run(["git", "-c", "gc.auto=0", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=path,
                       check=True, capture_output=True)
    run("init", "-q")
    for index in range(files):
        directory = path / f"pkg{index // 500}"
        directory.mkdir(exist_ok=True)
        (directory / f"module_{index}.py").write_text(f"VALUE_{index} = {index}\n" * 20)
    run("add", "-A")
    run("commit", "-q", "-m", "tree")


def timed(module: ModuleType, repo: git.Repo) -> float:
    start = time.perf_counter()
    module.snapshot_tree(repo)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--huge-gib", type=float, default=2.0)
    parser.add_argument("--before", default=BEFORE_COMMIT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ornith-snapshot-bench-") as temp:
        scratch = Path(temp)
        before = load_before(args.before, scratch)
        make_repo(scratch / "template", args.files)
        results: dict[str, tuple[float, float]] = {}
        for name, module in (("before", before), ("after", after)):
            repo_dir = scratch / name
            shutil.copytree(scratch / "template", repo_dir, symlinks=True)
            with open(repo_dir / "dump.bin", "wb") as handle:  # sparse: no disk is spent on it
                handle.truncate(int(args.huge_gib * 1024 ** 3))
            after._BLOB_CACHE.clear()
            repo = git.Repo(repo_dir)
            first = timed(module, repo)
            second = timed(module, repo)
            results[name] = (first, second)
            print(f"{name:>6}: first snapshot {first:7.2f} s, unchanged second snapshot {second:7.2f} s", flush=True)
        (b1, b2), (a1, a2) = results["before"], results["after"]
        print(f"\n{args.files} tracked files + an untracked {args.huge_gib:g} GiB sparse file "
              f"(before = {args.before}, python {sys.version.split()[0]})")
        print(f"first snapshot:  before/after = {b1 / a1:.1f}x")
        print(f"second snapshot: before/after = {b2 / a2:.1f}x")


if __name__ == "__main__":
    main()
