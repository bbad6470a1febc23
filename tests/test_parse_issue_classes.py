"""One test per class of parsing failure from the corpus run (issue 21), and every example streamed in random chunks."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from parse_helpers import TOOLS, check_stream_equals_whole, streamed, tool

from ornith_local.llm.parsing import ParsedOutput, parse_output

SEARCH = tool("search", {"pattern": {"type": "string"}, "path": {"type": ["string", "null"]},
                         "max": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "nullable": {"type": "string",
                         "nullable": True}}, ["pattern"])
ALL_TOOLS = [*TOOLS, SEARCH]


def xml_call(name: str, **arguments: str) -> str:
    params = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in arguments.items())
    return f"<tool_call>\n<function={name}>\n{params}</function>\n</tool_call>"


def codes(out: ParsedOutput) -> list[str]:
    return [problem.code for problem in out.problems]


# --- Qwen3-XML with a missing closer --------------------------------------------------------------

MISSING_BEFORE_PARAM = ("<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/a.py\n<parameter=limit>\n20\n"
                        "</parameter>\n</function>\n</tool_call>")
MISSING_BEFORE_FUNCTION = ("<tool_call>\n<function=edit_file>\n<parameter=path>\na.py\n</parameter>\n<parameter=old>\n"
                           "x = 1\n</parameter>\n<parameter=new>\nx = 2\n</function>\n</tool_call>")


def test_qwen3_xml_missing_closer() -> None:
    out = check_stream_equals_whole(MISSING_BEFORE_PARAM, tools=ALL_TOOLS)
    [call] = out.tool_calls
    assert call.arguments == {"path": "src/a.py", "limit": 20} and call.valid
    assert [(p.code, p.severity) for p in out.problems] == [("missing_close_tag", "warning")]
    assert "`path`" in out.problems[0].message
    ended = check_stream_equals_whole(MISSING_BEFORE_FUNCTION, tools=ALL_TOOLS)
    assert ended.tool_calls[0].arguments == {"path": "a.py", "old": "x = 1", "new": "x = 2"}
    assert codes(ended) == ["missing_close_tag"] and "`new`" in ended.problems[0].message


# --- typed values ---------------------------------------------------------------------------------

NULLS = xml_call("search", pattern="TODO", path="null", max="null", nullable="None")


def test_typed_values() -> None:
    out = check_stream_equals_whole(NULLS, tools=ALL_TOOLS)
    assert out.tool_calls[0].arguments == {"pattern": "TODO", "path": None, "max": None, "nullable": None}
    assert out.problems == []
    text = check_stream_equals_whole(xml_call("search", pattern="null"), tools=ALL_TOOLS)
    assert text.tool_calls[0].arguments == {"pattern": "null"}  # a text-only parameter keeps the word
    number = check_stream_equals_whole(xml_call("search", pattern="x", max="7"), tools=ALL_TOOLS)
    assert number.tool_calls[0].arguments["max"] == 7


# --- code that contains tool-call markup as text ----------------------------------------------------

FIXTURE = ('XML = """<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>\n'
           '</tool_call>"""\nEND = "</parameter>"\nCALL = \'<tool_call>{"name": "x", "arguments": {}}</tool_call>\'\n')
TEMPLATE = ("{%- for tc in message.tool_calls %}\n{{- '<tool_call>\\n<function=' + tc.name + '>\\n' }}\n"
            "<function={{ tc.name }}>\n{%- for k, v in tc.arguments|items %}<parameter={{ k }}>\n{{ v }}\n"
            "</parameter>\n{%- endfor %}\n</function>\n</tool_call>\n{%- endfor %}\n")
DOCS = ("# Calls\n\nWrite `<tool_call>` then `<function=NAME>`; close each value with `</parameter>`.\n"
        "</parameter>\n<parameter=path>\nis how the next value starts.\n")
GEMMA_TEXT = ("Gemma writes <|tool_call>call:f{a:1}<tool_call|> and ends with <turn|>, "
              "thinking in <|channel>x<channel|>.")


def test_code_containing_tool_call_markup() -> None:
    for content in (FIXTURE, TEMPLATE, DOCS, GEMMA_TEXT):
        text = "Writing it.\n" + xml_call("write_file", path="f.txt", content=content) + "\nDone."
        out = check_stream_equals_whole(text, tools=ALL_TOOLS)
        assert [c.arguments for c in out.tool_calls] == [{"path": "f.txt", "content": content}], content[:30]
        assert out.problems == [] and out.content == "Writing it.\n\nDone."
    for content in (FIXTURE, TEMPLATE, DOCS):  # the same files through Hermes JSON and Gemma 4 strings
        hermes = parse_output('<tool_call>{"name": "write_file", "arguments": {"path": "f", "content": '
                              + _json(content) + "}}</tool_call>", tools=ALL_TOOLS)
        gemma = parse_output('<|tool_call>call:write_file{path:<|"|>f<|"|>,content:<|"|>' + content
                             + '<|"|>}<tool_call|>', tools=ALL_TOOLS, format="gemma4")
        assert [c.arguments["content"] for c in hermes.tool_calls + gemma.tool_calls] == [content, content]


def test_code_containing_markup_in_a_middle_parameter() -> None:
    old = 'if tag == "</parameter>":\n    return "<parameter=new>"\n'
    text = xml_call("edit_file", path="p.py", old=old, new="pass")
    out = check_stream_equals_whole(text, tools=ALL_TOOLS)
    assert out.tool_calls[0].arguments == {"path": "p.py", "old": old, "new": "pass"} and out.problems == []


HERMES_CALL = '<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}\n</tool_call>'


def test_a_value_holding_a_closed_parameter_and_call_then_a_hermes_call_stays_one_value() -> None:
    """`</parameter></tool_call>` inside a value looks like a call missing its `</function>`; the complete end that
    follows the value decides (found by the round-trip property's random search)."""
    for content in ("x</parameter></tool_call>" + HERMES_CALL, "</parameter>\n</tool_call>\n" + HERMES_CALL + "tail"):
        out = check_stream_equals_whole(xml_call("write_file", path="f.txt", content=content), tools=ALL_TOOLS)
        assert [c.arguments for c in out.tool_calls] == [{"path": "f.txt", "content": content}]
        assert out.problems == []


def test_a_call_really_missing_its_function_closer_still_ends_before_the_next_call() -> None:
    first = "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</tool_call>\n"
    for second in (xml_call("read_file", path="b.py"), xml_call("read_file", path="b.py")[len("<tool_call>\n"):]):
        out = check_stream_equals_whole(first + second, tools=ALL_TOOLS)
        assert [c.arguments for c in out.tool_calls] == [{"path": "a.py"}, {"path": "b.py"}], second[:20]
        assert codes(out)[0] == "missing_close_tag"


def test_jinja_placeholder_is_never_a_call() -> None:
    out = check_stream_equals_whole("The template writes <function={{ tc.name }}> for each call.", tools=ALL_TOOLS)
    assert out.tool_calls == [] and out.problems == []
    assert out.content == "The template writes <function={{ tc.name }}> for each call."


# --- a malformed call after a good one ------------------------------------------------------------

GOOD_XML = xml_call("read_file", path="a.py")
MALFORMED_AFTER_GOOD = {
    "qwen3_xml": GOOD_XML + "\n<tool_call>\n<function=read_file>\n<parameter=path>\nb.py",
    "qwen3_xml one block": GOOD_XML.removesuffix("</tool_call>") + "<function=read file>\n</function>\n</tool_call>",
    "hermes": '<tool_call>{"name": "read_file", "arguments": {"path": "a.py"}}</tool_call>\n'
              '<tool_call>{"name": "read_file", "arguments": {"path": b.py}}</tool_call>',
    "gemma4": '<|tool_call>call:read_file{path:<|"|>a.py<|"|>}<tool_call|><|tool_call>call:read_file{path:<|"|>b.py}'
              "<tool_call|>",
    "gemma4 one block": '<|tool_call>call:read_file{path:<|"|>a.py<|"|>}call:read_file{path}<tool_call|>',
}


def test_malformed_call_after_a_good_one() -> None:
    for label, text in MALFORMED_AFTER_GOOD.items():
        out = check_stream_equals_whole(text, tools=ALL_TOOLS)
        calls = [(c.name, c.arguments, c.valid) for c in out.tool_calls]
        assert calls == [("read_file", {"path": "a.py"}, True)], label
        [problem] = out.errors
        assert problem.call_index is None and "not run" in problem.message, label


# --- reasoning ------------------------------------------------------------------------------------

DRAFTED = "<think>\nI could call " + GOOD_XML + " but first I check.\n</think>\n\nI checked: nothing to do."
UNCLOSED = "<think>\nThe file is small; read it.\n" + GOOD_XML


def test_reasoning_call_drafted_in_closed_think_is_not_a_call() -> None:
    for starts in (None, True):
        text = DRAFTED if starts is None else DRAFTED.removeprefix("<think>")
        out = check_stream_equals_whole(text, tools=ALL_TOOLS, starts_in_reasoning=starts)
        assert out.tool_calls == [] and out.problems == []
        assert out.reasoning is not None and "<function=read_file>" in out.reasoning
        assert out.content == "I checked: nothing to do."


def test_reasoning_call_inside_unclosed_think_ends_it() -> None:
    for starts in (None, True):
        text = UNCLOSED if starts is None else UNCLOSED.removeprefix("<think>")
        out = check_stream_equals_whole(text, tools=ALL_TOOLS, starts_in_reasoning=starts)
        assert out.reasoning == "The file is small; read it."
        assert [c.arguments for c in out.tool_calls] == [{"path": "a.py"}] and out.problems == []


def test_reasoning_mentioning_the_tag_stays_reasoning() -> None:
    out = check_stream_equals_whole("<think>I will wrap it in <tool_call> tags.</think>Done.", tools=ALL_TOOLS)
    assert (out.reasoning, out.content, out.tool_calls) == ("I will wrap it in <tool_call> tags.", "Done.", [])
    value = "<think>Plan.\n" + xml_call("write_file", path="t.md", content="ends with </think> here")
    inside = check_stream_equals_whole(value, tools=ALL_TOOLS)  # a `</think>` inside a value does not close it
    assert inside.tool_calls[0].arguments["content"] == "ends with </think> here"


# --- Gemma 4 closers ------------------------------------------------------------------------------


def test_gemma4_closers_never_leak() -> None:
    out = check_stream_equals_whole("<|channel>thought\nShort.<channel|>The answer is 4.<turn|>", format="gemma4")
    assert (out.reasoning, out.content, out.problems) == ("Short.", "The answer is 4.", [])
    stray = check_stream_equals_whole("Answer.<channel|> More.<turn|>", format="gemma4", starts_in_reasoning=False)
    assert stray.content == "Answer. More." and codes(stray) == ["stray_tag"]
    after = check_stream_equals_whole("Done.<turn|>\n<|turn>user\nmore", format="gemma4")
    assert after.content == "Done." and codes(after) == ["text_after_turn_end"]
    called = check_stream_equals_whole('<|channel>thought\nRead it.<|tool_call>call:read_file{path:<|"|>a<|"|>}'
                                       "<tool_call|><channel|><turn|>", format="gemma4", tools=ALL_TOOLS)
    assert called.reasoning == "Read it." and called.content == ""
    assert [c.arguments for c in called.tool_calls] == [{"path": "a"}] and codes(called) == ["stray_tag"]


# --- every example, streamed in random chunks -------------------------------------------------------

EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    (MISSING_BEFORE_PARAM, {}), (MISSING_BEFORE_FUNCTION, {}), (NULLS, {}), (DRAFTED, {}), (UNCLOSED, {}),
    *[(xml_call("write_file", path="f", content=c), {}) for c in (FIXTURE, TEMPLATE, DOCS, GEMMA_TEXT)],
    *[(text, {}) for text in MALFORMED_AFTER_GOOD.values()],
    (UNCLOSED.removeprefix("<think>"), {"starts_in_reasoning": True}),
    ("Answer.<channel|> More.<turn|>", {"format": "gemma4", "starts_in_reasoning": False}),
]


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(EXAMPLES), cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=60))
def test_every_example_streams_like_the_whole(case: tuple[str, dict[str, Any]], cuts: list[int]) -> None:
    text, kwargs = case
    result, _ = streamed(text, pieces=cuts, tools=ALL_TOOLS, **kwargs)
    assert result == parse_output(text, tools=ALL_TOOLS, **kwargs)


def _json(value: str) -> str:
    import json

    return json.dumps(value)
