"""Example cases for every format and edge the parsing issue names."""

from __future__ import annotations

import pytest
from parse_helpers import TOOLS, check_stream_equals_whole

from ornith_local.llm.parsing import detect_format, parse_output

# --- reasoning ------------------------------------------------------------------------------------


def test_think_block_then_answer() -> None:
    out = check_stream_equals_whole("<think>\nLet me look.\n</think>\n\nThe answer is 4.")
    assert out.reasoning == "Let me look."
    assert out.content == "The answer is 4."
    assert out.problems == []


def test_output_that_starts_mid_thought() -> None:
    out = check_stream_equals_whole("the template opened it\n</think>\nDone.")
    assert (out.reasoning, out.content) == ("the template opened it", "Done.")
    explicit = check_stream_equals_whole("still thinking</think>Done.", starts_in_reasoning=True)
    assert (explicit.reasoning, explicit.content) == ("still thinking", "Done.")


def test_unterminated_thinking_at_end_of_stream() -> None:
    out = check_stream_equals_whole("<think>I will first read the")
    assert out.reasoning == "I will first read the"
    assert out.content == "" and out.tool_calls == []
    assert [p.code for p in out.problems] == ["reasoning_unterminated"]
    assert out.problems[0].severity == "warning"


def test_no_markers_is_content_not_reasoning() -> None:
    for starts in (None, False):
        out = check_stream_equals_whole("Just an answer.\n", starts_in_reasoning=starts)
        assert (out.reasoning, out.content, out.problems) == (None, "Just an answer.", [])


def test_empty_think_block_is_no_reasoning() -> None:
    assert check_stream_equals_whole("<think>\n\n</think>\n\nHi").reasoning is None


def test_gemma4_channel_thought() -> None:
    out = check_stream_equals_whole("<|channel>thought\nPlan it.<channel|>Answer.", format="gemma4")
    assert (out.reasoning, out.content) == ("Plan it.", "Answer.")


# --- Hermes JSON ----------------------------------------------------------------------------------


def test_hermes_one_call_typed_by_schema() -> None:
    text = 'Reading.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py", "limit": "20"}}\n</tool_call>'
    out = check_stream_equals_whole(text, tools=TOOLS)
    assert out.content == "Reading."
    [call] = out.tool_calls
    assert (call.name, call.arguments, call.valid, call.format) == ("read_file", {"path": "a.py", "limit": 20},
                                                                    True, "hermes")
    assert call.raw.startswith("<tool_call>") and call.raw.endswith("</tool_call>")


def test_hermes_many_calls_and_a_list() -> None:
    one = '<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>'
    two = '<tool_call>{"name": "read_file", "arguments": {"path": "b"}}</tool_call>'
    out = check_stream_equals_whole(one + "\n" + two, tools=TOOLS)
    assert [c.arguments["path"] for c in out.tool_calls] == ["a", "b"]
    assert [c.id for c in out.tool_calls] == ["call_0", "call_1"]
    listed = check_stream_equals_whole(
        '<tool_call>[{"name": "read_file", "arguments": {"path": "a"}}, '
        '{"name": "read_file", "arguments": {"path": "b"}}]</tool_call>')
    assert len(listed.tool_calls) == 2


def test_closing_tag_inside_a_json_string_is_part_of_the_value() -> None:
    text = ('<tool_call>{"name": "write_file", "arguments": {"path": "p.py", '
            '"content": "s = \\"</tool_call>\\"\\nend"}}</tool_call>after')
    out = check_stream_equals_whole(text, tools=TOOLS)
    assert out.tool_calls[0].arguments["content"] == 's = "</tool_call>"\nend'
    assert out.content == "after"


def test_arguments_as_a_json_string_and_openai_shape() -> None:
    out = check_stream_equals_whole(
        '<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"x\\"}"}</tool_call>'
        '<tool_call>{"type": "function", "function": {"name": "read_file", "arguments": {"path": "y"}}}</tool_call>')
    assert [c.arguments for c in out.tool_calls] == [{"path": "x"}, {"path": "y"}]


def test_invalid_json_is_content_with_a_precise_problem() -> None:
    text = '<tool_call>{"name": "read_file", "arguments": {"path": a.py}}</tool_call>'
    out = check_stream_equals_whole(text, tools=TOOLS)
    assert out.tool_calls == []
    assert out.content == text
    [problem] = out.problems
    assert problem.code == "invalid_json" and "read_file" in problem.message and "line 1" in problem.message


def test_missing_final_brace_is_repaired() -> None:
    out = check_stream_equals_whole('<tool_call>{"name": "read_file", "arguments": {"path": "a"}</tool_call>')
    assert out.tool_calls[0].arguments == {"path": "a"}
    assert [(p.code, p.severity) for p in out.problems] == [("json_repaired", "warning")]


def test_trailing_comma_and_python_literals_are_read() -> None:
    out = check_stream_equals_whole("<tool_call>{'name': 'configure', 'arguments': {'flag': True,}}</tool_call>",
                                    tools=TOOLS)
    assert out.tool_calls[0].arguments == {"flag": True}


def test_missing_closing_tag_at_end_of_stream_is_read_with_a_warning() -> None:
    out = check_stream_equals_whole('<tool_call>{"name": "read_file", "arguments": {"path": "a"}}', tools=TOOLS)
    assert out.tool_calls[0].valid
    assert [(p.code, p.severity, p.call_index) for p in out.problems] == [("missing_close_tag", "warning", 0)]


def test_cut_off_inside_a_value_is_not_a_call() -> None:
    text = '<tool_call>{"name": "write_file", "arguments": {"path": "a.py", "content": "def f():\\n    ret'
    out = check_stream_equals_whole(text, tools=TOOLS)
    assert out.tool_calls == []
    assert out.content == text
    [problem] = out.problems
    assert problem.code == "call_truncated" and "write_file" in problem.message and "not run" in problem.message


def test_unknown_function_name() -> None:
    out = check_stream_equals_whole('<tool_call>{"name": "delete_repo", "arguments": {}}</tool_call>', tools=TOOLS)
    [call] = out.tool_calls
    assert not call.valid
    assert out.problems[0].code == "unknown_tool"
    assert "`delete_repo`" in out.problems[0].message and "read_file" in out.problems[0].message


def test_missing_parameter_message() -> None:
    out = check_stream_equals_whole('<tool_call>{"name": "edit_file", "arguments": {"old": "a", "new": "b"}}'
                                    "</tool_call>", tools=TOOLS)
    assert out.problems[0].message == "your call to edit_file was missing parameter `path`."
    assert out.problems_for(0) == out.problems and out.errors == out.problems


def test_call_inside_a_markdown_fence() -> None:
    text = 'Here:\n```json\n<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>\n```\n'
    out = check_stream_equals_whole(text, tools=TOOLS)
    assert out.tool_calls[0].valid
    assert [(p.code, p.severity) for p in out.problems] == [("call_in_code_fence", "warning")]
    after_fence = check_stream_equals_whole("```\ncode\n```\n" + text[6:], tools=TOOLS)
    assert [p.code for p in after_fence.problems] == ["call_in_code_fence"]
    closed = check_stream_equals_whole('```\ncode\n```\n<tool_call>{"name": "read_file", "arguments": {"path": "a"}}'
                                       "</tool_call>", tools=TOOLS)
    assert closed.problems == []


def test_duplicate_json_keys() -> None:
    out = check_stream_equals_whole('<tool_call>{"name": "read_file", "arguments": {"path": "a", "path": "b"}}'
                                    "</tool_call>", tools=TOOLS)
    assert out.tool_calls[0].arguments == {"path": "b"} and not out.tool_calls[0].valid
    assert out.problems[0].code == "duplicate_parameter"


# --- Qwen3 XML ------------------------------------------------------------------------------------

XML_EDIT = """<tool_call>
<function=edit_file>
<parameter=path>
src/app.py
</parameter>
<parameter=old>
if x < 3 and y > 2:
    s = "</parameter>"
</parameter>
<parameter=new>
pass
</parameter>
</function>
</tool_call>"""


def test_qwen3_xml_raw_values_with_tag_like_text() -> None:
    out = check_stream_equals_whole("I'll edit it.\n" + XML_EDIT + "\nDone", tools=TOOLS, format="qwen3_xml")
    [call] = out.tool_calls
    assert call.format == "qwen3_xml" and call.valid
    assert call.arguments == {"path": "src/app.py", "old": 'if x < 3 and y > 2:\n    s = "</parameter>"',
                              "new": "pass"}
    assert (out.content, out.problems) == ("I'll edit it.\n\nDone", [])


def test_qwen3_xml_values_typed_by_schema() -> None:
    params = {"n": "42", "ratio": "0.5", "flag": "true", "tags": '["a", "b"]', "opts": '{"k": 1}',
              "mode": "fast", "maybe": "null"}
    body = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params.items())
    out = check_stream_equals_whole(f"<tool_call>\n<function=configure>\n{body}</function>\n</tool_call>",
                                    tools=TOOLS)
    assert out.tool_calls[0].arguments == {"n": 42, "ratio": 0.5, "flag": True, "tags": ["a", "b"],
                                           "opts": {"k": 1}, "mode": "fast", "maybe": None}
    assert out.problems == []


def test_qwen3_xml_without_schema_keeps_text() -> None:
    out = check_stream_equals_whole("<tool_call><function=f><parameter=n>3</parameter></function></tool_call>")
    assert out.tool_calls[0].arguments == {"n": "3"}


def test_qwen3_xml_wrong_type_and_duplicates() -> None:
    text = ("<tool_call><function=read_file><parameter=path>a</parameter><parameter=limit>ten</parameter>"
            "<parameter=path>b</parameter></function></tool_call>")
    out = check_stream_equals_whole(text, tools=TOOLS)
    codes = sorted(p.code for p in out.problems)
    assert codes == ["duplicate_parameter", "wrong_type"]
    wrong = next(p for p in out.problems if p.code == "wrong_type")
    assert wrong.message == 'your call to read_file gave parameter `limit` the value "ten", which is not an integer.'


def test_qwen3_xml_cut_off_inside_a_value() -> None:
    text = "<tool_call>\n<function=write_file>\n<parameter=path>\na.py\n</parameter>\n<parameter=content>\nimport os\n"
    out = check_stream_equals_whole(text, tools=TOOLS)
    assert out.tool_calls == [] and out.content == text.strip()
    assert "inside parameter `content`" in out.problems[0].message


def test_qwen3_xml_missing_closing_tags() -> None:
    no_param_close = "<tool_call><function=read_file><parameter=path>a.py</function></tool_call>"
    out = check_stream_equals_whole(no_param_close, tools=TOOLS)
    assert out.tool_calls[0].arguments == {"path": "a.py"}
    assert [p.severity for p in out.problems] == ["warning"]
    no_call_close = check_stream_equals_whole("<tool_call><function=read_file><parameter=path>a</parameter></function>",
                                              tools=TOOLS)
    assert no_call_close.tool_calls[0].valid and no_call_close.problems[0].code == "missing_close_tag"


def test_qwen3_bare_function_and_several_in_one_block() -> None:
    out = check_stream_equals_whole("<function=read_file><parameter=path>a</parameter></function> then "
                                    "<tool_call><function=read_file><parameter=path>b</parameter></function>"
                                    "<function=read_file><parameter=path>c</parameter></function></tool_call>",
                                    tools=TOOLS)
    assert [c.arguments["path"] for c in out.tool_calls] == ["a", "b", "c"]
    assert out.content == "then"


def test_json_inside_tool_call_in_xml_mode_is_still_read() -> None:
    out = check_stream_equals_whole('<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>',
                                    format="qwen3_xml")
    assert out.tool_calls[0].format == "hermes"


def test_unreadable_xml_block() -> None:
    out = check_stream_equals_whole("<tool_call>read_file(a.py)</tool_call> ok", format="qwen3_xml")
    assert out.tool_calls == [] and out.problems[0].code == "call_unreadable"
    assert out.content.startswith("<tool_call>read_file")


# --- Gemma 4 --------------------------------------------------------------------------------------


def test_gemma4_calls_back_to_back() -> None:
    text = ('<|channel>thought\nCheck.<channel|>'
            '<|tool_call>call:configure{n:3,flag:true,ratio:1.5,tags:[<|"|>a<|"|>,<|"|>b, c<|"|>],'
            'opts:{k:<|"|>v<|"|>},mode:<|"|>slow<|"|>}<tool_call|>'
            '<|tool_call>call:write_file{path:<|"|>x.txt<|"|>,content:<|"|>a <tool_call|> "b", {c}\n<|"|>}<tool_call|>')
    out = check_stream_equals_whole(text, tools=TOOLS, format="gemma4")
    assert out.reasoning == "Check."
    first, second = out.tool_calls
    assert first.arguments == {"n": 3, "flag": True, "ratio": 1.5, "tags": ["a", "b, c"], "opts": {"k": "v"},
                               "mode": "slow"}
    assert second.arguments == {"path": "x.txt", "content": 'a <tool_call|> "b", {c}\n'}
    assert out.problems == [] and all(c.format == "gemma4" for c in out.tool_calls)


def test_gemma4_several_calls_in_one_block_and_bad_enum() -> None:
    out = check_stream_equals_whole('<|tool_call>call:configure{mode:<|"|>medium<|"|>}'
                                    'call:read_file{path:<|"|>a<|"|>}<tool_call|>', tools=TOOLS)
    assert [c.name for c in out.tool_calls] == ["configure", "read_file"]
    assert out.problems[0].code == "wrong_type" and '"fast", "slow"' in out.problems[0].message


def test_gemma4_truncated_and_unreadable() -> None:
    cut = check_stream_equals_whole('<|tool_call>call:write_file{path:<|"|>a<|"|>,content:<|"|>partial')
    assert cut.tool_calls == [] and cut.problems[0].code == "call_truncated"
    assert "write_file" in cut.problems[0].message
    bad = check_stream_equals_whole("<|tool_call>call:read_file{path}<tool_call|>")
    assert bad.tool_calls == [] and bad.problems[0].code == "call_unreadable"


# --- detection and override -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ('<tool_call>{"name": "a"}</tool_call>', "hermes"),
    ("<tool_call>\n<function=a></function></tool_call>", "qwen3_xml"),
    ("<function=a></function>", "qwen3_xml"),
    ("<|tool_call>call:a{}<tool_call|>", "gemma4"),
    ("no calls here", None),
])
def test_detect_format(text: str, expected: str | None) -> None:
    assert detect_format(text) == expected


def test_an_explicit_format_ignores_other_formats_tags() -> None:
    text = '<|tool_call>call:read_file{path:<|"|>a<|"|>}<tool_call|>'
    assert parse_output(text, format="hermes").tool_calls == []
    assert parse_output(text, format="hermes").content == text
    assert len(parse_output(text, format="gemma4").tool_calls) == 1
    assert parse_output("<think>x</think>y", format="gemma4").content == "<think>x</think>y"


def test_half_written_tag_is_never_shown_while_streaming() -> None:
    from ornith_local.llm.parsing import ContentDelta, StreamParser

    parser = StreamParser(starts_in_reasoning=False)
    shown = "".join(e.text for e in parser.feed("Hello <tool_") if isinstance(e, ContentDelta))
    assert shown == "Hello "
    shown = "".join(e.text for e in parser.feed("box> x") if isinstance(e, ContentDelta))
    assert shown == "<tool_box> x"
