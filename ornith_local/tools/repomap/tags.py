"""One file's definitions (name, kind, line, signature) and the names it references."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import tree_sitter

from ornith_local.tools.repomap.languages import Grammar

MAX_SIGNATURE_LINES = 4
MAX_SIGNATURE_CHARS = 160


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # function | method | class | interface | type | module | macro
    line: int  # 1-based
    signature: str  # the source lines that introduce it (up to where its body starts)


@dataclass
class FileTags:
    language: str
    definitions: list[Definition] = field(default_factory=list)
    references: Counter[str] = field(default_factory=Counter)


def _signature(lines: list[bytes], node: tree_sitter.Node) -> str:
    start = node.start_point.row
    body = node.child_by_field_name("body")
    end = body.start_point.row if body is not None and body.start_point.row > start else start + 1
    end = min(end, start + MAX_SIGNATURE_LINES, len(lines))
    shown: list[str] = []
    for raw in lines[start:max(end, start + 1)]:
        line = raw.decode("utf-8", "replace").rstrip()
        if shown and line.lstrip().startswith(("#", "//", "/*")):
            break  # a comment before the body, not part of the signature
        shown.append(line if len(line) <= MAX_SIGNATURE_CHARS else line[:MAX_SIGNATURE_CHARS] + "…")
    return "\n".join(shown)


def extract(source: bytes, grammar: Grammar) -> FileTags:
    tree = grammar.parser().parse(source)
    lines = source.split(b"\n")
    tags = FileTags(grammar.name)
    name_spans: set[int] = set()
    for _pattern, captures in tree_sitter.QueryCursor(grammar.definitions).matches(tree.root_node):
        names = captures.get("name", [])
        kinds = [key for key in captures if key.startswith("def.")]
        if not names or not kinds:
            continue
        name_node = names[0]
        node = captures[kinds[0]][0]
        text = (name_node.text or b"").decode("utf-8", "replace")
        name = text.rsplit("::", 1)[-1].lstrip("~")  # C++ `Foo::bar` and destructors define `bar` / `Foo`
        if not name:
            continue
        name_spans.add(name_node.start_byte)
        kind = kinds[0].split(".", 1)[1]
        tags.definitions.append(Definition(name, kind, node.start_point.row + 1, _signature(lines, node)))
    tags.definitions.sort(key=lambda d: d.line)
    for node in tree_sitter.QueryCursor(grammar.references).captures(tree.root_node).get("ref", []):
        if node.start_byte not in name_spans and node.text:
            tags.references[node.text.decode("utf-8", "replace")] += 1
    return tags
