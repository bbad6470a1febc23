"""Typing argument values by the tool's JSON schema, and reading tool definitions."""

from __future__ import annotations

from typing import Any

import pytest
from parse_helpers import TOOLS, tool

from ornith_local.llm.parsing import ToolSpecError, coerce, load_tools, parse_output, parse_server_calls


@pytest.mark.parametrize(("value", "schema", "expected"), [
    ("3", {"type": "integer"}, 3),
    (" -7 \n", {"type": "integer"}, -7),
    ("3.0", {"type": "integer"}, 3),
    (4.0, {"type": "integer"}, 4),
    ("2.5", {"type": "number"}, 2.5),
    ("10", {"type": "number"}, 10),
    ("True", {"type": "boolean"}, True),
    ("no", {"type": "boolean"}, False),
    ("[1, 2]", {"type": "array", "items": {"type": "integer"}}, [1, 2]),
    ("['a', 'b']", {"type": "array"}, ["a", "b"]),
    ('{"a": "1"}', {"type": "object", "properties": {"a": {"type": "integer"}}}, {"a": 1}),
    ("{'k': None}", {"type": "object"}, {"k": None}),
    ("007", {"type": "string"}, "007"),
    (3, {"type": "string"}, "3"),
    ("null", {"type": ["integer", "null"]}, None),
    ("5", {"type": ["integer", "null"]}, 5),
    ("5", {"anyOf": [{"type": "boolean"}, {"type": "integer"}]}, 5),
    ("x", {}, "x"),
    ("fast", {"type": "string", "enum": ["fast", "slow"]}, "fast"),
])
def test_coerce_converts(value: object, schema: dict[str, Any], expected: object) -> None:
    assert coerce(value, schema) == (expected, None)


@pytest.mark.parametrize(("value", "schema", "expected_word"), [
    ("ten", {"type": "integer"}, "an integer"),
    ("3.5", {"type": "integer"}, "an integer"),
    (True, {"type": "integer"}, "an integer"),
    ("nan", {"type": "number"}, "a number"),
    ("maybe", {"type": "boolean"}, "true or false"),
    ("[1,", {"type": "array"}, "a list"),
    ('["a"]', {"type": "object"}, "an object"),
    ({"a": 1}, {"type": "string"}, "text"),
    ("medium", {"enum": ["fast", "slow"]}, "one of"),
])
def test_coerce_reports_what_was_expected(value: object, schema: dict[str, Any], expected_word: str) -> None:
    _, error = coerce(value, schema)
    assert error is not None and expected_word in error


def test_unknown_parameter_is_an_error_when_the_schema_lists_its_parameters() -> None:
    out = parse_output('<tool_call>{"name": "read_file", "arguments": {"path": "a", "mode": "r"}}</tool_call>',
                       tools=TOOLS)
    assert out.problems[0].message == ("your call to read_file has parameter `mode`, which read_file does not "
                                       "take (it takes: path, limit).")
    open_schema = [tool("anything", {})]
    assert parse_output('<tool_call>{"name": "anything", "arguments": {"x": 1}}</tool_call>',
                        tools=open_schema).problems == []


def test_long_wrong_values_are_shortened_in_the_message() -> None:
    out = parse_output('<tool_call>{"name": "read_file", "arguments": {"path": "a", "limit": "'
                       + "x" * 500 + '"}}</tool_call>', tools=TOOLS)
    assert len(out.problems[0].message) < 200


def test_load_tools_accepts_both_shapes_and_rejects_bad_ones() -> None:
    specs = load_tools([TOOLS[0], {"name": "bare", "parameters": {"type": "object"}}])
    assert set(specs) == {"read_file", "bare"}
    assert specs["read_file"].required == ["path"]
    for bad, message in [({}, "JSON list"), ([{"function": {}}], "no \"name\""),
                         ([{"name": "t", "parameters": []}], "JSON schema object")]:
        with pytest.raises(ToolSpecError, match=message):
            load_tools(bad)


def test_calls_a_server_parsed_are_typed_and_checked_like_calls_read_from_text() -> None:
    parsed = parse_server_calls(
        [("srv-1", "read_file", '{"path": "a.py", "limit": "20"}'), ("srv-2", "edit_file", '{"path": "a.py"'),
         ("srv-3", "delete_everything", "{}"), ("srv-4", "write_file", '["a.py"]'), ("srv-5", "read_file", "")],
        content="", reasoning="which file?", tools=TOOLS)
    read, cut, unknown, listed, empty = parsed.tool_calls
    assert read.valid and read.arguments == {"path": "a.py", "limit": 20} and read.id == "srv-1"
    assert not cut.valid and not unknown.valid and not listed.valid and not empty.valid
    messages = [problem.message for problem in parsed.errors]
    assert "the arguments of your call to edit_file are not valid JSON (Expecting ',' delimiter at character 15)." \
        in messages
    assert any("no tool named `delete_everything`" in message for message in messages)
    assert "the arguments of your call to write_file must be a JSON object." in messages
    assert "your call to read_file was missing parameter `path`." in messages  # "" is no arguments at all
    assert [call.id for call in parsed.tool_calls] == ["srv-1", "srv-2", "srv-3", "srv-4", "srv-5"]
    assert parsed.reasoning == "which file?"
