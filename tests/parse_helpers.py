"""Shared tool definitions and a stream-vs-whole checker for the parsing tests."""

from __future__ import annotations

from typing import Any

from ornith_local.llm.parsing import ContentDelta, ParsedOutput, ReasoningDelta, StreamParser, parse_output


def tool(name: str, properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": name, "parameters": {
        "type": "object", "properties": properties, "required": required or []}}}


TOOLS = [
    tool("read_file", {"path": {"type": "string"}, "limit": {"type": "integer"}}, ["path"]),
    tool("edit_file", {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
         ["path", "old", "new"]),
    tool("write_file", {"path": {"type": "string"}, "content": {"type": "string"}}, ["path", "content"]),
    tool("configure", {
        "n": {"type": "integer"}, "ratio": {"type": "number"}, "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}}, "opts": {"type": "object"},
        "mode": {"type": "string", "enum": ["fast", "slow"]}, "maybe": {"type": ["integer", "null"]},
    }),
]


def streamed(text: str, pieces: list[int] | None = None, **kwargs: Any) -> tuple[ParsedOutput, list[Any]]:
    """Feed `text` split at the given sizes (default: one character at a time)."""
    parser = StreamParser(**kwargs)
    events: list[Any] = []
    pos = 0
    for size in pieces or [1] * len(text):
        events += parser.feed(text[pos:pos + size])
        pos += size
    events += parser.feed(text[pos:])
    events += parser.finish()
    return parser.result(), events


def check_stream_equals_whole(text: str, **kwargs: Any) -> ParsedOutput:
    whole = parse_output(text, **kwargs)
    result, events = streamed(text, **kwargs)
    assert result == whole
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert content.rstrip() == whole.content
    assert (reasoning.rstrip() or None) == whole.reasoning
    return whole
