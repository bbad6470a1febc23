"""The real tiny model's raw output, prompted for a Hermes tool call, through the parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parse_helpers import TOOLS, check_stream_equals_whole, streamed

from ornith_local.llm.backend import GenerateOptions
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend

PROMPT = (
    "<start_of_turn>user\nYou may call tools. Tools:\n<tools>\n" + json.dumps(TOOLS[:2]) + "\n</tools>\n"
    'To call one, write <tool_call>{"name": ..., "arguments": {...}}</tool_call>.\n'
    "Read the file src/app.py.<end_of_turn>\n<start_of_turn>model\n<think>\nThe user wants"
)


@pytest.mark.model
def test_tiny_model_output_through_the_parser(tiny_model_path: Path) -> None:
    backend = LlamaCppBackend(tiny_model_path, n_ctx=1024, threads=1, template_family="gemma")
    pieces: list[str] = []
    completion = backend.complete(PROMPT, GenerateOptions(max_tokens=96, temperature=0.0), on_text=pieces.append)
    text = completion.text
    assert text and "".join(pieces) == text
    for kwargs in ({}, {"tools": TOOLS}, {"starts_in_reasoning": True, "tools": TOOLS}, {"format": "qwen3_xml"}):
        whole = check_stream_equals_whole(text, **kwargs)  # never raises; any split gives the same result
        by_token, _ = streamed(text, pieces=[len(p) for p in pieces], **kwargs)  # the model's own tokens
        assert by_token == whole
        json.dumps(whole.to_json())
        for call in whole.tool_calls:
            assert call.raw in text
        for problem in whole.problems:
            assert problem.message.endswith((".", "fences."))
