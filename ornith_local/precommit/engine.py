"""One `ornith precommit` run: read the staged change, check it in a copy, and on failure ask for a fix.

    with staged_run(Path.cwd()) as run:          # PrecommitError: not a repo, nothing staged, bad config
        results = run.check()                    # in the sandbox, on the staged content only
        outcome = run.suggest(failing, choice)   # within the time budget; verified or nothing
        save_suggestion(run, outcome.suggestion) # .git/ornith/suggestion.patch

The copy is a temporary directory holding exactly the index (`staged.materialise`), so neither the
working tree nor the index is ever written; `apply_to_worktree` is the only write, and only on request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ornith_local.config import Config, ConfigError, load_config
from ornith_local.config.settings import REPO_CONFIG_NAME
from ornith_local.precommit.checks import (
    Check,
    CheckResult,
    Context,
    configured_checks,
    default_checks,
    run_checks,
    tool_path,
)
from ornith_local.precommit.model import ModelChoice, ModelProcess, ModelSession
from ornith_local.precommit.staged import (
    PrecommitError,
    Repo,
    Staged,
    find_repo,
    index_fingerprint,
    materialise,
    read_staged,
    staged_diff,
)
from ornith_local.sandbox import Sandbox, SandboxError, host_git_command, open_sandbox, probe_tiers

if TYPE_CHECKING:  # a real import would load the guard and the tools on the fast path (checks pass)
    from ornith_local.precommit.suggest import Suggestion, SuggestOutcome

PATCH_NAME = "suggestion.patch"
META_NAME = "suggestion.json"


class NothingStaged(PrecommitError):
    def __init__(self) -> None:
        super().__init__("nothing is staged: git add the changes to check first", exit_code=2)


@dataclass
class StagedRun:
    repo: Repo
    staged: Staged
    config: Config
    checks: list[Check]
    tree: Path  # the staged content, materialised
    context: Context
    sandbox: Sandbox
    env: dict[str, str]

    @property
    def timeout_s(self) -> float:
        return self.config.sandbox.timeout_s

    def check(self, *, deadline: float | None = None, stop_at_failure: bool = False) -> list[CheckResult]:
        return run_checks(self.checks, self.context, self.sandbox, self.tree, timeout_s=self.timeout_s,
                          env=self.env, deadline=deadline, stop_at_failure=stop_at_failure)

    def suggest(self, failures: list[CheckResult], choice: ModelChoice, budget_s: float,
                session: ModelSession | None = None) -> SuggestOutcome:
        """A verified fix for `failures`, or the reason there is none; never longer than `budget_s`."""
        from ornith_local.precommit.suggest import SuggestOutcome, editable_files, propose_fix

        started = time.monotonic()
        editable = editable_files(self.tree, self.staged.present)
        if not editable:
            return SuggestOutcome(note="no staged file the model may edit (tests and checks' own files are "
                                       "never edited for you)")
        if session is None:
            if choice.factory is None:  # no model: the note says how to get one
                return SuggestOutcome(note=choice.note)
            session = ModelProcess(choice.factory, choice.label)
        try:
            return propose_fix(session, self.tree, staged_diff(self.repo), failures, editable,
                               lambda deadline: self.check(deadline=deadline, stop_at_failure=True),
                               started + budget_s)
        finally:
            session.close()


def _checks(repo: Repo, config: Config, path: str) -> list[Check]:
    if config.precommit.checks:
        where = next((s for s in config.sources if s.endswith(REPO_CONFIG_NAME)), "config") + " [precommit] checks"
        return configured_checks(config.precommit.checks, where)
    return default_checks(repo.root, path)


@contextmanager
def staged_run(path: Path, *, needs_files: bool = True) -> Iterator[StagedRun]:
    """The staged change of the repo at `path`, materialised in a temporary directory for the block."""
    # Probing the sandbox tiers runs a command through each (~0.1 s of waiting): overlap it with the
    # git reads and the copy, since a hook's start-up time is paid on every commit.
    probing = threading.Thread(target=probe_tiers, daemon=True)
    probing.start()
    tree = Path(tempfile.mkdtemp(prefix="ornith-precommit-"))
    try:
        run = _prepare(path, tree, needs_files, probing)
        yield run
    finally:
        probing.join()  # never leave a probe running (or its scratch folder behind) on an early error
        shutil.rmtree(tree, ignore_errors=True)


def _prepare(path: Path, tree: Path, needs_files: bool, probing: threading.Thread) -> StagedRun:
    repo = find_repo(path)
    config = load_config(repo.root)
    if config.precommit.time_budget_s <= 0:
        raise ConfigError("[precommit] time_budget_s must be positive")
    staged = read_staged(repo)
    if needs_files and not staged.files:
        raise NothingStaged()
    from ornith_local.tools.testing.detect import project_python
    from ornith_local.tools.testing.environments import interpreter_dirs

    python = project_python(repo.root)
    path_var = tool_path(repo.root, python)
    checks = _checks(repo, config, path_var)
    linked = materialise(repo, tree)
    related: tuple[str, ...] = ()
    if any("{related_tests" in check.command for check in checks):
        from ornith_local.precommit.related import related_tests

        related = tuple(related_tests(tree, staged.present, staged.deleted))
    probing.join()
    try:
        sandbox = open_sandbox(config.sandbox, read_only=[*linked, *interpreter_dirs(python)])
    except SandboxError as error:
        raise PrecommitError(f"sandbox: {error}", exit_code=1) from None
    context = Context(tuple(staged.present), related, python, repo.root)
    return StagedRun(repo, staged, config, checks, tree, context, sandbox, {"PATH": path_var})


# --- the saved suggestion -------------------------------------------------------------------------

def patch_path(repo: Repo) -> Path:
    return repo.ornith_dir / PATCH_NAME


def save_suggestion(run: StagedRun, suggestion: Suggestion) -> Path:
    """Write the patch and what it was made for (the index's fingerprint) under .git/ornith/."""
    folder = run.repo.ornith_dir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / PATCH_NAME
    target.write_bytes(suggestion.patch.encode("utf-8", "surrogateescape"))
    meta = {"index": index_fingerprint(run.repo), "model": suggestion.model, "cause": suggestion.cause,
            "files": suggestion.files, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / META_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target


def clear_suggestion(repo: Repo) -> None:
    for name in (PATCH_NAME, META_NAME):
        (repo.ornith_dir / name).unlink(missing_ok=True)


def saved_suggestion(run: StagedRun) -> str | None:
    """The saved patch when it was made for exactly what is staged now; None otherwise."""
    try:
        meta = json.loads((run.repo.ornith_dir / META_NAME).read_text(encoding="utf-8"))
        patch = (run.repo.ornith_dir / PATCH_NAME).read_bytes().decode("utf-8", "surrogateescape")
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("index") != index_fingerprint(run.repo):
        return None
    return patch


def _git_apply(cwd: Path, patch: str, *extra: str, outside_repo: bool = False) -> subprocess.CompletedProcess[bytes]:
    # Without --index or --cached, `git apply` touches only files: never the index.
    env = dict(os.environ)
    if outside_repo:  # the staged copy: never let git find a repository above it and apply there
        env["GIT_CEILING_DIRECTORIES"] = str(cwd.parent)
        env.pop("GIT_DIR", None)
        env.pop("GIT_INDEX_FILE", None)
    return subprocess.run(host_git_command(cwd, "apply", "--whitespace=nowarn", *extra, "-"), env=env,
                          input=patch.encode("utf-8", "surrogateescape"), capture_output=True, timeout=60)


def patched_files(patch: str) -> list[str]:
    return [line.split(" b/", 1)[1] for line in patch.splitlines() if line.startswith("diff --git a/")]


def verify_saved(run: StagedRun, patch: str, budget_s: float) -> list[CheckResult] | str:
    """Re-check a saved patch on the staged copy: the check results, or why it cannot be used.

    The same rules as for a fresh suggestion: staged, editable files only, the guard, then the checks.
    """
    from ornith_local.precommit.suggest import editable_files, guard_reason

    editable = editable_files(run.tree, run.staged.present)
    outside = [path for path in patched_files(patch) if path not in editable]
    if outside or not patched_files(patch):
        return f"it edits files outside the staged, editable ones ({', '.join(outside) or 'none named'})"
    reason = guard_reason(patch)
    if reason:
        return reason
    applied = _git_apply(run.tree, patch, outside_repo=True)
    if applied.returncode != 0:
        return "it no longer applies to the staged content"
    return run.check(deadline=time.monotonic() + budget_s, stop_at_failure=True)


def apply_to_worktree(run: StagedRun, patch: str, files: list[str]) -> None:
    """Merge the fix into the working tree's files, unstaged edits kept; the index is never written.

    The patch was made against the staged content, and the working tree may differ from it (unstaged
    edits), so each file is a three-way merge (`git merge-file`): base = staged, ours = working tree,
    theirs = staged + fix. A conflict writes nothing at all and says which file.
    """
    from ornith_local.tools.fileio import write_atomic

    with tempfile.TemporaryDirectory(prefix="ornith-apply-") as scratch:
        base, fixed = Path(scratch, "base"), Path(scratch, "fixed")
        git_paths = [f"--prefix={base}{os.sep}", "--", *files]
        subprocess.run(host_git_command(run.repo.root, "checkout-index", *git_paths), check=True, capture_output=True)
        shutil.copytree(base, fixed)
        if _git_apply(fixed, patch, outside_repo=True).returncode != 0:
            raise PrecommitError("the suggestion does not apply to the staged content any more", exit_code=1)
        merged: dict[Path, bytes] = {}
        for path in files:
            ours = run.repo.root / path
            if not ours.is_file():
                raise PrecommitError(f"{path} is missing from the working tree: nothing applied", exit_code=1)
            result = subprocess.run(host_git_command(run.repo.root, "merge-file", "-p", "-L", "working tree", "-L",
                                                     "staged", "-L", "suggestion", str(ours), str(base / path),
                                                     str(fixed / path)),
                                    capture_output=True, timeout=60)
            if result.returncode != 0:
                raise PrecommitError(f"the suggestion conflicts with unstaged edits in {path}: nothing applied",
                                     exit_code=1)
            merged[ours] = result.stdout
    for target, data in merged.items():
        write_atomic(target, data, root=run.repo.root)  # never through a directory a command made a link


__all__ = ["NothingStaged", "PrecommitError", "StagedRun", "apply_to_worktree", "clear_suggestion",
           "patch_path", "patched_files", "save_suggestion", "saved_suggestion", "staged_run", "verify_saved"]
