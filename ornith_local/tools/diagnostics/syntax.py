"""Does the file still parse? Python through the interpreter's own compiler; other languages through the
tree-sitter grammars the repo map already uses (ERROR and MISSING nodes).

In-process and fast (milliseconds), so it runs first and always; a file that no longer parses makes the
linters' findings noise, and the model needs to hear about the broken syntax before anything else.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import tree_sitter

from ornith_local.tools.diagnostics.base import Diagnostic
from ornith_local.tools.repomap.languages import grammar, language_for

MAX_SYNTAX_ITEMS = 5  # past the first few, tree-sitter's error nodes are echoes of the same mistake


def parses(path: str, text: str) -> bool | None:
    """Whether `text` parses as the language of `path`; None when no grammar knows the language."""
    if language_for(path) is None:
        return None
    return not syntax_errors(path, text)


def syntax_errors(path: str, text: str) -> list[Diagnostic]:
    """The syntax errors of `text` as the content of `path` ([] when it parses or the language is unknown)."""
    language = language_for(path)
    if language == "python":
        return _python_errors(path, text)
    found = grammar(language) if language else None
    if found is None:
        return []
    tree = found.parser().parse(text.encode("utf-8", errors="surrogatepass"))
    return _tree_errors(tree.root_node) if tree.root_node.has_error else []


def _python_errors(path: str, text: str) -> list[Diagnostic]:
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" and friends are not syntax errors
            warnings.simplefilter("ignore")
            compile(text, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:  # IndentationError and TabError are SyntaxErrors too
        return [Diagnostic(line=error.lineno or 1, column=error.offset or 1, message=error.msg, source="syntax",
                           code=type(error).__name__)]
    except ValueError as error:  # source with a NUL byte
        return [Diagnostic(line=1, column=1, message=str(error), source="syntax", code="SyntaxError")]
    return []


def _tree_errors(root: tree_sitter.Node) -> list[Diagnostic]:
    """ERROR and MISSING nodes, outermost first; the subtree of an ERROR node is not searched again."""
    found: list[Diagnostic] = []
    stack = [root]
    while stack and len(found) < MAX_SYNTAX_ITEMS:
        node = stack.pop()
        if not node.has_error:
            continue
        line, column = node.start_point.row + 1, node.start_point.column + 1
        if node.is_missing:
            found.append(Diagnostic(line, column, f"missing {node.type}", "syntax", "SyntaxError"))
        elif node.is_error:
            snippet = (node.text or b"").decode("utf-8", errors="replace").strip().splitlines()[:1]
            near = f" near {snippet[0][:40]!r}" if snippet and snippet[0] else ""
            found.append(Diagnostic(line, column, f"unexpected syntax{near}", "syntax", "SyntaxError"))
        else:
            stack.extend(reversed(node.children))
    return sorted(found, key=lambda d: (d.line, d.column))


class SyntaxSource:
    """The syntax check as a `DiagnosticsSource` (no server; nothing to close)."""

    name = "syntax"

    def applies(self, path: Path) -> bool:
        language = language_for(path.name)
        return language == "python" or (language is not None and grammar(language) is not None)

    def check(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        return syntax_errors(path.name, text)

    def close(self) -> None:
        return None
