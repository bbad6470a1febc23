"""The TUI's side of a run: the loaded model, and the body of the worker thread that runs a task.

The model is loaded once and kept for every task of the session (its KV cache too). A run goes
through `open_run()` exactly like `ornith run`; the only difference is where the callbacks lead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ornith_local.agent.sessions import ResumeState
from ornith_local.attempts import run_attempts
from ornith_local.config import Config
from ornith_local.llm.backend import (
    Backend,
    BackendError,
    Completion,
    GenerateOptions,
    Message,
    OnText,
    PrefillProgress,
    ReportsPrefill,
)
from ornith_local.llm.factory import open_backend
from ornith_local.models.gguf import ModelFileError
from ornith_local.models.plan import DoesNotFit
from ornith_local.models.tiny import TinyModelUnavailable
from ornith_local.sandbox import SandboxError, open_sandbox
from ornith_local.session import RunRequest, SetupError, open_run
from ornith_local.tui.bridge import RunBridge, RunInterrupted

Mode = Literal["read-only", "ask", "auto"]
BackendFactory = Callable[[str | None], Backend]
LOAD_ERRORS = (LookupError, FileNotFoundError, ModelFileError, DoesNotFit, BackendError, TinyModelUnavailable,
               OSError)


@dataclass
class TuiOptions:
    """What `ornith` was started with; /mode, /scaffold and /model change it as you go."""

    repo: Path
    config: Config
    mode: Mode = "ask"
    scaffold_mode: Literal["self", "fixed"] = "self"
    model: str | None = None
    endpoint: str | None = None
    max_turns: int | None = None
    n_ctx: int | None = None
    attempts: int = 1  # /attempts N: each task runs N times in worktrees, the verifier's pick is applied
    attempts_policy: Literal["best", "first"] = "best"


def default_backend_factory(options: TuiOptions) -> BackendFactory:
    """Open the configured model (or an endpoint) exactly as `ornith run` does."""

    def load(model: str | None) -> Backend:
        config = options.config
        settings = replace(config.model, endpoint=options.endpoint or config.model.endpoint,
                           n_ctx=options.n_ctx or config.model.n_ctx)
        return open_backend(settings, model=model)

    return load


def sandbox_tier(options: TuiOptions) -> str:
    """The tier runs will use (shown in the status bar before the first run); '?' when none works."""
    try:
        return str(getattr(open_sandbox(options.config.sandbox), "tier", "?"))
    except SandboxError:
        return "?"


class ModelSlot:
    """The one loaded backend; loading happens in a worker thread, never on the UI's."""

    def __init__(self, factory: BackendFactory, name: str | None) -> None:
        self.factory = factory
        self.name = name
        self.backend: Backend | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def load(self, name: str | None) -> Backend:
        """Load `name` (None: the configured default), replacing the current model. Raises SetupError."""
        with self._lock:
            return self._load(name)

    def ensure(self) -> Backend:
        """The loaded model, loading the current one first if needed (once, whoever asks first)."""
        with self._lock:
            return self.backend if self.backend is not None else self._load(self.name)

    def _load(self, name: str | None) -> Backend:
        try:
            backend = self.factory(name)
        except LOAD_ERRORS as error:
            self.error = str(error).strip("'\"")
            raise SetupError(self.error) from None
        self.backend, self.name, self.error = backend, name, None
        return backend


class GuardedBackend:
    """The loaded backend, with every generation interruptible.

    Every generation's text callback checks for an interrupt first, so Esc stops a scaffold or a review
    mid-way as well as a step's turn.
    """

    def __init__(self, inner: Backend, bridge: RunBridge) -> None:
        self.inner = inner
        self.bridge = bridge

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def n_ctx(self) -> int:
        return self.inner.n_ctx

    @property
    def on_prefill(self) -> Callable[[PrefillProgress], None] | None:
        return self.inner.on_prefill if isinstance(self.inner, ReportsPrefill) else None

    @on_prefill.setter
    def on_prefill(self, callback: Callable[[PrefillProgress], None] | None) -> None:
        # The run's emit goes through the bridge, which checks for an interrupt: Esc stops a long read too.
        if isinstance(self.inner, ReportsPrefill):
            self.inner.on_prefill = callback

    def _callback(self, on_text: OnText | None) -> OnText:
        def checked(piece: str) -> None:  # every token is a point where an interrupt lands
            self.bridge.check()
            if on_text is not None:
                on_text(piece)

        return checked

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        self.bridge.check()
        return self.inner.chat(messages, options, self._callback(on_text))

    def complete(self, prompt: str, options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        self.bridge.check()
        return self.inner.complete(prompt, options, self._callback(on_text))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def reset(self) -> None:
        self.inner.reset()


@dataclass(frozen=True)
class RunSpec:
    task: str
    repo: Path
    mode: Mode
    scaffold_mode: Literal["self", "fixed"]
    resume: ResumeState | None = None
    session_id: str | None = None


def execute_run(spec: RunSpec, options: TuiOptions, slot: ModelSlot, bridge: RunBridge) -> None:
    """The worker thread's whole job: load if needed, run the task through the runtime, report the end."""
    try:
        backend = slot.ensure()
        request = RunRequest(
            task=spec.task, repo=spec.repo, config=options.config, mode=spec.mode, scaffold_mode=spec.scaffold_mode,
            max_turns=options.max_turns, session_id=spec.session_id, endpoint=options.endpoint, model=slot.name,
        )
        if options.attempts > 1 and spec.resume is None:
            # One loaded model: the attempts run one after another on it; each one's events are shown as a run.
            done = run_attempts(request, options.attempts, emit=lambda number, event: bridge.emit(event),
                                policy=options.attempts_policy, backends=[GuardedBackend(backend, bridge)],
                                ask=bridge.ask)
            bridge.session_id = done.session_id
            bridge.finish(outcome=done.result.outcome if done.result else "failed")
            return
        with open_run(request, emit=bridge.emit, on_text=bridge.on_text, ask=bridge.ask,
                      backend=GuardedBackend(backend, bridge)) as run:
            bridge.session_id = run.trajectory.session_id
            result = run.loop.run(spec.task, resume=spec.resume)
        bridge.finish(outcome=result.outcome)
    except RunInterrupted:
        bridge.finish(interrupted=True)
    except SetupError as error:
        bridge.finish(error=str(error))
    except BackendError as error:
        bridge.finish(error=f"the model failed: {error}")
    except Exception as error:  # the UI must survive anything a run throws, and say what it was
        bridge.finish(error=f"{type(error).__name__}: {error}".splitlines()[0])
