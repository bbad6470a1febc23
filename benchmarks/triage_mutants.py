"""Single-line bug injection for the triage evaluation: mutation sites found with `ast`, applied as text.

Each operator rewrites part of one line and never adds or removes a line, so coverage line numbers and
function boundaries of the pristine tree stay valid for the mutant:
- cmp: a flipped comparison (< <=, > >=, == !=, is / is not, in / not in)
- arith: + and - swapped, * and / swapped, // and % become * and //
- bool: and / or swapped
- off-by-one: an integer literal 0..9 becomes n + 1
- negation: `not x` becomes `x`
- return: `return X` becomes `return None` (`return True` / `False` flip)
- swap-args: the first two positional arguments of a one-line call trade places
- remove: a one-line statement in a body of several becomes `pass`
Sites inside a function carry that function's symbol; sites at module level or in a class body run at
import time and carry the symbol "<module>".
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ornith_local.triage.failures import is_test_path
from ornith_local.triage.functions import FunctionIndex

MODULE = "<module>"
_CMP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
        ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
        ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
_ARITH: dict[type[ast.operator], tuple[str, str]] = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"),
                                                     ast.Div: ("/", "*"), ast.FloorDiv: ("//", "*"),
                                                     ast.Mod: ("%", "//")}
_SIMPLE_ARG = (ast.Name, ast.Constant, ast.Attribute)
_SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "docs", "doc", "examples", "benchmarks", ".tox"}
_SKIP_FILES = {"setup.py", "noxfile.py", "conftest.py", "_version.py", "version.py", "__main__.py"}


@dataclass(frozen=True)
class Site:
    path: str  # relative to the package root
    line: int
    start: int  # column range of the text replaced on that line
    end: int
    replacement: str
    operator: str
    symbol: str  # the enclosing function as triage names it, or "<module>" for import-time code

    @property
    def import_time(self) -> bool:
        return self.symbol == MODULE

    def describe(self, original: str) -> str:
        return f"{self.path}:{self.line} {self.symbol} [{self.operator}] {original[self.start:self.end]!r} -> " \
               f"{self.replacement!r}"


def _token_site(line_text: str, span: tuple[int, int], token: str, new: str) -> tuple[int, int, str] | None:
    """The operator token between two operands (columns `span`) on one line."""
    text = line_text[span[0]:span[1]]
    pattern = r"\bnot\s+in\b|\bis\s+not\b" if token in {"not in", "is not"} else \
        (rf"\b{token}\b" if token.isalpha() else re.escape(token))
    match = re.search(pattern, text)
    if match is None or (token == "in" and re.search(r"\bnot\s+in\b", text)) or \
            (token == "is" and re.search(r"\bis\s+not\b", text)):
        return None
    after = text[match.end():match.end() + 1]
    if token in {"<", ">", "/", "*"} and after in {"=", "/", "*"}:
        return None
    return span[0] + match.start(), span[0] + match.end(), new


def _one_line(node: ast.AST) -> bool:
    return getattr(node, "lineno", None) is not None and node.lineno == getattr(node, "end_lineno", None) \
        and getattr(node, "end_col_offset", None) is not None  # type: ignore[attr-defined]


def _edits(node: ast.AST, lines: list[str]) -> list[tuple[int, tuple[int, int, str], str]]:
    """(line, (start, end, replacement), operator) for every mutation this node offers."""
    found: list[tuple[int, tuple[int, int, str], str]] = []
    if not _one_line(node):
        return found
    row: int = node.lineno  # type: ignore[attr-defined]
    text = lines[row - 1]

    def between(a: ast.expr, b: ast.expr, token: str, new: str, operator: str) -> None:
        if a.end_lineno == row and b.lineno == row and a.end_col_offset is not None:
            edit = _token_site(text, (a.end_col_offset, b.col_offset), token, new)
            if edit is not None:
                found.append((row, edit, operator))

    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            token, new = _CMP[type(op)]
            between(operands[index], operands[index + 1], token, new, "cmp")
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        token, new = _ARITH[type(node.op)]
        if not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):  # "%s" % x formats
            between(node.left, node.right, token, new, "arith")
    elif isinstance(node, ast.BoolOp):
        token, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        between(node.values[0], node.values[1], token, new, "bool")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and node.operand.lineno == row:
        if text[node.col_offset:node.operand.col_offset].strip() == "not":
            found.append((row, (node.col_offset, node.operand.col_offset, ""), "negation"))
    elif isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 9 \
            and node.end_col_offset is not None and text[node.col_offset:node.end_col_offset] == str(node.value):
        found.append((row, (node.col_offset, node.end_col_offset, str(node.value + 1)), "off-by-one"))
    elif isinstance(node, ast.Return) and node.value is not None and node.value.end_col_offset is not None:
        value = node.value
        if not (isinstance(value, ast.Constant) and value.value is None):
            new = {True: "False", False: "True"}.get(value.value, "None") \
                if isinstance(value, ast.Constant) and isinstance(value.value, bool) else "None"
            found.append((row, (value.col_offset, value.end_col_offset, new), "return"))
    elif isinstance(node, ast.Call) and len(node.args) >= 2 and not node.keywords \
            and all(isinstance(arg, _SIMPLE_ARG) and _one_line(arg) for arg in node.args[:2]):
        first, second = node.args[0], node.args[1]
        a = text[first.col_offset:first.end_col_offset]
        b = text[second.col_offset:second.end_col_offset]
        if a != b and first.end_col_offset is not None and second.end_col_offset is not None \
                and text[first.end_col_offset:second.col_offset].strip() == ",":
            middle = text[first.end_col_offset:second.col_offset]
            found.append((row, (first.col_offset, second.end_col_offset, b + middle + a), "swap-args"))
    return found


def _removable(body: list[ast.stmt], lines: list[str]) -> list[tuple[int, tuple[int, int, str], str]]:
    found: list[tuple[int, tuple[int, int, str], str]] = []
    if len(body) < 2:
        return found
    for statement in body:
        if isinstance(statement, ast.Assign | ast.AugAssign | ast.Expr | ast.Raise | ast.Delete) \
                and _one_line(statement) and not (isinstance(statement, ast.Expr)
                                                  and isinstance(statement.value, ast.Constant)):
            text = lines[statement.lineno - 1]
            after = text[statement.end_col_offset or 0:].strip()
            if text[:statement.col_offset].strip() == "" and (after == "" or after.startswith("#")):
                found.append((statement.lineno, (statement.col_offset, statement.end_col_offset or 0, "pass"),
                              "remove"))
    return found


def sites_in_file(root: Path, path: str, functions: FunctionIndex) -> list[Site]:
    source = (root / path).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found: list[Site] = []
    # Docstrings, annotations and `if TYPE_CHECKING` blocks are no place for a bug a test can see.
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if isinstance(annotation, ast.AST) and annotation.end_lineno is not None:
                skipped.update(range(annotation.lineno, annotation.end_lineno + 1))
    for node in ast.walk(tree):
        edits = _edits(node, lines)
        for field_name in ("body", "orelse", "finalbody"):
            body = getattr(node, field_name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                edits += _removable(body, lines)
        for line, edit, operator in edits:
            if line in skipped or not lines[line - 1].isascii():  # ast columns count UTF-8 bytes
                continue
            function = functions.at(path, line)
            if function is not None and line == function.line:
                continue  # the `def` line: default values, a decorator's arguments
            found.append(Site(path, line, edit[0], edit[1], edit[2], operator,
                              function.symbol if function else MODULE))
    return list(dict.fromkeys(found))


def source_files(root: Path) -> list[str]:
    files = []
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root).as_posix()
        if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in relative.split("/")[:-1]):
            continue
        if not is_test_path(relative) and file.name not in _SKIP_FILES and not file.name.startswith("ornith_"):
            files.append(relative)
    return files


def sample_sites(root: Path, rng: random.Random, files: list[str] | None = None) -> list[Site]:
    """Every site, shuffled so operators alternate (cmp, return, remove, ...) rather than cluster."""
    functions = FunctionIndex(root)
    by_operator: dict[str, list[Site]] = {}
    for path in files if files is not None else source_files(root):
        for site in sites_in_file(root, path, functions):
            by_operator.setdefault(site.operator, []).append(site)
    for sites in by_operator.values():
        rng.shuffle(sites)
    operators = sorted(by_operator)
    rng.shuffle(operators)
    ordered: list[Site] = []
    while any(by_operator.values()):
        for operator in operators:
            if by_operator[operator]:
                ordered.append(by_operator[operator].pop())
    return ordered


def apply_site(root: Path, site: Site) -> str:
    """Write the mutant; returns the original line."""
    file = root / site.path
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    original = lines[site.line - 1]
    lines[site.line - 1] = original[:site.start] + site.replacement + original[site.end:]
    file.write_text("".join(lines), encoding="utf-8")
    return original


def restore(root: Path, site: Site, original: str) -> None:
    file = root / site.path
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[site.line - 1] = original
    file.write_text("".join(lines), encoding="utf-8")
