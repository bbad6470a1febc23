"""The composition root: build a real run from the configuration (the model, the sandbox, the tools, the
planner, the model's quirks, the guard, git checkpoints, checks and records).

`open_run()` is what `ornith run`, the TUI and the benchmarks call; every failure to set up is a
`SetupError` with one line for the user. Nothing below this module reads the configuration mid-run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Literal

from ornith_local.agent.control import control_tools
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.events import Checkpointed, Event, Prefilling, SetupWarning, Writing
from ornith_local.agent.hooks import CommandHooks, NoHooks
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.loop import Loop
from ornith_local.agent.planners import FixedPlanner, Planner, SelfPlanner
from ornith_local.agent.propose import StageOne
from ornith_local.agent.quirks import QuirkError, Quirks
from ornith_local.agent.scaffold import ClampResult, Permissions, Scaffold, clamp
from ornith_local.agent.trajectory import Trajectory, new_session_id
from ornith_local.agent.verifier import SandboxVerifier
from ornith_local.config import Config, project_instructions
from ornith_local.config.settings import ModelSettings
from ornith_local.guard.approvals import Approvals, Ask
from ornith_local.guard.judge import make_judge
from ornith_local.guard.monitor import GuardPolicy, is_test_path, literals_in
from ornith_local.llm.backend import Backend, BackendError, OnText, PrefillProgress, ReportsPrefill
from ornith_local.llm.factory import open_backend
from ornith_local.llm.templates import ChatTemplate, opens_thinking
from ornith_local.llm.tool_format import tool_format_for
from ornith_local.models.catalog import CatalogEntry, CatalogError, find_entry, load_catalog
from ornith_local.models.gguf import ModelFileError
from ornith_local.models.plan import DoesNotFit
from ornith_local.models.tiny import TINY_MODEL_NAME, TinyModelUnavailable
from ornith_local.sandbox import SandboxError, open_sandbox
from ornith_local.sandbox.workspace_fs import WorkspaceFS
from ornith_local.tools import Workspace, default_tools
from ornith_local.tools.checkpoint import (
    Checkpoint,
    NotAGitRepoError,
    changed_paths,
    checkpoint_paths,
    create_checkpoint,
    diff_since,
    open_repo,
)
from ornith_local.tools.diagnostics import Diagnostics, open_diagnostics
from ornith_local.tools.listing import list_files
from ornith_local.tools.mcp import McpHub, open_mcp
from ornith_local.tools.registry import ToolRegistry
from ornith_local.tools.repomap import RepoMap, RepoMapTool
from ornith_local.tools.testing.detect import command_in_copy
from ornith_local.tools.testing.integrity import changes_since_start

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
    hide: tuple[Path, ...] = ()  # host paths the run's commands must not see (a benchmark's held-back tests)
    temperature: float | None = None  # None: the model's recommended sampling
    max_wall_s: int | None = None  # None: the default ceiling (Permissions.max_wall_s)
    quirks: tuple[str, ...] | None = None  # None: the model's own [quirks] from the catalog; () runs the clean loop
    copy_of: Path | None = None  # `repo` is a git copy of this tree (an attempt's worktree): its tests use its .venv


class GitWorkspace:
    """The repo under change: a hidden-ref checkpoint before the first edit; diffs against it."""

    def __init__(self, root: Path, label: str, on_checkpoint: Callable[[Checkpoint], None]) -> None:
        self.root = root
        self.label = label
        self.on_checkpoint = on_checkpoint
        self.checkpoint: Checkpoint | None = None
        self._at_start: frozenset[str] | None = None

    def ensure_checkpoint(self) -> None:
        if self.checkpoint is None:
            self.checkpoint = create_checkpoint(self.root, self.label)
            self.on_checkpoint(self.checkpoint)

    def diff(self) -> str:
        return diff_since(self.root, self.checkpoint) if self.checkpoint else ""

    def changed_files(self) -> list[str]:
        return changed_paths(self.root, self.checkpoint) if self.checkpoint else []

    def is_new_file(self, path: str) -> bool:
        if self.checkpoint is None:  # nothing was edited yet: what is there now was there at the start
            return not os.path.lexists(self.root / path)
        if self._at_start is None:
            self._at_start = checkpoint_paths(self.root, self.checkpoint)
        return PurePosixPath(path.replace("\\", "/")).as_posix().removeprefix("./") not in self._at_start

    def test_literals(self) -> set[str]:
        texts, budget = [], MAX_TEST_SOURCE_BYTES
        for rel in list_files(self.root):
            if is_test_path(rel) and budget > 0:
                with contextlib.suppress(OSError):  # a link, FIFO or device in the tests: skipped, never followed
                    text = WorkspaceFS(self.root).read_head(rel, budget).decode("utf-8", errors="replace")[:budget]
                    budget -= len(text)
                    texts.append(text)
        return literals_in(texts)

    def test_setup_changes(self) -> list[str]:
        return changes_since_start(self.root)


@dataclass
class OpenRun:
    loop: Loop
    backend: Backend
    sandbox_tier: str
    trajectory: Trajectory
    library: ScaffoldLibrary
    diagnostics: Diagnostics | None = None  # its language servers stay warm for the run, and stop with it
    mcp: McpHub | None = None  # the MCP servers whose tools the run offers; stopped with it

    def __enter__(self) -> OpenRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.trajectory.close()
        self.library.close()
        if self.diagnostics is not None:
            self.diagnostics.close()
        if self.mcp is not None:
            self.mcp.close()


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


def catalog_entry(model: str | None) -> CatalogEntry | None:
    """The catalog's entry for `model` (a catalog name, or a path to its .gguf file); None when it has none."""
    if not model:
        return None
    try:
        return find_entry(load_catalog(), model)
    except CatalogError:
        return None


def quirks_for(model: str | None, only: Iterable[str] | None = None) -> Quirks:
    """The quirks the catalog switches on for `model`; `only`: just these names instead (benchmarks compare
    quirks one by one). A model the catalog does not know runs clean."""
    return _quirks(catalog_entry(model), only)


def _quirks(entry: CatalogEntry | None, only: Iterable[str] | None) -> Quirks:
    try:
        return Quirks.from_table(entry.quirks if entry else {}, only)
    except QuirkError as error:
        raise SetupError(str(error)) from None


def thinking_budget(entry: CatalogEntry | None, backend: Backend, budget: int) -> int | None:
    """The plan's and the verdict's thinking budget for a model that reasons before it answers (Ornith, Qwen3.5):
    it thinks freely and only the answer after `</think>` is held to its grammar. None for a model that does not.
    The catalog says which; for a model it does not know, the chat template does (its prompt opens the block)."""
    if entry is not None:
        reasons = entry.reasoning == "think-open"
    else:
        template = getattr(backend, "template", None)
        reasons = isinstance(template, ChatTemplate) and opens_thinking(template)
    return budget if reasons else None


PREFILL_SHOWN_AFTER_S = 1.0  # a prompt read faster than this needs no progress
PREFILL_EVERY_S = 0.5


def progress_due(elapsed_s: float, shown_at: float) -> bool:
    """Whether slow work shows its progress now: not in its first second, then twice a second (`shown_at`: when
    it was last shown, negative before the first time)."""
    return elapsed_s >= PREFILL_SHOWN_AFTER_S and (shown_at < 0 or elapsed_s - shown_at >= PREFILL_EVERY_S)


def prefill_reporter(emit: Callable[[Event], None]) -> Callable[[PrefillProgress], None]:
    """`Prefilling` events for a slow prompt read: from its first second, twice a second, and its end."""
    shown_at = -1.0  # when this prompt's progress was last shown; negative: not shown yet

    def report(progress: PrefillProgress) -> None:
        nonlocal shown_at
        event = Prefilling(evaluated=progress.evaluated, total=progress.total, elapsed_s=progress.elapsed_s)
        if progress.evaluated >= progress.total:  # the end of this prompt: closes the line if one was shown
            if shown_at >= 0:
                emit(event)
            shown_at = -1.0
        elif progress_due(progress.elapsed_s, shown_at):
            shown_at = progress.elapsed_s
            emit(event)

    return report


def writing_reporter(emit: Callable[[Event], None],
                     clock: Callable[[], float] = time.monotonic) -> Callable[[str], OnText]:
    """For each generation that is not streamed (the plan, the review): a text callback that counts its tokens and
    emits `Writing` events on the prefill throttle, so a minute of planning is never a silent minute."""

    def start(what: str) -> OnText:
        started: float | None = None  # the first piece: the prompt's reading before it has its own progress
        tokens, shown_at = 0, -1.0

        def on_text(piece: str) -> None:
            nonlocal started, tokens, shown_at
            tokens += bool(piece)  # an empty piece is a backend's heartbeat, not a token
            now = clock()
            started = now if started is None else started
            elapsed = now - started
            if progress_due(elapsed, shown_at):
                shown_at = elapsed
                emit(Writing(what=what, tokens=tokens, elapsed_s=elapsed))

        return on_text

    return start


def model_settings(request: RunRequest) -> ModelSettings:
    """The configured model settings with the request's `--endpoint` and `--n-ctx` over them."""
    model = request.config.model
    return replace(model, endpoint=request.endpoint or model.endpoint, n_ctx=request.n_ctx or model.n_ctx)


def open_run(
    request: RunRequest, *, emit: Callable[[Event], None], on_text: OnText | None = None,
    ask: Ask | None = None, backend: Backend | None = None,
) -> OpenRun:
    config = request.config
    repo = request.repo.resolve()
    ensure_git_repo(repo, lambda: False)
    settings = model_settings(request)
    try:
        backend = backend or open_backend(settings, model=request.model)
        sandbox = open_sandbox(replace(config.sandbox, allow_network=request.allow_network or
                                       config.sandbox.allow_network), hide=request.hide)
    except (LookupError, FileNotFoundError, ModelFileError, DoesNotFit, BackendError, SandboxError,
            TinyModelUnavailable) as error:
        raise SetupError(str(error).strip("'\"")) from None
    # Whose quirks: an endpoint runs the model it was asked for; in-process, the default is the tiny model.
    model = request.model or settings.name or (None if settings.endpoint else TINY_MODEL_NAME)
    entry = catalog_entry(model)
    quirks = _quirks(entry, request.quirks)
    thinking = thinking_budget(entry, backend, config.model.max_reasoning_tokens)
    workspace = Workspace.at(repo, hidden=request.withheld)  # held-back tests: out of listings and searches
    diagnostics = open_diagnostics(repo, config.diagnostics, sandbox)  # nothing starts before the first edit
    tools = ToolRegistry(default_tools(workspace, sandbox, config.sandbox, diagnostics=diagnostics))
    # The configured MCP servers start now (bounded by their timeouts); one that does not is one warning line.
    # Not in read-only mode: every MCP call is an exec there is no point starting a server for.
    mcp_servers = config.mcp.servers if request.mode != "read-only" else {}
    mcp, mcp_tools, mcp_warnings = open_mcp(mcp_servers, repo, taken=frozenset(tools))
    tools = tools.with_tools(mcp_tools)
    for warning in mcp_warnings:
        emit(SetupWarning(text=warning))
    repo_map_tool = tools.get("repo_map")
    if isinstance(repo_map_tool, RepoMapTool):
        repo_map_tool.task = request.task  # the model's own map calls lean toward the task too
    max_turns = request.max_turns or config.agent.max_turns
    permissions = Permissions(tools=tools.effects(), mode=request.mode, max_turns=max_turns,
                              max_wall_s=request.max_wall_s or Permissions.max_wall_s)
    trajectory = Trajectory(request.session_id or new_session_id())
    library = ScaffoldLibrary()

    tests = command_in_copy(repo, request.copy_of) if request.copy_of is not None else None
    verifier = SandboxVerifier(repo, sandbox, request.checks, config.tests.timeout_s,
                               use_baseline=config.tests.baseline, command=tests)

    def do_clamp(scaffold: Scaffold) -> ClampResult:  # after the baseline: whether a test shows the problem yet
        return clamp(scaffold, replace(permissions, reproduce=verifier.needs_reproduction))

    repo_maps: dict[str, str] = {}

    def repo_map(task: str) -> str:
        if task not in repo_maps:  # once per run: the map is the same for every scaffold of the task
            repo_maps[task] = RepoMap(repo, count_tokens=backend.count_tokens, hidden=workspace.is_hidden).build(
                task=task, tokens=REPO_MAP_TOKENS).text
        return repo_maps[task]

    tier = getattr(sandbox, "tier", "?")
    approvals = Approvals.for_mode(request.mode, ask, tier, unsandboxed=bool(getattr(sandbox, "unsandboxed", False)),
                                   test_tools=frozenset({"run_tests"}) & frozenset(tools))

    def record(event: Event) -> None:
        trajectory.record(event)
        emit(event)

    if isinstance(backend, ReportsPrefill):  # a long prompt shows progress, not a silent minute
        backend.on_prefill = prefill_reporter(emit)
    writing = writing_reporter(emit)  # and so does the text the loop does not stream

    def record_checkpoint(checkpoint: Checkpoint) -> None:
        record(Checkpointed(id=checkpoint.id, repo=str(repo)))

    instructions = project_instructions(repo)
    scaffold_mode = request.scaffold_mode or config.agent.scaffold
    stage = StageOne(
        backend=backend, clamp=do_clamp, emit=record, tool_names=list(tools),
        edit_tools=tools.named("edit"), tool_specs=tools.with_tools(control_tools()).specs(), repo_map=repo_map,
        instructions=instructions, library=library if request.use_library and config.agent.use_library else None,
        max_turns=max_turns, mode=request.mode, seed=request.seed, repo=str(repo), writing=writing,
        thinking=thinking)
    offered = tuple(tool.name for tool in mcp_tools)
    planner: Planner = FixedPlanner(stage, offered) if scaffold_mode == "fixed" else SelfPlanner(stage, offered)
    deps = AgentDeps(
        backend=backend, tools=tools,
        workspace=GitWorkspace(repo, f"session {trajectory.session_id}", record_checkpoint),
        verifier=verifier,
        trajectory=trajectory, planner=planner, clamp=do_clamp,
        judge=make_judge(backend, request.seed, writing, thinking=thinking) if request.use_judge else None,
        policy=GuardPolicy(protect_tests=not (request.allow_test_edits or config.agent.allow_test_edits),
                           withheld=request.withheld),
        approvals=approvals, quirks=quirks, library=library, repo_map=repo_map, instructions=instructions,
        emit=emit, on_text=on_text, sandbox_tier=tier,
        hooks=CommandHooks(config.hooks, sandbox, repo, session_id=trajectory.session_id,
                           transcript=trajectory.path) if config.hooks else NoHooks(),
    )
    options = AgentOptions(
        mode=request.mode, scaffold_mode=scaffold_mode, max_turns=max_turns, seed=request.seed,
        temperature=request.temperature, repo=str(repo), max_reasoning_tokens=config.model.max_reasoning_tokens,
        thinking=thinking, no_tool_call=tool_format_for(entry).nudge,
        max_tokens_per_turn=config.agent.max_tokens_per_turn,
    )
    return OpenRun(Loop(deps, options), backend, tier, trajectory, library, diagnostics=diagnostics, mcp=mcp)
