"""Property tests: any split of a stream gives the whole-text result; no text makes the parser raise."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parse_helpers import TOOLS, check_stream_equals_whole, streamed

from ornith_local.llm.parsing import FORMATS, ParsedOutput, parse_output

# Pieces that exercise every tag, partial tag and structural character the scanners care about.
FRAGMENTS = [
    "<think>", "</think>", "<|channel>", "thought", "<channel|>", "<tool_call>", "</tool_call>",
    "<function=read_file>", "<function=", "</function>", "<parameter=path>", "<parameter=limit>",
    "</parameter>", "<|tool_call>", "call:read_file", "<tool_call|>", '<|"|>', "{", "}", "[", "]", '"', "\\",
    ":", ",", "\n", " ", "```", "<", ">", "|", '{"name": "read_file", "arguments": {"path": "a"}}',
    '"name"', '"arguments"', "path", "42", "true", "x", "é", "\u2028",
]
soup = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=40).map("".join)
options = st.fixed_dictionaries({
    "format": st.sampled_from(FORMATS),
    "starts_in_reasoning": st.sampled_from([None, True, False]),
    "tools": st.sampled_from([None, TOOLS]),
})
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(text=soup, kwargs=options, cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=30))
def test_any_split_gives_the_whole_text_result(text: str, kwargs: dict[str, object], cuts: list[int]) -> None:
    whole = check_stream_equals_whole(text, **kwargs)  # one character at a time
    result, _ = streamed(text, pieces=cuts, **kwargs)  # and random chunk sizes
    assert result == whole
    _well_formed(whole)


@SETTINGS
@given(text=st.text(max_size=300), kwargs=options)
def test_arbitrary_text_never_raises(text: str, kwargs: dict[str, object]) -> None:
    _well_formed(parse_output(text, **kwargs))  # type: ignore[arg-type]


def _well_formed(out: ParsedOutput) -> None:
    json.dumps(out.to_json())  # always serialisable
    for index, call in enumerate(out.tool_calls):
        assert call.index == index and call.name
        has_error = any(p.severity == "error" for p in out.problems_for(index))
        assert call.valid == (not has_error)
    for problem in out.problems:
        assert problem.message and problem.severity in ("error", "warning")
        assert problem.call_index is None or 0 <= problem.call_index < len(out.tool_calls)


values = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@SETTINGS
@given(path=values, content=values, cuts=st.lists(st.integers(0, 9), max_size=20))
def test_hermes_values_round_trip(path: str, content: str, cuts: list[int]) -> None:
    call = {"name": "write_file", "arguments": {"path": path, "content": content}}
    text = f"<tool_call>\n{json.dumps(call)}\n</tool_call>"
    result, _ = streamed(text, pieces=cuts, tools=TOOLS)
    assert result.tool_calls[0].arguments == call["arguments"]
    assert result.problems == []


@SETTINGS
@given(path=values, content=values, cuts=st.lists(st.integers(0, 9), max_size=20))
def test_xml_values_round_trip(path: str, content: str, cuts: list[int]) -> None:
    # Raw values are exact unless they hold a closing tag followed by the next tag (ambiguous by design).
    for value in (path, content):
        if "</parameter>" in value or "</function>" in value:
            return
    text = (f"<tool_call>\n<function=write_file>\n<parameter=path>\n{path}\n</parameter>\n"
            f"<parameter=content>\n{content}\n</parameter>\n</function>\n</tool_call>")
    result, _ = streamed(text, pieces=cuts, tools=TOOLS)
    assert result.tool_calls[0].arguments == {"path": path, "content": content}


@SETTINGS
@given(path=values, content=values, cuts=st.lists(st.integers(0, 9), max_size=20))
def test_gemma_values_round_trip(path: str, content: str, cuts: list[int]) -> None:
    if '<|"|>' in path + content:
        return
    text = f'<|tool_call>call:write_file{{path:<|"|>{path}<|"|>,content:<|"|>{content}<|"|>}}<tool_call|>'
    result, _ = streamed(text, pieces=cuts, tools=TOOLS)
    assert result.tool_calls[0].arguments == {"path": path, "content": content}


@SETTINGS
@given(text=soup, cut=st.integers(min_value=0, max_value=200))
def test_a_cut_off_output_never_yields_a_call_the_full_output_lacks(text: str, cut: int) -> None:
    # Truncation can drop calls but never invent one with different arguments.
    full = parse_output(text, tools=TOOLS)
    prefix = parse_output(text[:cut], tools=TOOLS)
    full_calls = [(c.name, json.dumps(c.arguments, sort_keys=True)) for c in full.tool_calls]
    for call in prefix.tool_calls:
        if call.valid and "missing_close_tag" not in {p.code for p in prefix.problems_for(call.index)}:
            assert (call.name, json.dumps(call.arguments, sort_keys=True)) in full_calls
