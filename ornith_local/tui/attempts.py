"""/attempts in the TUI: how many attempts a task gets, the last run's ranking with each attempt's diff, and
applying another attempt than the one chosen (`ornith attempts apply` in the CLI)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.agent.events import AttemptsRanked, Checkpointed
from ornith_local.agent.trajectory import list_sessions, read_events
from ornith_local.sandbox.hostgit import host_git_options
from ornith_local.tools.checkpoint import get_checkpoint

MAX_ATTEMPTS = 16


@dataclass(frozen=True)
class Ranking:
    session_id: str
    event: AttemptsRanked
    repo: Path

    def attempt(self, number: int) -> dict[str, Any] | None:
        return next((a for a in self.event.attempts if a["number"] == number), None)


def last_ranking(repo: Path) -> Ranking | None:
    """The newest run in `repo` that ran attempts."""
    wanted = repo.resolve()
    for path in list_sessions():
        ranked, where = None, None
        for event in read_events(path):
            if isinstance(event, AttemptsRanked):
                ranked = event
            elif isinstance(event, Checkpointed):
                where = Path(event.repo).resolve()
        if ranked is not None and where in (None, wanted):
            return Ranking(path.stem, ranked, wanted)
    return None


def ranking_lines(event: AttemptsRanked) -> list[str]:
    lines = []
    for attempt in event.attempts:
        mark = "→" if attempt["number"] == event.chosen else " "
        lines.append(f"{mark} {attempt['number']}  {attempt['outcome']:<10}  judge: {attempt.get('judge') or '-':<7}  "
                     f"{attempt.get('diffstat') or 'no change'}")
    lines.append(f"applied: {event.reason}" if event.chosen else f"nothing applied: {event.reason}")
    return lines


def attempt_diff(ranking: Ranking, number: int) -> str:
    """Attempt `number`'s changes against the tree the attempts started from."""
    attempt = ranking.attempt(number)
    if attempt is None or not attempt.get("checkpoint") or not ranking.event.base:
        return ""
    after = get_checkpoint(ranking.repo, str(attempt["checkpoint"]))
    done = subprocess.run(["git", *host_git_options(ranking.repo), "-C", str(ranking.repo), "diff-tree", "-r", "-p",
                           "--no-color", "--no-ext-diff", "--no-textconv", ranking.event.base, after.tree],
                          capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return done.stdout.decode("utf-8", "replace")
