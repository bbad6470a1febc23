"""A tool call written the way each format's chat template writes it into a prompt: the inverse of parsing.

- hermes: llm/templates.py's families (`{"name": "NAME", "arguments": <tojson>}` between `<tool_call>` lines).
- qwen3_xml: the Qwen3.5 chat template's tool-call section: `<tool_call>\\n<function=NAME>\\n`, per argument
  `<parameter=KEY>\\n` + the value (text as is, anything else as JSON) + `\\n</parameter>\\n`, then
  `</function>\\n</tool_call>`.
- gemma4: Gemma 4's native call (Google's function-calling docs, vLLM's gemma4 parser):
  `<|tool_call>call:NAME{key:<|"|>text<|"|>,n:3,flag:true,none:null,list:[...],obj:{...}}<tool_call|>`.

JSON escapes everything, so every Hermes call is representable. The other two formats write text raw, so some
text cannot be told apart from the format's own structure; `render_call` raises `UnrepresentableError` for it
instead of writing a prompt the model (or the parser) would misread:

- qwen3_xml: a value holding, outside tags it opens and closes itself, a `</parameter>` followed by the
  `<parameter=` of a parameter not yet written, a `</function>` followed by `</tool_call>` or a call opener,
  a `<parameter=` of a parameter not yet written (outside a whole quoted call; it reads as a missing closer), or an
  unclosed `<parameter=` of one; a quoted call it opens and never closes (the real closers that follow
  would read as that call's); and the text `null`/`None` for a parameter
  that may be null (the template writes None as `null`). Any other text, every tag of every format included,
  round-trips.
- gemma4: text holding the string delimiter `<|"|>` (it is one token; the format has no escape), and keys
  that are not plain names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ornith_local.llm.parsing.schema import ToolSpec, allows_null
from ornith_local.llm.parsing.types import JSONValue
from ornith_local.llm.parsing.xml_structure import NAME

_PLAIN_KEY = re.compile(r"[\w.\-]{1,200}\Z")
_XML_TAG = re.compile(r"<tool_call>\s*<function=" + NAME + ">|</function>|<parameter=" + NAME + ">|</parameter>")
_AFTER_PARAM_CLOSE = re.compile(r"\s*<parameter=" + NAME + ">")
_AFTER_FUNC_CLOSE = re.compile(r"\s*(</tool_call>|<function=|<tool_call>|<\|tool_call>)")
QUOTE = '<|"|>'


class UnrepresentableError(ValueError):
    """The format cannot carry this value unambiguously."""


def render_call(format: str, name: str, arguments: Mapping[str, JSONValue], spec: ToolSpec | None = None) -> str:
    if format == "hermes":
        return f'<tool_call>\n{{"name": "{name}", "arguments": {_json(dict(arguments))}}}\n</tool_call>'
    if format == "qwen3_xml":
        return _render_xml(name, arguments, spec)
    if format == "gemma4":
        return "<|tool_call>call:" + name + _gemma_object(arguments) + "<tool_call|>"
    raise ValueError(f"no renderer for format {format!r}")


def _json(value: JSONValue) -> str:
    return json.dumps(value, ensure_ascii=False)


def _render_xml(name: str, arguments: Mapping[str, JSONValue], spec: ToolSpec | None) -> str:
    parts = [f"<tool_call>\n<function={name}>\n"]
    written: list[str] = []
    for key, value in arguments.items():
        text = value if isinstance(value, str) else _json(value)
        if isinstance(value, str):
            _check_xml_text(key, value, spec, written)
        parts.append(f"<parameter={key}>\n{text}\n</parameter>\n")
        written.append(key)
    return "".join(parts) + "</function>\n</tool_call>"


def _check_xml_text(key: str, value: str, spec: ToolSpec | None, written: list[str]) -> None:
    schema = spec.properties.get(key) if spec is not None else None
    if isinstance(schema, Mapping) and value.strip() in ("null", "None") and allows_null(schema):
        raise UnrepresentableError(f"`{key}` may be null, and the template writes null as the text {value!r}")
    opened: list[str] = []  # parameters the value opens itself and has not closed yet
    functions = 0  # quoted calls the value opens itself
    for tag in _XML_TAG.finditer(value):
        word = tag.group()
        if word.startswith("<tool_call>"):
            functions += 1
        elif word.startswith("<parameter="):
            opened.append(tag.group(2))
            if not functions and _expected(tag.group(2), key, spec, written):
                raise UnrepresentableError(f"`{key}` holds `<parameter={tag.group(2)}>`, a parameter still to come")
        elif word == "</parameter>":
            if opened:
                opened.pop()
                continue
            follower = _AFTER_PARAM_CLOSE.match(value, tag.end())
            if follower and follower.group(1) not in (*written, key):
                raise UnrepresentableError(f"`{key}` holds `</parameter>` then `<parameter={follower.group(1)}>`")
        elif functions:
            functions -= 1
        elif _AFTER_FUNC_CLOSE.match(value, tag.end()):
            raise UnrepresentableError(f"`{key}` holds `</function>` followed by what ends a call")
    if functions:
        raise UnrepresentableError(f"`{key}` opens a quoted call and never closes it")
    for name in opened:
        if _expected(name, key, spec, written):
            raise UnrepresentableError(f"`{key}` opens `<parameter={name}>` and never closes it")


def _expected(name: str, key: str, spec: ToolSpec | None, written: list[str]) -> bool:
    return name not in (*written, key) and (spec is None or name in spec.properties)


def _gemma_object(arguments: Mapping[str, JSONValue]) -> str:
    items = []
    for key, value in arguments.items():
        if not _PLAIN_KEY.match(key):
            raise UnrepresentableError(f"the key {key!r} is not a plain name")
        items.append(f"{key}:{_gemma_value(value)}")
    return "{" + ",".join(items) + "}"


def _gemma_value(value: JSONValue) -> str:
    if isinstance(value, str):
        if QUOTE in value:
            raise UnrepresentableError(f"text holding the string delimiter {QUOTE}")
        return QUOTE + value + QUOTE
    if isinstance(value, dict):
        return _gemma_object(value)
    if isinstance(value, list):
        return "[" + ",".join(_gemma_value(item) for item in value) + "]"
    return _json(value)  # numbers, true/false, null
