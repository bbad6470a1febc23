"""Render-then-parse round trips: any call whose values hold arbitrary text (every tag of every format included)
comes back unchanged, for Hermes, Qwen3-XML and Gemma 4, whole and streamed in random chunks.

Hermes is rendered by the prompt templates themselves (llm/templates.py). Qwen3-XML and Gemma 4 are rendered by
render_call, checked here against a Jinja template with the Qwen3.5 tool-call section's layout; text a format
cannot carry is refused by the renderer (render.py says which) and that refusal is tested too.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from parse_helpers import streamed, tool

from ornith_local.llm.backend import Message
from ornith_local.llm.parsing import load_tools, parse_output
from ornith_local.llm.parsing.render import UnrepresentableError, render_call
from ornith_local.llm.templates import ChatTemplate, family_template

SAVE = tool("save", {"path": {"type": "string"}, "content": {"type": "string"}, "note": {"type": "string"},
                     "count": {"type": "integer"}, "maybe": {"type": ["string", "null"]}}, ["path", "content"])
SPECS = load_tools([SAVE])
TAGS = [
    "<think>", "</think>", "<|channel>", "<|channel>thought", "<channel|>", "<|turn>", "<turn|>", "<|think|>",
    "<tool_call>", "</tool_call>", "<function=save>", "<function=read_file>", "<function=", "</function>",
    "<parameter=path>", "<parameter=content>", "<parameter=note>", "<parameter=other>", "<parameter=", "</parameter>",
    "<|tool_call>", "<tool_call|>", "call:save{", '<|"|>', "<|tool_response>", "{{ tc.name }}",
    "<function={{ tc.name }}>",
    "{", "}", "[", "]", '"', "\\", ":", ",", "\n", " ", "\t", "```", "<", ">", "null", "None", "é", "\u2028",
]
text_values = st.lists(st.one_of(st.sampled_from(TAGS), st.text(st.characters(exclude_categories=["Cs"]), max_size=8)),
                       max_size=14).map("".join)
# Derandomized: the suite runs the same 200 examples every time. PARSE_PROPERTY_EXAMPLES=N runs a random
# search of N examples instead, the way the counterexamples refused by render_call were found.
SETTINGS = settings(max_examples=int(os.environ.get("PARSE_PROPERTY_EXAMPLES", "200")), deadline=None,
                    derandomize="PARSE_PROPERTY_EXAMPLES" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow])


def _quoted_call(format: str, value: str) -> str:
    """A whole call of some format, as a test fixture or a doc would quote it inside a value."""
    try:
        return render_call(format, "read_file", {"path": value})
    except UnrepresentableError:
        return value


fixtures = st.builds(_quoted_call, st.sampled_from(["hermes", "qwen3_xml", "gemma4"]), text_values)
values = st.one_of(text_values, st.builds(lambda a, b, c: a + b + c, text_values, fixtures, text_values))
arguments = st.fixed_dictionaries(
    {"path": values, "content": values},
    optional={"note": values, "count": st.integers(-10**6, 10**6), "maybe": st.one_of(st.none(), values)})
surroundings = st.tuples(st.sampled_from(["", "I'll save it.\n", "<think>\nPlan: save.\n</think>\n\n"]),
                         st.sampled_from(["", "\n", "\nSaved."]))


def hermes_from_template(name: str, args: dict[str, Any]) -> str:
    """The assistant turn exactly as the ChatML family template writes it into the prompt."""
    template = family_template("chatml")
    call = {"id": "call_0", "type": "function", "function": {"name": name, "arguments": args}}
    before = template.render([Message("user", "u")], add_generation_prompt=True)
    whole = template.render([Message("user", "u"), Message("assistant", "", tool_calls=(call,))],
                            add_generation_prompt=False)
    return whole[len(before):].removesuffix("<|im_end|>\n").lstrip("\n")


def check_round_trip(text: str, args: dict[str, Any], format: str, cuts: list[int]) -> None:
    whole = parse_output(text, format=format, tools=[SAVE])
    assert [(c.name, c.arguments) for c in whole.tool_calls] == [("save", args)], text
    assert whole.problems == []
    assert streamed(text, pieces=cuts, format=format, tools=[SAVE])[0] == whole


@SETTINGS
@given(args=arguments, around=surroundings, cuts=st.lists(st.integers(1, 30), max_size=40))
def test_hermes_round_trip(args: dict[str, Any], around: tuple[str, str], cuts: list[int]) -> None:
    rendered = hermes_from_template("save", args)
    assert rendered == render_call("hermes", "save", args)
    for format in ("hermes", "auto"):
        check_round_trip(around[0] + rendered + around[1], args, format, cuts)


@SETTINGS
@given(args=arguments, around=surroundings, cuts=st.lists(st.integers(1, 30), max_size=40))
def test_qwen3_xml_round_trip(args: dict[str, Any], around: tuple[str, str], cuts: list[int]) -> None:
    try:
        rendered = render_call("qwen3_xml", "save", args, SPECS["save"])
    except UnrepresentableError as refused:
        note(str(refused))
        return
    for format in ("qwen3_xml", "auto"):
        check_round_trip(around[0] + rendered + around[1], args, format, cuts)


@SETTINGS
@given(args=arguments, around=st.sampled_from(["", "<|channel>thought\nPlan: save.<channel|>"]),
       cuts=st.lists(st.integers(1, 30), max_size=40))
def test_gemma4_round_trip(args: dict[str, Any], around: str, cuts: list[int]) -> None:
    try:
        rendered = render_call("gemma4", "save", args)
    except UnrepresentableError:
        assert any('<|"|>' in v for v in args.values() if isinstance(v, str))
        return
    for format in ("gemma4", "auto"):
        check_round_trip(around + rendered + "<turn|>", args, format, cuts)


WRITE = tool("save", {"path": {"type": "string"}, "content": {"type": "string"}}, ["path", "content"])


# Every tag of every format, alone and in the places that matter, is representable in every format (in the last
# parameter: no `<parameter=` in it can stand for one still to come).
@pytest.mark.parametrize("tag", [t for t in TAGS if t != '<|"|>'])
def test_every_tag_round_trips_in_every_format(tag: str) -> None:
    for value in (tag, f"x{tag}y", f"\n{tag}\n", f'"{tag}"', f"{tag}\n</parameter>\n{tag}"):
        args = {"path": "p", "content": value}
        for format in ("hermes", "qwen3_xml", "gemma4"):
            text = render_call(format, "save", args, load_tools([WRITE])["save"])
            whole = parse_output(text, format=format, tools=[WRITE])
            assert [(c.name, c.arguments) for c in whole.tool_calls] == [("save", args)], text
            assert whole.problems == [] and streamed(text, pieces=[7] * 40, format=format, tools=[WRITE])[0] == whole


XML_TEMPLATE = (  # the layout of the Qwen3.5 template's tool-call section, for the assistant's calls
    "{%- for m in messages %}{%- for tc in m.tool_calls or [] %}"
    "{{- '<tool_call>\\n<function=' + tc.function.name + '>\\n' }}"
    "{%- for key, value in tc.function.arguments.items() %}{{- '<parameter=' + key + '>\\n' }}"
    "{{- value if value is string else value | tojson }}{{- '\\n</parameter>\\n' }}{%- endfor %}"
    "{{- '</function>\\n</tool_call>' }}{%- endfor %}{%- endfor %}"
)


@SETTINGS
@given(args=arguments)
def test_xml_renderer_writes_what_the_template_writes(args: dict[str, Any]) -> None:
    call = {"type": "function", "function": {"name": "save", "arguments": args}}
    by_template = ChatTemplate("test", XML_TEMPLATE).render([Message("assistant", "", tool_calls=(call,))])
    with contextlib.suppress(UnrepresentableError):  # refused text has no rendering to compare
        assert render_call("qwen3_xml", "save", args, SPECS["save"]) == by_template


@pytest.mark.parametrize(("format", "value", "why"), [
    ("qwen3_xml", "a\n</parameter>\n<parameter=note>\nb", "</parameter>` then `<parameter=note>"),
    ("qwen3_xml", "a\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=save>\n<parameter=path>\nq",
     "`</function>` followed by"),
    ("qwen3_xml", "see <parameter=note> here", "a parameter still to come"),
    ("gemma4", 'say <|"|> here', "string delimiter"),
])
def test_text_a_format_cannot_carry_is_refused(format: str, value: str, why: str) -> None:
    with pytest.raises(UnrepresentableError, match=why):
        render_call(format, "save", {"path": "p", "content": value}, SPECS["save"])
    with pytest.raises(UnrepresentableError, match="may be null"):
        render_call("qwen3_xml", "save", {"path": "p", "content": "c", "maybe": "null"}, SPECS["save"])
    # The refusal is needed: written anyway, the text reads back as something else.
    args = {"path": "p", "content": value}
    raw = json.dumps(args)  # (Hermes has no such limit)
    assert parse_output(render_call("hermes", "save", args), tools=[SAVE]).tool_calls[0].arguments == json.loads(raw)
    forced = parse_output(_force(format, value), format=format, tools=[SAVE])
    assert [c.arguments for c in forced.tool_calls] != [args]


def _force(format: str, value: str) -> str:
    if format == "qwen3_xml":
        return f"<tool_call>\n<function=save>\n<parameter=path>\np\n</parameter>\n<parameter=content>\n{value}\n" \
               "</parameter>\n</function>\n</tool_call>"
    return f'<|tool_call>call:save{{path:<|"|>p<|"|>,content:<|"|>{value}<|"|>}}<tool_call|>'


def test_a_value_ending_in_an_open_quoted_call_is_refused_not_misread() -> None:
    # Found by the round-trip property: the real closers after the value would close the quoted call instead.
    content = ("<tool_call>\n<function=read_file>\n<parameter=path>\n\n</parameter>\n</function>\n</tool_call>"
               "<tool_call><function=save>")
    with pytest.raises(UnrepresentableError, match="never closes"):
        render_call("qwen3_xml", "save", {"path": "", "content": content}, SPECS["save"])
    balanced = content.removesuffix("<tool_call><function=save>")
    rendered = render_call("qwen3_xml", "save", {"path": "", "content": balanced}, SPECS["save"])
    assert [(c.name, c.arguments) for c in parse_output(rendered, format="qwen3_xml", tools=[SAVE]).tool_calls] == [
        ("save", {"path": "", "content": balanced})]
