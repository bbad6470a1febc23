"""`Diagnostics`: after an edit, the problems the edit introduced, within a time budget.

The syntax check runs first (in-process, milliseconds). A file that no longer parses is reported as such and
the linters are skipped: they would only repeat the parse error. A file that parses goes to the project's own
checkers (ruff, pyright, ESLint in the sandbox), each asked about the text before the edit (remembered from the
previous edit when it is the same text) and after it; only what is new is reported, capped. A checker that does
not answer before the budget runs out is named in a "timed out" note and the edit stands.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ornith_local.config.settings import DiagnosticsSettings
from ornith_local.sandbox import Sandbox
from ornith_local.tools.diagnostics.base import (
    Diagnostic,
    DiagnosticsReport,
    DiagnosticsSource,
    DiagnosticsTimeout,
    capped,
    new_since,
)
from ornith_local.tools.diagnostics.eslint import EslintSource, eslint_configured
from ornith_local.tools.diagnostics.lsp import LanguageServerSource, LoopThread
from ornith_local.tools.diagnostics.project import (
    PY_SUFFIXES,
    executable,
    pyright_configured,
    pyright_server,
    ruff_configured,
)
from ornith_local.tools.diagnostics.syntax import SyntaxSource
from ornith_local.tools.diagnostics.typescript import TypeScriptSource, typescript_configured

MAX_TIMEOUTS = 3  # a checker that missed this many edits' budgets in a row is dropped for the rest of the run


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


class Diagnostics:
    """The checks every edit of one run goes through; `close()` shuts down the servers they started."""

    def __init__(self, syntax: DiagnosticsSource, linters: Sequence[DiagnosticsSource], *, time_budget_s: float = 3.0,
                 max_items: int = 10, loop: LoopThread | None = None) -> None:
        self.syntax = syntax
        self.linters = list(linters)
        self.time_budget_s = time_budget_s
        self.max_items = max_items
        self._loop = loop
        self._dropped: set[str] = set()  # sources that could not run: not tried again this run
        self._timeouts: dict[str, int] = {}  # source -> timeouts in a row
        # (source, path) -> the digest of the text last checked and its findings: the next edit's "before".
        self._last: dict[tuple[str, str], tuple[str, list[Diagnostic]]] = {}
        self._parsed_at_start: dict[str, bool] = {}  # path -> whether it parsed before the run's first edit of it

    def after_edit(self, path: Path, rel: str, before: str | None, after: str) -> DiagnosticsReport:
        """What the edit from `before` (None: a new file) to `after` of `path` (shown as `rel`) introduced."""
        deadline = time.monotonic() + self.time_budget_s
        found: list[Diagnostic] = []
        timed_out: list[str] = []
        before_parses = True
        if self.syntax.applies(path):
            broken = self._syntax(path, after, deadline)
            old_broken = self._syntax(path, before, deadline) if before is not None else []
            parsed_at_start = self._parsed_at_start.setdefault(str(path), not old_broken)
            if broken:  # the linters would only say the same; the model must fix the syntax first
                if before is not None and not old_broken:
                    self._remember(path, before, deadline)  # what the repair will be judged against
                report = self._report(rel, new_since(old_broken, broken), timed_out)
                if not report.new and parsed_at_start:  # broken by this run, and this edit did not mend it
                    return replace(report, still_broken=capped(broken, self.max_items)[0])
                return report
            before_parses = not old_broken
        for source in self.linters:
            if source.name in self._dropped or not source.applies(path):
                continue
            try:
                old = self._before(source, path, before, before_parses, deadline)
                found += new_since(old, self._findings(source, path, after, deadline))
                self._timeouts[source.name] = 0
            except DiagnosticsTimeout as timeout:
                if timeout.starting:  # a slow start (pyright indexing) is not a slow server: not counted
                    timed_out.append(f"{source.name} (still starting)")
                    continue
                timed_out.append(source.name)
                self._timeouts[source.name] = self._timeouts.get(source.name, 0) + 1
                if self._timeouts[source.name] >= MAX_TIMEOUTS:  # it is not going to keep up this run
                    self._drop(source)
            except Exception:  # SourceUnavailable, or a checker's own failure: either way it never fails an edit
                self._drop(source)
        return self._report(rel, found, timed_out)

    def _drop(self, source: DiagnosticsSource) -> None:
        self._dropped.add(source.name)
        with contextlib.suppress(Exception):
            source.close()

    def _syntax(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        try:
            return self.syntax.check(path, text, deadline)
        except Exception:  # a grammar that fails on odd input says nothing, rather than failing the edit
            return []

    def _remember(self, path: Path, text: str, deadline: float) -> None:
        """Check the last text that parsed with every linter that has no findings of it yet (best effort)."""
        for source in self.linters:
            if source.name not in self._dropped and source.applies(path):
                with contextlib.suppress(Exception):  # a timeout or a failure here only costs the memory
                    self._findings(source, path, text, deadline)

    def _before(self, source: DiagnosticsSource, path: Path, before: str | None, parses: bool,
                deadline: float) -> list[Diagnostic]:
        """The findings the edit is judged against. A repair of broken syntax is judged against the last text of
        the file that parsed (what the linters saw before it broke), not against a parse error: otherwise every
        old finding would look new the moment the file parses again."""
        if before is None:
            return []
        remembered = self._last.get((source.name, str(path)))
        if not parses and remembered is not None:
            return remembered[1]
        return self._findings(source, path, before, deadline)

    def _findings(self, source: DiagnosticsSource, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        key, digest = (source.name, str(path)), _digest(text)
        remembered = self._last.get(key)
        if remembered is not None and remembered[0] == digest:
            return remembered[1]
        if time.monotonic() >= deadline:
            raise DiagnosticsTimeout
        findings = source.check(path, text, deadline)
        self._last[key] = (digest, findings)
        return findings

    def _report(self, rel: str, found: list[Diagnostic], timed_out: list[str]) -> DiagnosticsReport:
        shown, more = capped(found, self.max_items)
        return DiagnosticsReport(rel, shown, more, tuple(timed_out), self.time_budget_s)

    def close(self) -> None:
        """Shut down every server this run started (idempotent)."""
        for source in self.linters:
            with contextlib.suppress(Exception):
                source.close()
        if self._loop is not None:
            self._loop.close()


def open_diagnostics(root: Path, settings: DiagnosticsSettings, sandbox: Sandbox | None = None) -> Diagnostics | None:
    """The checks the project at `root` configures, or None when diagnostics are switched off.

    Nothing starts here: a server starts at the first edit of a file it covers. `sandbox`: where checkers that
    run the project's own code (ESLint loads its JavaScript config) run; without one they are left out.
    """
    if not settings.enabled:
        return None
    root = root.resolve()
    loop = LoopThread()
    linters: list[DiagnosticsSource] = []
    ruff = executable("ruff")
    if ruff and ruff_configured(root):
        linters.append(LanguageServerSource("ruff", [ruff, "server"], root, PY_SUFFIXES, "python", loop))
    pyright = pyright_server()
    if pyright and pyright_configured(root):
        linters.append(LanguageServerSource("pyright", pyright, root, PY_SUFFIXES, "python", loop))
    # Never bare: on the fallback tier every command needs the user's approval, and this one would not ask.
    if sandbox is not None and not sandbox.unsandboxed and eslint_configured(root):
        linters.append(EslintSource(root, sandbox))
    if sandbox is not None and not sandbox.unsandboxed and typescript_configured(root) and (node := executable("node")):
        linters.append(TypeScriptSource(root, sandbox, node))
    return Diagnostics(SyntaxSource(), linters, time_budget_s=settings.time_budget_s, max_items=settings.max_items,
                       loop=loop)
