"""Parsing model output into reasoning, content and typed tool calls, whole or as a stream.

    parsed = parse_output(text, format="auto", tools=tool_definitions)
    parsed.reasoning, parsed.content, parsed.tool_calls, parsed.problems

    parser = StreamParser(format="qwen3_xml", tools=tool_definitions, starts_in_reasoning=True)
    for piece in engine.stream(prompt):
        for event in parser.feed(piece):
            ...  # ReasoningDelta, ContentDelta, ToolCallStarted, ToolCallDone, ProblemFound
    parser.finish(); parsed = parser.result()  # equal to parse_output on the whole text

Nothing here raises on model output: every defect becomes a Problem whose message can be sent
back to the model. Only a bad `format` name or bad tool definitions raise (ValueError subclasses).
"""

from ornith_local.llm.parsing.formats import FORMATS, UnknownFormatError, detect_format
from ornith_local.llm.parsing.schema import ToolSpec, ToolSpecError, coerce, load_tools
from ornith_local.llm.parsing.stream import StreamParser, parse_output
from ornith_local.llm.parsing.structured import parse_server_calls
from ornith_local.llm.parsing.types import (
    ContentDelta,
    Event,
    JSONValue,
    ParsedOutput,
    Problem,
    ProblemFound,
    ReasoningDelta,
    ToolCall,
    ToolCallDone,
    ToolCallStarted,
)

__all__ = [
    "FORMATS",
    "ContentDelta",
    "Event",
    "JSONValue",
    "ParsedOutput",
    "Problem",
    "ProblemFound",
    "ReasoningDelta",
    "StreamParser",
    "ToolCall",
    "ToolCallDone",
    "ToolCallStarted",
    "ToolSpec",
    "ToolSpecError",
    "UnknownFormatError",
    "coerce",
    "detect_format",
    "load_tools",
    "parse_output",
    "parse_server_calls",
]
