"""The model behind a suggestion, held to a deadline.

A chat inside llama.cpp cannot be interrupted, so the real model runs in a child process
(`ModelProcess`): it loads the model once, answers the chats the parent sends, and is killed when the
deadline comes, so a slow model costs at most the budget and leaves nothing running. `InProcessModel`
wraps a backend already open (tests, an HTTP server) and only checks the deadline between calls.

Which model: `[precommit] model`, then `[model]` (name or endpoint), then the most capable installed model
(models/choice.py, the rule every command shares). The tiny demo model proves the engine works but cannot
fix code: only when named.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ornith_local.config.settings import Config, ModelSettings
from ornith_local.llm.backend import Backend, GenerateOptions, Message

BackendFactory = Callable[[], Backend]  # must pickle (a module-level function or dataclass): it goes to the child
PULL_HINT = "ornith models pull ornith-1.0-9b"


class ModelSession(Protocol):
    name: str
    problem: str  # why the last chat returned None: load failure, crash, budget

    def chat(self, messages: Sequence[Message], options: GenerateOptions, deadline: float) -> str | None:
        """The reply's text, or None when the deadline came first or the model failed (see `problem`)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CatalogModel:
    """The configured engine: a catalog name or .gguf path through `open_backend`, or the HTTP endpoint."""

    settings: ModelSettings
    name: str | None

    def __call__(self) -> Backend:
        from ornith_local.llm.factory import open_backend

        return open_backend(self.settings, model=self.name)


@dataclass(frozen=True)
class ModelChoice:
    factory: BackendFactory | None  # None: no model, checks only
    label: str  # what to call it in the report
    note: str = ""  # why there is no model, and how to get one


def choose_model(config: Config, requested: str | None, no_model: bool) -> ModelChoice:
    if no_model:
        return ModelChoice(None, "", "model skipped (--no-model)")
    from ornith_local.models.choice import choose_model as pick_model

    # The same rule as `ornith run`, minus the tiny test model: it cannot fix code.
    pick = pick_model(config.model, requested or config.precommit.model, allow_test_model=False)
    if pick.name or config.model.endpoint:
        return ModelChoice(CatalogModel(config.model, pick.name), pick.name or str(config.model.endpoint))
    return ModelChoice(None, "", f"no model installed: checks only (for fix suggestions: {PULL_HINT})")


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:300]


class InProcessModel:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.name
        self.problem = ""

    def chat(self, messages: Sequence[Message], options: GenerateOptions, deadline: float) -> str | None:
        if time.monotonic() >= deadline:
            self.problem = "the time budget ran out before the model answered"
            return None
        try:
            return self.backend.chat(messages, options).text
        except Exception as error:  # a model failure is a missing suggestion, never a crashed hook
            self.problem = f"model failed: {_one_line(error)}"
            return None

    def close(self) -> None:
        pass


def _serve(factory: BackendFactory, conn: Connection) -> None:
    """The child: load, then answer (messages, options) requests until the parent closes the pipe."""
    # llama.cpp writes to fd 2 from C; the hook's output is the report, not the engine's chatter.
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    try:
        backend = factory()
    except Exception as error:
        conn.send(("error", _one_line(error)))
        return
    conn.send(("loaded", backend.name))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        messages, options = request
        try:
            conn.send(("reply", backend.chat(messages, options).text))
        except Exception as error:
            conn.send(("error", _one_line(error)))


class ModelProcess:
    """A model in a child process; every wait is bounded by the caller's deadline."""

    def __init__(self, factory: BackendFactory, label: str) -> None:
        self.name = label
        self.problem = ""
        context = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads and a console
        self._conn, child_end = context.Pipe(duplex=True)
        self._child = context.Process(target=_serve, args=(factory, child_end), daemon=True)
        self._child.start()
        child_end.close()
        self._loaded = False

    def _receive(self, deadline: float) -> tuple[str, Any] | None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.problem = "the time budget ran out " + \
                    ("before the model answered" if self._loaded else "while the model was loading")
                return None
            try:
                if self._conn.poll(min(remaining, 0.25)):
                    kind, payload = self._conn.recv()
                    return str(kind), payload
            except (EOFError, OSError):
                self.problem = "the model process ended unexpectedly"
                return None
            if not self._child.is_alive() and not self._conn.poll(0):
                self.problem = "the model process ended unexpectedly"
                return None

    def chat(self, messages: Sequence[Message], options: GenerateOptions, deadline: float) -> str | None:
        if not self._child.is_alive() and not self._loaded and not self._conn.poll(0):
            self.problem = self.problem or "the model process ended unexpectedly"
            return None
        while not self._loaded:
            message = self._receive(deadline)
            if message is None:
                return None
            kind, payload = message
            if kind == "error":
                self.problem = f"model unavailable: {payload}"
                return None
            self._loaded, self.name = True, str(payload)
        try:
            self._conn.send((list(messages), options))
        except (OSError, ValueError):
            self.problem = "the model process ended unexpectedly"
            return None
        message = self._receive(deadline)
        if message is None:
            return None
        kind, payload = message
        if kind == "error":
            self.problem = f"model failed: {payload}"
            return None
        return str(payload)

    def close(self) -> None:
        """Stop the child now, even in the middle of a generation."""
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)
        self._child.join(0.2)
        if self._child.is_alive():
            self._child.terminate()
            self._child.join(5)
        if self._child.is_alive():
            self._child.kill()
            self._child.join(5)
        self._conn.close()
