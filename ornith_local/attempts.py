"""Attempts: N rollouts of one task, each in its own git worktree; the verifier (then the judge, then the smaller
diff) picks the one applied to the user's tree.

The user's tree is snapshotted (uncommitted and untracked files included) and every worktree is made to hold
exactly that snapshot, so the attempts start where the user is while the user's tree stays untouched. Each
attempt's final tree is kept under a checkpoint ref (the worktrees share the repo's objects and refs), so any
attempt can be applied after the worktrees are gone (`ornith attempts apply`). Applying one first checkpoints
the user's tree under the parent session, which is what `ornith undo` restores, byte for byte.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ornith_local.agent.events import AttemptsRanked, Checkpointed, Event
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.state import RunResult
from ornith_local.agent.trajectory import Trajectory, new_session_id
from ornith_local.guard.approvals import Ask
from ornith_local.llm.backend import Backend
from ornith_local.sandbox.hostgit import host_git_options
from ornith_local.session import RunRequest, SetupError, open_run
from ornith_local.tools.base import CallPreview
from ornith_local.tools.checkpoint import (
    Checkpoint,
    NotAGitRepoError,
    create_checkpoint,
    delete_checkpoint,
    diff_since,
    get_checkpoint,
    open_repo,
    snapshot,
    snapshot_tree,
    undo,
)

Policy = Literal["best", "first"]
RANK = {"verified": 0, "unverified": 1, "failed": 2}  # flagged, aborted and error are never applied
EmitTagged = Callable[[int | None, Event], None]  # (attempt number, event); None: the parent's own events


class AttemptStopped(BaseException):
    """Raised in an attempt's thread at its next event once another attempt won under the `first` policy."""


@dataclass(frozen=True)
class Attempt:
    number: int
    session_id: str
    outcome: str
    reason: str
    judge: str | None  # the judge's verdict, when it reviewed the diff
    diff: str
    diffstat: str
    files_changed: tuple[str, ...]
    evidence: str
    checkpoint: str | None  # the checkpoint id holding the attempt's final tree

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "session_id": self.session_id, "outcome": self.outcome, "reason": self.reason,
                "judge": self.judge, "diffstat": self.diffstat, "files_changed": list(self.files_changed),
                "evidence": self.evidence, "checkpoint": self.checkpoint}


@dataclass(frozen=True)
class AttemptsResult:
    session_id: str  # the parent session: its trajectory holds the ranking and the user's checkpoint
    attempts: tuple[Attempt, ...]
    chosen: int | None
    reason: str
    result: RunResult | None  # the chosen attempt's run (its session id replaced by the parent's)


def rank(attempts: Sequence[Attempt]) -> list[Attempt]:
    """Best first among those that may be applied: verified > unverified > failed, then the judge's approval,
    then the smaller diff. A flagged (gaming suspected), aborted or errored attempt, or one without a change,
    is never applied."""
    eligible = [a for a in attempts if a.outcome in RANK and a.diff.strip()]
    return sorted(eligible, key=lambda a: (RANK[a.outcome], a.judge == "veto", len(a.diff), a.number))


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *host_git_options(root), "-C", str(root), *args], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)


def attempt_session(parent: str, number: int) -> str:
    """`20261204-131600-a2-97dc50`: the parent's id is not a prefix of it, so `--session PARENT` finds the parent."""
    stamp, _, tail = parent.rpartition("-")
    return f"{stamp}-a{number}-{tail}" if stamp else f"a{number}-{parent}"


def _stopped(number: int, session_id: str, why: str) -> Attempt:
    return Attempt(number, session_id, "aborted", why, None, "", "", (), "", None)


class _Runner:
    def __init__(self, request: RunRequest, root: Path, base: Checkpoint, parent: str, folder: Path,
                 emit: EmitTagged, ask: Ask | None, policy: Policy) -> None:
        self.request, self.root, self.base, self.parent, self.folder = request, root, base, parent, folder
        self.emit, self.ask, self.policy = emit, ask, policy
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.results: dict[int, tuple[Attempt, RunResult | None]] = {}
        self.error = ""  # the last attempt's failure to start (a thread's), for the message when all failed

    def worktree(self, number: int) -> Path:
        """A detached worktree holding exactly the user's snapshot (a safety checkpoint of the swap is dropped)."""
        path = self.folder / f"attempt-{number}"
        _git(self.root, "worktree", "add", "--detach", "--quiet", str(path), "HEAD")
        report = undo(path, self.base)
        if report.safety is not None:
            delete_checkpoint(path, report.safety)
        return path

    def run(self, number: int, backend: Backend | None) -> None:
        session_id = attempt_session(self.parent, number)
        if self.stop.is_set():
            self.results[number] = (_stopped(number, session_id, "not run: an earlier attempt was verified"), None)
            return
        path = self.worktree(number)
        inner = path / self.request.repo.resolve().relative_to(self.root)

        def tagged(event: Event) -> None:
            if self.stop.is_set() and number not in self.results:
                raise AttemptStopped
            with self.lock:
                self.emit(number, event)

        def ask(tool: str, preview: CallPreview, tier: str) -> str:
            assert self.ask is not None
            with self.lock:  # one approval prompt at a time, whatever the threads; it says whose call it is
                return self.ask(tool, replace(preview, title=f"attempt {number}: {preview.title}"), tier)

        sub = replace(self.request, repo=inner, seed=self.request.seed + number - 1, session_id=session_id,
                      copy_of=self.request.repo)
        result: RunResult | None = None
        try:
            with open_run(sub, emit=tagged, ask=ask if self.ask else None, backend=backend) as opened:
                result = opened.loop.run(self.request.task)
        except AttemptStopped:
            self.results[number] = (_stopped(number, session_id, "stopped: another attempt was verified"), None)
            return
        kept = create_checkpoint(path, f"attempt {number} of session {self.parent}")
        diff = diff_since(path, self.base)
        stat = diff_since(path, self.base, stat_only=True).strip().splitlines()
        attempt = Attempt(number, session_id, result.outcome, result.reason,
                          (result.judge or {}).get("verdict"), diff, stat[-1].strip() if stat else "",
                          tuple(result.files_changed), result.evidence.summary() if result.evidence else "",
                          kept.id)
        self.results[number] = (attempt, result)
        if self.policy == "first" and result.outcome == "verified":
            self.stop.set()


def run_attempts(request: RunRequest, n: int, *, emit: EmitTagged, policy: Policy = "best",
                 backends: Sequence[Backend] | None = None, ask: Ask | None = None) -> AttemptsResult:
    """Run `n` attempts of `request.task` and apply the best to the user's tree. `backends`: one each to run them
    concurrently; fewer: one after another on the first (None: each attempt opens the configured backend)."""
    repo = request.repo.resolve()
    try:
        git_repo = open_repo(repo)
    except NotAGitRepoError as error:
        raise SetupError(str(error)) from None
    if not git_repo.head.is_valid():
        raise SetupError(f"{repo}: attempts need a repository with at least one commit (their worktrees start "
                         "from HEAD)")
    root = Path(str(git_repo.working_tree_dir)).resolve()
    taken = snapshot(git_repo)
    base = Checkpoint("attempts-base", "", taken.tree, 0.0)
    parent = request.session_id or new_session_id()
    folder = Path(tempfile.mkdtemp(prefix="ornith-attempts-"))
    runner = _Runner(request, root, base, parent, folder, emit, ask, policy)
    pool = list(backends or [])
    try:
        if len(pool) >= n:
            threads = [threading.Thread(target=_guarded, args=(runner, k, pool[k - 1]), daemon=True)
                       for k in range(1, n + 1)]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    thread.join()
            except BaseException:  # Ctrl-C: the others stop at their next event
                runner.stop.set()
                for thread in threads:
                    thread.join()
                raise
        else:
            for k in range(1, n + 1):
                backend = pool[0] if pool else None
                if backend is not None and k > 1:
                    reset = getattr(backend, "reset", None)
                    if callable(reset):
                        reset()
                runner.run(k, backend)
        if runner.error and all(runner.results[k][1] is None for k in runner.results):
            raise SetupError(f"no attempt could run: {runner.error}")
        return _choose(runner, repo, n)
    finally:
        for path in sorted(folder.glob("attempt-*")):
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(path)],
                           capture_output=True, stdin=subprocess.DEVNULL)
        subprocess.run(["git", "-C", str(root), "worktree", "prune"], capture_output=True, stdin=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)


def _guarded(runner: _Runner, number: int, backend: Backend) -> None:
    try:
        runner.run(number, backend)
    except Exception as error:  # a thread's failure is that attempt's, shown in the ranking
        runner.error = str(error) or type(error).__name__
        runner.results[number] = (_stopped(number, attempt_session(runner.parent, number), f"error: {runner.error}"),
                                  None)


def _choose(runner: _Runner, repo: Path, n: int) -> AttemptsResult:
    attempts = tuple(runner.results[k][0] for k in range(1, n + 1) if k in runner.results)
    ranked = rank(attempts)
    chosen, reason, result = None, "no attempt made a change that can be applied", None
    with Trajectory(runner.parent) as trajectory:
        if ranked:
            best = ranked[0]
            if snapshot_tree(open_repo(repo)) != runner.base.tree:
                reason = (f"your tree changed while the attempts ran: nothing applied (ornith attempts apply "
                          f"{runner.parent} {best.number})")
            else:
                checkpoint = create_checkpoint(repo, f"session {runner.parent}")
                trajectory.record(Checkpointed(id=checkpoint.id, repo=str(repo)))
                apply_checkpoint(repo, best.checkpoint, keep_safety=False)
                chosen, result = best.number, runner.results[best.number][1]
                reason = _why(best, ranked)
            _record_contest(runner, best, attempts, repo)
        event = AttemptsRanked(attempts=[a.to_json() for a in attempts], chosen=chosen, reason=reason,
                               base=runner.base.tree)
        trajectory.record(event)
        runner.emit(None, event)
    if result is not None:
        result = replace(result, session_id=runner.parent)
    return AttemptsResult(runner.parent, attempts, chosen, reason, result)


def _record_contest(runner: _Runner, best: Attempt, attempts: Sequence[Attempt], repo: Path) -> None:
    """The best attempt beat every other that ran to its end: the library ranks its scaffold above theirs."""
    losers = [a.session_id for a in attempts if a.number != best.number and runner.results[a.number][1] is not None]
    library = ScaffoldLibrary()
    try:
        library.record_contest(best.session_id, losers, repo)
    finally:
        library.close()


def _why(best: Attempt, ranked: list[Attempt]) -> str:
    if len(ranked) == 1:
        return f"attempt {best.number}: the only one with a change that may be applied ({best.outcome})"
    second = ranked[1]
    if RANK[best.outcome] < RANK[second.outcome]:
        return f"attempt {best.number}: {best.outcome}, the best outcome"
    if best.judge != second.judge:
        return f"attempt {best.number}: {best.outcome} and approved by the judge"
    return f"attempt {best.number}: {best.outcome}, the smallest diff ({best.diffstat})"


def apply_checkpoint(repo: Path, checkpoint_id: str | None, *, keep_safety: bool = True) -> Checkpoint | None:
    """Make the user's tree exactly an attempt's final tree (every attempt started from the same snapshot); the
    checkpoint of the state it replaced (None when dropped: right after a run the parent's already holds it)."""
    if checkpoint_id is None:
        raise SetupError("that attempt kept no tree to apply")
    report = undo(repo, get_checkpoint(repo, checkpoint_id))
    if report.safety is not None and not keep_safety:
        delete_checkpoint(repo, report.safety)
        return None
    return report.safety
