"""Calls a server already parsed (OpenAI `tool_calls`: vLLM, SGLang, Ollama, llama-server with a tool parser),
typed and checked by the same schemas as calls read from text, so the agent treats both alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from ornith_local.llm.parsing.scanning import RawCall
from ornith_local.llm.parsing.schema import type_call
from ornith_local.llm.parsing.stream import tool_specs
from ornith_local.llm.parsing.types import ParsedOutput, Problem, ToolCall


def parse_server_calls(calls: Sequence[tuple[str, str, str]], *, content: str, reasoning: str | None,
                       tools: object = None) -> ParsedOutput:
    """`calls`: (id, name, arguments as JSON text) as the server sent them, in order."""
    specs = tool_specs(tools)
    typed: list[ToolCall] = []
    problems: list[Problem] = []
    for index, (server_id, name, arguments) in enumerate(calls):
        try:
            value = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as error:
            value, why = None, f"are not valid JSON ({error.msg} at character {error.pos})"
        else:
            why = "must be a JSON object" if not isinstance(value, dict) else ""
        if not isinstance(value, dict):
            problems.append(Problem("bad_arguments", f"the arguments of your call to {name} {why}.",
                                    call_index=index))
            typed.append(ToolCall(index, name, {}, arguments, "openai", valid=False, server_id=server_id))
            continue
        call, found = type_call(RawCall(name, list(value.items()), arguments, "openai"), index, specs)
        typed.append(replace(call, server_id=server_id))
        problems += found
    return ParsedOutput(reasoning, content, typed, problems)
