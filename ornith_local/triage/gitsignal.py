"""Recent changes as a localization signal: how recently each line of a candidate function was changed.

`git blame` of the working tree gives every line's last commit; uncommitted lines rank newest, then
HEAD, HEAD~1, ... A line's score is 1 / (1 + rank), a function's is its newest line's. The root
commit (the initial import of the project) and anything older than the last `depth` commits say
nothing about today's failure and score 0, so a repo with a single commit gives no git signal at all.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ornith_local.sandbox import host_git_command
from ornith_local.triage.functions import Function

UNCOMMITTED = "0" * 40
DEFAULT_DEPTH = 20
_GIT_TIMEOUT_S = 20.0


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(host_git_command(root, *args), capture_output=True, text=True,
                                timeout=_GIT_TIMEOUT_S, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


@dataclass
class GitRecency:
    """Blame-based recency for the files of one repo; empty (every score 0) outside git."""

    root: Path
    depth: int = DEFAULT_DEPTH
    available: bool = False
    informative: bool = False  # some line is newer than the root commit: the signal can tell functions apart
    note: str = ""
    _rank: dict[str, int] = field(default_factory=dict)  # commit sha -> 0 (uncommitted), 1 (HEAD), 2, ...
    _blame: dict[str, dict[int, int]] = field(default_factory=dict)  # path -> line -> rank

    def __post_init__(self) -> None:
        if _git(self.root, "rev-parse", "--is-inside-work-tree") is None:
            self.note = "not a git repository: no recent-change signal"
            return
        self.available = True
        self._rank[UNCOMMITTED] = 0
        commits = (_git(self.root, "rev-list", f"--max-count={self.depth}", "--first-parent", "HEAD") or "").split()
        roots = set((_git(self.root, "rev-list", "--max-parents=0", "HEAD") or "").split())
        for rank, sha in enumerate(commits, start=1):
            if sha not in roots:
                self._rank[sha] = rank
        dirty = bool((_git(self.root, "status", "--porcelain") or "").strip())
        # A repo whose only history is its initial import, with a clean tree, has nothing recent to tell.
        self.informative = dirty or len(self._rank) > 1

    def _ranks(self, path: str) -> dict[int, int]:
        cached = self._blame.get(path)
        if cached is not None:
            return cached
        ranks: dict[int, int] = {}
        output = _git(self.root, "blame", "--porcelain", "--", path) if self.available else None
        if output is None and self.available and not _git(self.root, "ls-files", "--", path):
            # An untracked file is as new as a change gets.
            try:
                count = len((self.root / path).read_bytes().splitlines())
            except OSError:
                count = 0
            ranks = dict.fromkeys(range(1, count + 1), 0)
        for line in (output or "").splitlines():
            # Header lines: "<sha> <orig line> <final line> [<group size>]"; content lines start with a tab.
            parts = line.split(" ")
            if len(parts) >= 3 and len(parts[0]) == 40 and parts[2].isdigit():
                rank = self._rank.get(parts[0])
                if rank is not None:
                    ranks[int(parts[2])] = rank
        self._blame[path] = ranks
        return ranks

    def line_score(self, path: str, line: int) -> float:
        rank = self._ranks(path).get(line)
        return 0.0 if rank is None else 1.0 / (1 + rank)

    def function_score(self, function: Function) -> float:
        ranks = self._ranks(function.path)
        newest = min((ranks[line] for line in range(function.line, function.end_line + 1) if line in ranks),
                     default=None)
        return 0.0 if newest is None else 1.0 / (1 + newest)

    def changed_lines(self, paths: Iterable[str]) -> dict[str, list[int]]:
        """Recently changed lines of `paths` (for suspects when there is no coverage at all)."""
        return {path: sorted(self._ranks(path)) for path in paths if self._ranks(path)}


def recently_changed_files(root: Path, depth: int = DEFAULT_DEPTH) -> list[str]:
    """Files touched by uncommitted changes and the last `depth` non-root commits, newest first."""
    seen: dict[str, None] = {}
    for name in (_git(root, "diff", "--name-only", "HEAD") or "").splitlines():
        seen.setdefault(name, None)
    roots = set((_git(root, "rev-list", "--max-parents=0", "HEAD") or "").split())
    for sha in (_git(root, "rev-list", f"--max-count={depth}", "--first-parent", "HEAD") or "").split():
        if sha in roots:
            continue
        for name in (_git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", sha) or "").splitlines():
            seen.setdefault(name, None)
    return list(seen)
