"""Single-line bug injection for the triage evaluation: mutation sites found with `ast`, applied as text.

Operators, each a one-line edit inside a function body:
- cmp: a flipped comparison (< <=, > >=, == !=, is / is not, in / not in)
- off-by-one: an integer literal 0..9 becomes n + 1
- arith: + and - swapped
- bool: and / or swapped
- return: `return X` becomes `return None` (`return True` / `False` flip)
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ornith_local.triage.failures import is_test_path
from ornith_local.triage.functions import Function, FunctionIndex

_CMP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
        ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
        ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
_SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "docs", "doc", "examples", "benchmarks", ".tox"}


@dataclass(frozen=True)
class Site:
    path: str  # relative to the package root
    line: int
    start: int  # column range of the text replaced on that line
    end: int
    replacement: str
    operator: str
    symbol: str  # the enclosing function, as triage names it

    def describe(self, original: str) -> str:
        return f"{self.path}:{self.line} {self.symbol} [{self.operator}] {original[self.start:self.end]!r} -> " \
               f"{self.replacement!r}"


def _between(lines: list[str], a: ast.expr, b: ast.expr) -> tuple[int, int] | None:
    """Columns of the text between two expressions on one line (where an operator token sits)."""
    if a.end_lineno != b.lineno or a.end_col_offset is None:
        return None
    return a.end_col_offset, b.col_offset


def _operator_site(lines: list[str], span: tuple[int, int] | None, line: int, token: str, new: str,
                   ) -> tuple[int, int, str] | None:
    if span is None:
        return None
    text = lines[line - 1][span[0]:span[1]]
    pattern = r"\bnot\s+in\b|\bis\s+not\b" if token in {"not in", "is not"} else \
        (rf"\b{token}\b" if token.isalpha() else re.escape(token))
    match = re.search(pattern, text)
    if match is None or (token == "in" and re.search(r"\bnot\s+in\b", text)) or \
            (token == "is" and re.search(r"\bis\s+not\b", text)):
        return None
    if token in {"<", ">"} and text[match.end():match.end() + 1] == "=":
        return None
    return span[0] + match.start(), span[0] + match.end(), new


def sites_in_file(root: Path, path: str, functions: FunctionIndex) -> list[Site]:
    source = (root / path).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found: list[Site] = []

    def add(line: int, edit: tuple[int, int, str] | None, operator: str) -> None:
        function = functions.at(path, line)
        if edit is None or function is None or line == function.line:
            return
        found.append(Site(path, line, edit[0], edit[1], edit[2], operator, function.symbol))

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and node.lineno == node.end_lineno:
            operands = [node.left, *node.comparators]
            for index, op in enumerate(node.ops):
                token, new = _CMP[type(op)]
                add(node.lineno, _operator_site(lines, _between(lines, operands[index], operands[index + 1]),
                                                node.lineno, token, new), "cmp")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub) and node.lineno == node.end_lineno:
            token, new = ("+", "-") if isinstance(node.op, ast.Add) else ("-", "+")
            add(node.lineno, _operator_site(lines, _between(lines, node.left, node.right), node.lineno, token, new),
                "arith")
        elif isinstance(node, ast.BoolOp) and node.lineno == node.end_lineno:
            token, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            add(node.lineno, _operator_site(lines, _between(lines, node.values[0], node.values[1]), node.lineno,
                                            token, new), "bool")
        elif isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 9 \
                and node.lineno == node.end_lineno and node.end_col_offset is not None:
            add(node.lineno, (node.col_offset, node.end_col_offset, str(node.value + 1)), "off-by-one")
        elif isinstance(node, ast.Return) and node.value is not None and node.value.lineno == node.value.end_lineno \
                and node.value.end_col_offset is not None:
            value = node.value
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            new = {True: "False", False: "True"}.get(value.value, "None") if isinstance(value, ast.Constant) \
                and isinstance(value.value, bool) else "None"
            add(value.lineno, (value.col_offset, value.end_col_offset or value.col_offset, new), "return")
    return found


def source_files(root: Path) -> list[str]:
    files = []
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root).as_posix()
        if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in relative.split("/")[:-1]):
            continue
        if not is_test_path(relative) and file.name not in {"setup.py", "noxfile.py", "conftest.py"}:
            files.append(relative)
    return files


def sample_sites(root: Path, rng: random.Random) -> list[Site]:
    """Every site, shuffled so operators alternate (cmp, return, off-by-one, ...) rather than cluster."""
    functions = FunctionIndex(root)
    by_operator: dict[str, list[Site]] = {}
    for path in source_files(root):
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


def decoy_lines(root: Path, functions: list[Function]) -> list[tuple[str, int]]:
    """A line in each of `functions` that can take a harmless trailing comment: a one-line statement."""
    chosen: list[tuple[str, int]] = []
    for function in functions:
        tree = ast.parse((root / function.path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno == function.line:
                body = [s for s in node.body if s.lineno == s.end_lineno and not isinstance(s, ast.Expr)]
                if body:
                    chosen.append((function.path, body[0].lineno))
                break
    return chosen


def apply_decoy(root: Path, path: str, line: int) -> None:
    file = root / path
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    text = lines[line - 1].rstrip("\r\n")
    if "#" not in text and not text.endswith("\\"):
        lines[line - 1] = text + "  # reviewed\n"
        file.write_text("".join(lines), encoding="utf-8")
