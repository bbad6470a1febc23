"""Build a real run: the configured model, the sandbox, the tools, git checkpoints, checks and records.

`open_run()` is what `ornith run`, the TUI and the benchmarks call; every failure to set up is a
`SetupError` with one line for the user.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ornith_local.agent.deps import AgentDeps, AgentOptions, Approval, CheckResult
from ornith_local.agent.guard import is_test_path, literals_in
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.propose import make_judge
from ornith_local.agent.runtime import Runtime
from ornith_local.agent.scaffold import Permissions, Scaffold, clamp
from ornith_local.agent.trajectory import Trajectory, new_session_id
from ornith_local.config import Config, project_instructions
from ornith_local.llm.backend import Backend, BackendError, OnText
from ornith_local.llm.factory import open_backend
from ornith_local.llm.gguf import ModelFileError
from ornith_local.models.plan import DoesNotFit
from ornith_local.models.tiny import TinyModelUnavailable
from ornith_local.sandbox import Sandbox, SandboxError, open_sandbox
from ornith_local.tools import Workspace, default_tools
from ornith_local.tools.checkpoint import (
    Checkpoint,
    NotAGitRepoError,
    changed_paths,
    create_checkpoint,
    diff_since,
    open_repo,
)
from ornith_local.tools.listing import list_files
from ornith_local.tools.repomap import RepoMap, RepoMapTool
from ornith_local.tools.testing import env_for_tests, format_report, run_tests
from ornith_local.tools.testing.integrity import freeze as freeze_test_setup

REPO_MAP_TOKENS = 1024
MAX_TEST_SOURCE_BYTES = 400_000  # enough to catch special-casing, bounded for huge suites


class SetupError(Exception):
    """The run cannot start: no model, no git repo, no sandbox... worded as one line."""


@dataclass(frozen=True)
class RunRequest:
    task: str
    repo: Path
    config: Config
    mode: Literal["read-only", "ask", "auto"] = "ask"
    scaffold_mode: str | None = None
    model: str | None = None
    endpoint: str | None = None
    max_turns: int | None = None
    checks: tuple[str, ...] = ()
    allow_test_edits: bool = False
    allow_network: bool = False
    use_library: bool = True
    use_judge: bool = True
    n_ctx: int | None = None
    seed: int = 0
    session_id: str | None = None
    withheld: tuple[str, ...] = ()
    temperature: float | None = None  # None: the model's recommended sampling
    max_wall_s: int | None = None  # None: the default ceiling (Permissions.max_wall_s)


class GitWorkspace:
    """The repo under change: a hidden-ref checkpoint before the first edit; diffs against it."""

    def __init__(self, root: Path, label: str, on_checkpoint: Callable[[Checkpoint], None]) -> None:
        self.root = root
        self.label = label
        self.on_checkpoint = on_checkpoint
        self.checkpoint: Checkpoint | None = None

    def ensure_checkpoint(self) -> None:
        if self.checkpoint is None:
            self.checkpoint = create_checkpoint(self.root, self.label)
            self.on_checkpoint(self.checkpoint)

    def diff(self) -> str:
        return diff_since(self.root, self.checkpoint) if self.checkpoint else ""

    def changed_files(self) -> list[str]:
        return changed_paths(self.root, self.checkpoint) if self.checkpoint else []

    def test_literals(self) -> set[str]:
        texts, budget = [], MAX_TEST_SOURCE_BYTES
        for rel in list_files(self.root):
            if is_test_path(rel) and budget > 0:
                with contextlib.suppress(OSError):
                    text = (self.root / rel).read_text(encoding="utf-8", errors="replace")[:budget]
                    budget -= len(text)
                    texts.append(text)
        return literals_in(texts)


class SandboxVerifier:
    """The checks the runtime owns: the user's --check commands, else the detected test suite."""

    def __init__(self, root: Path, sandbox: Sandbox, checks: Sequence[str], timeout_s: float, *,
                 use_baseline: bool = True) -> None:
        self.root, self.sandbox, self.checks, self.timeout_s = root, sandbox, tuple(checks), timeout_s
        self.use_baseline = use_baseline
        self.already_failing: frozenset[str] | None = None
        freeze_test_setup(root)  # the test command and configuration as they are now, before any edit

    def baseline(self) -> list[str] | None:
        """The suite's failing tests before the run. A repo often has failures unrelated to the task: the run
        is then judged on fixing some of them without breaking anything, not on a suite it was never asked
        to make green. --check commands have no baseline: they are the user's own verdict."""
        if self.checks or not self.use_baseline:
            return None
        report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
        if report.error is not None:
            return None
        self.already_failing = frozenset(case.id for case in report.failures)
        return sorted(self.already_failing)

    def verify(self, extra_checks: Sequence[str]) -> list[CheckResult]:
        results = [self._command(check, "check") for check in self.checks] if self.checks else [self._tests()]
        return results + [self._command(check, "scaffold check") for check in extra_checks]

    def _tests(self) -> CheckResult:
        report = run_tests(self.root, self.sandbox, timeout_s=self.timeout_s)
        counts = report.counts
        summary = report.error or f"{counts['passed']} passed, {counts['failed'] + counts['errors']} failed"
        passed = report.ok and report.error is None and report.exit_code == 0
        failing_ids = [case.id for case in report.failures]
        failing, before = set(failing_ids), self.already_failing
        if not passed and report.error is None and before and failing and failing < before:
            passed = True  # fewer failures than before the run and no new ones
            summary += f" (all {len(failing)} were failing before the run; {len(before - failing)} fixed)"
        return CheckResult("tests", report.command or "(none)", passed, summary,
                           {"failing": failing_ids, "report": format_report(report)})

    def _command(self, command: str, name: str) -> CheckResult:
        try:
            argv = shlex.split(command)
        except ValueError as error:
            return CheckResult(name, command, False, f"cannot parse the command: {error}")
        # The test tools' environment: no bytecode caches written into the user's tree by a check.
        result = self.sandbox.run(argv, workspace=self.root, timeout_s=self.timeout_s, env=env_for_tests(self.root))
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
        summary = "timed out" if result.timed_out else f"exit {result.exit_code}: {tail[0][:160]}"
        return CheckResult(name, command, result.exit_code == 0 and not result.timed_out, summary)


@dataclass
class OpenRun:
    runtime: Runtime
    backend: Backend
    sandbox_tier: str
    trajectory: Trajectory
    library: ScaffoldLibrary

    def __enter__(self) -> OpenRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.trajectory.close()
        self.library.close()


def ensure_git_repo(repo: Path, confirm_init: Callable[[], bool]) -> None:
    """A git repo is required for checkpoints; offer `git init` rather than refusing outright."""
    try:
        open_repo(repo)
    except NotAGitRepoError:
        if not confirm_init():
            raise SetupError(f"{repo} is not a git repository; ornith needs git to checkpoint and undo its "
                             "edits (run 'git init' there)") from None
        from ornith_local.tools.checkpoint import init_repo

        init_repo(repo)


def open_run(
    request: RunRequest, *, emit: Callable[[str, dict[str, Any]], None], on_text: OnText | None = None,
    ask: Callable[[str, dict[str, Any], str], str] | None = None,
    backend: Backend | None = None,
) -> OpenRun:
    config = request.config
    repo = request.repo.resolve()
    ensure_git_repo(repo, lambda: False)
    settings = replace(config.model, endpoint=request.endpoint or config.model.endpoint,
                       n_ctx=request.n_ctx or config.model.n_ctx)
    try:
        backend = backend or open_backend(settings, model=request.model)
        sandbox = open_sandbox(replace(config.sandbox, allow_network=request.allow_network or
                                       config.sandbox.allow_network))
    except (LookupError, FileNotFoundError, ModelFileError, DoesNotFit, BackendError, SandboxError,
            TinyModelUnavailable) as error:
        raise SetupError(str(error).strip("'\"")) from None
    workspace = Workspace.at(repo)
    tools = {tool.name: tool for tool in default_tools(workspace, sandbox)}
    repo_map_tool = tools.get("repo_map")
    if isinstance(repo_map_tool, RepoMapTool):
        repo_map_tool.task = request.task  # the model's own map calls lean toward the task too
    max_turns = request.max_turns or config.agent.max_turns
    permissions = Permissions(tools=frozenset(tools), mode=request.mode, max_turns=max_turns,
                              **({"max_wall_s": request.max_wall_s} if request.max_wall_s else {}))
    trajectory = Trajectory(request.session_id or new_session_id())
    library = ScaffoldLibrary()

    def do_clamp(scaffold: Scaffold) -> tuple[Scaffold, tuple[str, ...]]:
        result = clamp(scaffold, permissions)
        return result.scaffold, result.notes

    repo_maps: dict[str, str] = {}

    def repo_map(task: str) -> str:
        if task not in repo_maps:  # once per run: the map is the same for every scaffold of the task
            repo_maps[task] = RepoMap(repo, count_tokens=backend.count_tokens).build(
                task=task, tokens=REPO_MAP_TOKENS).text
        return repo_maps[task]

    needs_approval = frozenset({"edit_file", "write_file", "run"}) if request.mode == "ask" else frozenset()
    if getattr(sandbox, "unsandboxed", False):  # the weak tier: every command needs a person's yes
        needs_approval |= {"run", "run_tests"}

    def approve(tool: str, arguments: dict[str, Any]) -> Approval:
        if ask is None:
            return "no"
        answer = ask(tool, arguments, getattr(sandbox, "tier", "?"))
        return "always" if answer == "always" else "yes" if answer == "yes" else "no"

    def record_checkpoint(checkpoint: Checkpoint) -> None:
        trajectory.record("checkpoint", id=checkpoint.id, repo=str(repo))
        emit("checkpoint", {"id": checkpoint.id})

    deps = AgentDeps(
        backend=backend, tools=tools,
        workspace=GitWorkspace(repo, f"session {trajectory.session_id}", record_checkpoint),
        verifier=SandboxVerifier(repo, sandbox, request.checks, config.tests.timeout_s,
                                 use_baseline=config.tests.baseline),
        trajectory=trajectory, repo_map=repo_map, clamp=do_clamp, judge=make_judge(backend, request.seed),
        library=library, instructions=project_instructions(repo), approve=approve, emit=emit, on_text=on_text,
        sandbox_tier=getattr(sandbox, "tier", "?"),
    )
    options = AgentOptions(
        mode=request.mode, scaffold_mode=(request.scaffold_mode or config.agent.scaffold),  # type: ignore[arg-type]
        max_turns=max_turns, use_library=request.use_library and config.agent.use_library,
        use_judge=request.use_judge, allow_test_edits=request.allow_test_edits or config.agent.allow_test_edits,
        withheld=request.withheld, seed=request.seed, temperature=request.temperature, repo=str(repo),
        needs_approval=needs_approval,
        max_reasoning_tokens=config.model.max_reasoning_tokens,
        max_tokens_per_turn=config.agent.max_tokens_per_turn,
    )
    return OpenRun(Runtime(deps, options), backend, getattr(sandbox, "tier", "?"), trajectory, library)
