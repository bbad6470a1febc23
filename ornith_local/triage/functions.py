"""Function boundaries: which function or method a source line belongs to.

Python goes through `ast` (exact, with `Class.method` qualified names); other languages through the
repo map's tree-sitter definition queries. Lines outside any function (module level, class bodies)
belong to no function: SBFL and tracebacks only ever blame code inside one.
"""

from __future__ import annotations

import ast
import bisect
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from ornith_local.tools.repomap.languages import grammar, language_for


@dataclass(frozen=True)
class Function:
    path: str  # relative to the repo root, forward slashes
    symbol: str  # `Class.method`, `function`, `outer.inner`
    line: int  # the `def` line (after decorators)
    end_line: int


class FileFunctions:
    """The functions of one file, answering "which innermost function holds line N"."""

    def __init__(self, functions: list[Function]) -> None:
        # Sorted by start; a nested function starts after (and ends before) its parent, so the last
        # function starting at or before a line that also ends at or after it is the innermost one.
        self.functions = sorted(functions, key=lambda f: (f.line, -f.end_line))
        self._starts = [f.line for f in self.functions]

    def at(self, line: int) -> Function | None:
        index = bisect.bisect_right(self._starts, line)
        for function in reversed(self.functions[:index]):
            if function.end_line >= line:
                return function
        return None


def _python_functions(path: str, source: str) -> list[Function]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found: list[Function] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                symbol = f"{prefix}{child.name}"
                found.append(Function(path, symbol, child.lineno, child.end_lineno or child.lineno))
                visit(child, f"{symbol}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _tree_sitter_functions(path: str, source: bytes) -> list[Function]:
    language = language_for(path)
    loaded = grammar(language) if language else None
    if loaded is None:
        return []
    tree = loaded.parser().parse(source)
    spans: list[tuple[int, int, str, str]] = []  # start, end, name, kind
    for _pattern, captures in tree_sitter.QueryCursor(loaded.definitions).matches(tree.root_node):
        names = captures.get("name", [])
        kinds = [key for key in captures if key.startswith("def.")]
        if not names or not kinds:
            continue
        node = captures[kinds[0]][0]
        name = (names[0].text or b"").decode("utf-8", "replace").rsplit("::", 1)[-1]
        spans.append((node.start_point.row + 1, node.end_point.row + 1, name, kinds[0].split(".", 1)[1]))
    classes = [span for span in spans if span[3] in {"class", "interface", "type"}]
    found = []
    for start, end, name, kind in spans:
        if kind not in {"function", "method"}:
            continue
        owner = next((c[2] for c in reversed(classes) if c[0] <= start and end <= c[1]), None)
        found.append(Function(path, f"{owner}.{name}" if owner else name, start, end))
    return found


@functools.lru_cache(maxsize=4096)
def _load(root: str, path: str, mtime_ns: int) -> FileFunctions:
    file = Path(root) / path
    try:
        data = file.read_bytes()
    except OSError:
        return FileFunctions([])
    if path.endswith((".py", ".pyi")):
        return FileFunctions(_python_functions(path, data.decode("utf-8", "replace")))
    return FileFunctions(_tree_sitter_functions(path, data))


class FunctionIndex:
    """Function boundaries for the files of one repo, parsed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, path: str) -> FileFunctions:
        try:
            mtime = (self.root / path).stat().st_mtime_ns
        except OSError:
            return FileFunctions([])
        return _load(str(self.root), path, mtime)

    def at(self, path: str, line: int) -> Function | None:
        return self.file(path).at(line)

    def all(self, path: str) -> Iterator[Function]:
        yield from self.file(path).functions
