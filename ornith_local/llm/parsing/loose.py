"""Tool calls written without the format's markup, as small models often write them.

Qwen2.5-Coder 1.5B, prompted with its own Hermes template, answers with a ```json-fenced (or bare)
{"name": ..., "arguments": {...}} instead of <tool_call> tags, often with Python triple-quoted strings
for code (three double quotes around an old_string), and sometimes goes on after the call, writing the next
user message itself. These helpers recover the calls and say which part of such a reply to keep.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ornith_local.llm.parsing.stream import parse_output
from ornith_local.llm.parsing.types import ParsedOutput

_CALL_START = re.compile(r'\{\s*"name"\s*:')
# A value written as a Python triple-quoted string: it ends at the first """ after which the object goes on
# (a comma, the next key, or the closing brace), so docstrings inside the code do not end it.
_TRIPLE_QUOTED = re.compile(r'(:\s*)"""(.*?)"""(?=\s*(,|"[A-Za-z_]\w*"\s*:|\}))', re.DOTALL)
# A JSON string value with bare quotes inside ("def f():\n    """Doc."""\n"): it ends at the first quote after which
# the object goes on (a comma and the next key, or the closing brace); the quotes before it are the code's own.
_AFTER_VALUE = r'\s*(?:,\s*"[A-Za-z_]\w*"\s*:|\})'
_QUOTED_VALUE = re.compile(r'(:\s*)"((?:[^"\\]|\\.|"(?!' + _AFTER_VALUE + r'))*)"(?=' + _AFTER_VALUE + ")", re.DOTALL)
_BARE_QUOTE = re.compile(r'(?<!\\)"')


def loose_tool_calls(text: str, specs: list[dict[str, Any]]) -> ParsedOutput | None:
    """The calls of a reply without tags, re-parsed as tagged Hermes calls so they are typed and checked like
    any other; None when the text holds no {"name": ...} object naming one of the offered tools."""
    _, found = _loose_calls(text, specs)
    if not found:
        return None
    tagged = "".join(f"<tool_call>\n{call}\n</tool_call>\n" for call, _ in found)
    return parse_output(tagged, format="hermes", tools=specs)


def kept_reply(text: str, specs: list[dict[str, Any]]) -> str:
    """The reply up to the end of its last tool call (tag or fence included), the whole text when it has none.

    Nothing after the calls is acted on, and made-up instructions kept in the history misled the turns that
    followed. A loose call that needed its triple-quoted strings repaired is kept repaired: the history then
    shows the model calls it can copy.
    """
    end = text.rfind("</tool_call>")
    if end != -1:
        return text[: end + len("</tool_call>")]
    source, found = _loose_calls(text, specs)
    if not found:
        return text
    end = found[-1][1]
    fence = re.match(r"\s*```", source[end:])
    return source[: end + fence.end()] if fence else source[:end]


def repair_triple_quotes(text: str) -> str:
    """Python triple-quoted values turned into JSON strings (and a comma put back where one was left out)."""
    def as_json(match: re.Match[str]) -> str:
        comma = "," if match.group(3).startswith('"') else ""
        return match.group(1) + json.dumps(match.group(2)) + comma
    return _TRIPLE_QUOTED.sub(as_json, text)


def escape_inner_quotes(text: str) -> str:
    """Bare quotes inside JSON string values escaped, where the value's real end is unambiguous."""
    def escaped(match: re.Match[str]) -> str:
        return match.group(1) + '"' + _BARE_QUOTE.sub(r'\\"', match.group(2)) + '"'
    return _QUOTED_VALUE.sub(escaped, text)


def _loose_calls(text: str, specs: list[dict[str, Any]]) -> tuple[str, list[tuple[str, int]]]:
    """The text the calls were read from (repaired only if it had to be), and each call as tagged-call JSON
    with the offset where its object ends."""
    found = _decode_calls(text, specs)
    repaired = text
    for repair in (repair_triple_quotes, escape_inner_quotes):
        if found or '"' not in repaired:
            break
        repaired = repair(repaired)
        found = _decode_calls(repaired, specs)
    return (repaired if found else text), found


def _decode_calls(text: str, specs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    names = {spec["function"]["name"] for spec in specs}
    decoder = json.JSONDecoder(strict=False)  # raw newlines inside strings: small models write them
    found: list[tuple[str, int]] = []
    for match in _CALL_START.finditer(text):
        if found and match.start() < found[-1][1]:
            continue  # inside the object just decoded
        try:
            item, end = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if not isinstance(item, dict) or item.get("name") not in names:
            continue
        arguments = item.get("arguments", item.get("parameters"))
        if arguments is None:  # flattened, as in {"name": "step_done", "summary": "..."}
            arguments = {key: value for key, value in item.items() if key != "name"}
        if isinstance(arguments, dict):
            found.append((json.dumps({"name": item["name"], "arguments": arguments}), end))
    return found
