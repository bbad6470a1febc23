"""Diagnostics after every edit: the syntax and lint/type errors an edit introduced, shown in its result.

Syntax first (Python's compiler, tree-sitter for other languages), then the project's own configured checkers:
ruff and pyright through their language servers (pygls's LSP client), ESLint and the TypeScript compiler
in the run's sandbox.

`open_diagnostics(root, settings, sandbox)` builds the run's `Diagnostics` from the project's own configuration;
`edit_file` and `write_file` get it at construction and call `after_edit`; the run closes it at its end.
"""

from ornith_local.tools.diagnostics.base import (
    Diagnostic,
    DiagnosticsReport,
    DiagnosticsSource,
    DiagnosticsTimeout,
    SourceUnavailable,
    new_since,
)
from ornith_local.tools.diagnostics.checker import Diagnostics, open_diagnostics
from ornith_local.tools.diagnostics.eslint import EslintSource
from ornith_local.tools.diagnostics.lsp import LanguageServerSource, LoopThread
from ornith_local.tools.diagnostics.syntax import SyntaxSource, parses, syntax_errors
from ornith_local.tools.diagnostics.typescript import TypeScriptSource

__all__ = [
    "Diagnostic",
    "Diagnostics",
    "DiagnosticsReport",
    "DiagnosticsSource",
    "DiagnosticsTimeout",
    "EslintSource",
    "LanguageServerSource",
    "LoopThread",
    "SourceUnavailable",
    "SyntaxSource",
    "TypeScriptSource",
    "new_since",
    "open_diagnostics",
    "parses",
    "syntax_errors",
]
