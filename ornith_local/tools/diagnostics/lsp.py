"""Findings from a language server (`ruff server`, `pyright-langserver --stdio`) through pygls's LSP client.

A run's servers share one asyncio loop in a daemon thread: the tools are synchronous, the client is not.
Each server starts at the first edit of a file it covers, stays warm for the run's later edits, and is shut
down when the run ends (`close()`). A check sends the whole text (didOpen, then didChange) and asks for
the document's diagnostics (the 3.17 pull request) where the server offers it, else waits for the
`publishDiagnostics` notification of that version. Every wait ends at the edit's deadline: a slow or silent
server costs that edit its findings, never the turn.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ForwardRef, TypeVar, get_args

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import default_converter

from ornith_local.tools.diagnostics.base import Diagnostic, DiagnosticsTimeout, SourceUnavailable

if TYPE_CHECKING:
    import cattrs

T = TypeVar("T")
# pygls logs a server's oddities (unknown notifications, a message it cannot parse) as warnings with tracebacks;
# without a handler of the user's they would land on the terminal in the middle of the run.
logging.getLogger("pygls").addHandler(logging.NullHandler())
# What servers tell a client that shows a UI; ornith has nothing to show them in.
IGNORED_NOTIFICATIONS = (types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE, types.TELEMETRY_EVENT, types.PROGRESS)
SHUTDOWN_WAIT_S = 2.0  # for a polite shutdown; then the server is killed
START_LIMIT_S = 30.0  # a server not up this long after its start is given up on for the run
_SEVERITIES = {types.DiagnosticSeverity.Error: "error", types.DiagnosticSeverity.Warning: "warning"}


class LoopThread:
    """One event loop in a daemon thread, started on first use, for every language server of a run."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="ornith-lsp", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=SHUTDOWN_WAIT_S)
        if not thread.is_alive():
            loop.close()


def _is_notebook_filter(annotation: Any) -> bool:
    return any(arg in (types.NotebookDocumentFilterNotebookType, ForwardRef("NotebookDocumentFilterNotebookType"))
               for arg in get_args(annotation))


def converter() -> cattrs.Converter:
    """pygls's converter, able to read a server's notebook selector: with cattrs 26, lsprotocol 2025.0 has no
    hook for its filter union, and `ruff server`'s initialize answer (which has one) fails to parse. Ornith
    never opens notebooks, so the value is kept as sent."""
    made: cattrs.Converter = default_converter()  # type: ignore[no-untyped-call]
    made.register_structure_hook_func(_is_notebook_filter, lambda value, _annotation: value)
    return made


def wait_until(future: concurrent.futures.Future[T], deadline: float) -> T:
    """The future's result, DiagnosticsTimeout past `deadline`, SourceUnavailable when it failed."""
    try:
        return future.result(timeout=max(deadline - time.monotonic(), 0.0))
    except concurrent.futures.TimeoutError:
        raise DiagnosticsTimeout from None
    except Exception as error:  # the server would not start, crashed, or answered with an error: any of them
        raise SourceUnavailable(str(error) or type(error).__name__) from None


def to_diagnostic(item: types.Diagnostic, source: str) -> Diagnostic | None:
    """Ours from the protocol's; None for hints and information (unused-variable greying, not problems)."""
    severity = _SEVERITIES.get(item.severity or types.DiagnosticSeverity.Error)
    if severity is None:
        return None
    code = "" if item.code is None else str(item.code)
    message = item.message.strip().splitlines()[0] if item.message.strip() else "(no message)"
    return Diagnostic(line=item.range.start.line + 1, column=item.range.start.character + 1, message=message,
                      source=source, code=code, severity="error" if severity == "error" else "warning")


class LanguageServerSource:
    """A `DiagnosticsSource` backed by one language server process for the workspace `root`."""

    def __init__(self, name: str, argv: Sequence[str], root: Path, suffixes: frozenset[str], language_id: str,
                 loop: LoopThread, env: Mapping[str, str] | None = None, start_limit_s: float = START_LIMIT_S) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.root = root
        self.suffixes = suffixes
        self.language_id = language_id
        self._loop = loop
        self._env = dict(env) if env is not None else None
        self.start_limit_s = start_limit_s
        self._start_time = 0.0
        self._client: LanguageClient | None = None
        self._started: concurrent.futures.Future[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._pull = False
        self._versions: dict[str, int] = {}
        self._published: dict[str, tuple[int | None, list[types.Diagnostic]]] = {}
        self._waiters: list[tuple[str, int, asyncio.Future[list[types.Diagnostic]]]] = []

    def applies(self, path: Path) -> bool:
        return path.suffix.lower() in self.suffixes

    def check(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        started = self.start()
        try:
            wait_until(started, deadline)  # a slow start costs this edit; the next one finds it warm
        except DiagnosticsTimeout:
            if time.monotonic() - self._start_time > self.start_limit_s:
                raise SourceUnavailable(f"{self.name} did not start within {self.start_limit_s:g} s") from None
            raise DiagnosticsTimeout(starting=True) from None
        pending = self._loop.submit(self._diagnose(path.resolve().as_uri(), text))
        try:
            items = wait_until(pending, deadline)
        except DiagnosticsTimeout:
            pending.cancel()
            raise
        return [found for item in items if (found := to_diagnostic(item, self.name)) is not None]

    def start(self) -> concurrent.futures.Future[None]:
        """Start the server in the background (once); the future is done when it has answered `initialize`."""
        if self._started is None:
            self._start_time = time.monotonic()
            self._started = self._loop.submit(self._start())
        return self._started

    async def _start(self) -> None:
        client = LanguageClient("ornith-local", "1", converter_factory=converter)

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)  # type: ignore[untyped-decorator]
        def published(params: types.PublishDiagnosticsParams) -> None:
            self._published[params.uri] = (params.version, list(params.diagnostics))
            for waiter in list(self._waiters):
                uri, version, future = waiter
                if uri == params.uri and (params.version is None or params.version >= version):
                    self._waiters.remove(waiter)
                    if not future.done():
                        future.set_result(list(params.diagnostics))

        for method in IGNORED_NOTIFICATIONS:
            client.feature(method)(_ignore)
        self._client = client
        await client.start_io(self.argv[0], *self.argv[1:], cwd=str(self.root), env=self._env)
        self._process = getattr(client, "_server", None)  # pygls keeps the process it started here
        if self._process is not None and self._process.stderr is not None:
            # Its log goes to a pipe nobody else reads: drained, so a chatty server never blocks on it.
            client._async_tasks.append(asyncio.create_task(_drain(self._process.stderr)))
        uri = self.root.resolve().as_uri()
        result = await client.initialize_async(types.InitializeParams(
            process_id=None, root_uri=uri,
            workspace_folders=[types.WorkspaceFolder(uri=uri, name=self.root.name)],
            capabilities=types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
                diagnostic=types.DiagnosticClientCapabilities(),
                publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True)))))
        self._pull = result.capabilities.diagnostic_provider is not None
        client.initialized(types.InitializedParams())

    async def _diagnose(self, uri: str, text: str) -> list[types.Diagnostic]:
        client = self._client
        if client is None or client.stopped:
            raise RuntimeError(f"{self.name} is not running")
        version = self._versions.get(uri, 0) + 1
        self._versions[uri] = version
        future: asyncio.Future[list[types.Diagnostic]] = asyncio.get_running_loop().create_future()
        if not self._pull:
            self._waiters.append((uri, version, future))
        if version == 1:
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id=self.language_id, version=version, text=text)))
        else:
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangeWholeDocument(text=text)]))
        if not self._pull:
            try:
                return await future
            finally:
                self._waiters = [waiter for waiter in self._waiters if waiter[2] is not future]
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        if isinstance(report, types.RelatedFullDocumentDiagnosticReport):
            return list(report.items)
        return list(self._published.get(uri, (None, []))[1])  # "unchanged": what it said last time

    def close(self) -> None:
        started, self._started = self._started, None
        if started is None:
            return
        polite = started.done() and not started.cancelled() and started.exception() is None
        if not polite:
            started.cancel()
            self._kill()  # it never finished starting: nothing to be polite to
        with contextlib.suppress(Exception):  # the run is ending; a server that will not stop is killed
            self._loop.submit(self._stop(polite)).result(timeout=SHUTDOWN_WAIT_S * 3)
        self._kill()

    async def _stop(self, polite: bool) -> None:
        client, process = self._client, self._process
        if client is None:
            return
        if polite and not client.stopped and process is not None and process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.shutdown_async(None), SHUTDOWN_WAIT_S)
                client.exit(None)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), SHUTDOWN_WAIT_S)
        self._kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), SHUTDOWN_WAIT_S)  # type: ignore[no-untyped-call]

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()


def _ignore(params: object) -> None:
    return None


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
