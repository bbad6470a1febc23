"""The `ornith` template family against the published renderer's expected strings, and the stability probe.

The golden strings are the expected outputs of Ollama's `ornith` renderer tests (model/renderers/ornith_test.go)
and of its Qwen3.5 renderer tests for tools, XML calls and grouped tool results (qwen35_test.go), which the
`ornith` renderer inherits with thinking on and every assistant think block kept.
"""

from __future__ import annotations

import json

from ornith_local.llm.backend import Message
from ornith_local.llm.templates import ChatTemplate, choose_template, family_template, opens_thinking, probe_stable
from ornith_local.llm.tool_format import render_call, tool_format_for
from ornith_local.models.catalog import load_catalog

ORNITH = family_template("ornith", bos_token="", eos_token="<|im_end|>")


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def _tool(name: str, description: str, **properties: str) -> dict[str, object]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "required": list(properties), "properties": {k: {"type": v} for k, v in properties.items()}}}}


def test_golden_history_think_blocks() -> None:
    # ornith_test.go: TestOrnithRendererMatchesAssistantHistoryThinkBlocks
    messages = [Message("user", "Say hello."), Message("assistant", "Hello."), Message("user", "Now say bye.")]
    got = ORNITH.render(messages)
    assert got == ("<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
                   "Hello.<|im_end|>\n<|im_start|>user\nNow say bye.<|im_end|>\n<|im_start|>assistant\n<think>\n")


def test_golden_thinking_disabled_keeps_past_thoughts() -> None:
    # ornith_test.go: TestOrnithRendererKeepsAssistantThinkBlocksWhenThinkingDisabled
    messages = [Message("user", "Say hello."), Message("assistant", "Hello.", reasoning="Keep it short."),
                Message("user", "Now say bye.")]
    got = ORNITH.render(messages, enable_thinking=False)
    assert got == ("<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n<think>\nKeep it short.\n"
                   "</think>\n\nHello.<|im_end|>\n<|im_start|>user\nNow say bye.<|im_end|>\n<|im_start|>assistant\n"
                   "<think>\n\n</think>\n\n")


def test_golden_tools_first_xml_calls_and_grouped_results() -> None:
    # qwen35_test.go: back-to-back calls and responses, and interleaved thinking with tools.
    tools = [_tool("add", "Add two numbers", a="integer", b="integer"),
             _tool("multiply", "Multiply two numbers", x="integer", y="integer")]
    messages = [
        Message("system", "You are a helpful assistant."),
        Message("user", "Run add and multiply."),
        Message("assistant", "I'll run both now.", reasoning="Need to call add and multiply.",
                tool_calls=(_call("add", a=2, b=3), _call("multiply", x=4, y=5))),
        Message("tool", "5", tool_call_id="call_add"),
        Message("tool", "20", tool_call_id="call_multiply"),
        Message("user", "Summarize the results."),
    ]
    got = ORNITH.render(messages, tools=tools)
    assert got.startswith("<|im_start|>system\n# Tools\n\nYou have access to the following functions:\n\n<tools>\n"
                          + json.dumps(tools[0]) + "\n" + json.dumps(tools[1]) + "\n</tools>\n\n"
                          "If you choose to call a function ONLY reply in the following format with NO suffix:")
    assert got.index("# Tools") < got.index("</IMPORTANT>\n\nYou are a helpful assistant.<|im_end|>")
    assert ("<tool_call>\n<function=add>\n<parameter=a>\n2\n</parameter>\n<parameter=b>\n3\n</parameter>\n"
            "</function>\n</tool_call>\n<tool_call>\n<function=multiply>\n<parameter=x>\n4\n</parameter>\n"
            "<parameter=y>\n5\n</parameter>\n</function>\n</tool_call>") in got
    assert ("<|im_start|>user\n<tool_response>\n5\n</tool_response>\n<tool_response>\n20\n</tool_response>"
            "<|im_end|>") in got
    # Ornith keeps the thought of every past assistant turn (plain Qwen3.5 drops this one).
    assert ("<|im_start|>assistant\n<think>\nNeed to call add and multiply.\n</think>\n\nI'll run both now.\n\n"
            "<tool_call>") in got
    assert got.endswith("<|im_start|>assistant\n<think>\n")


def test_golden_interleaved_turn_and_prefill() -> None:
    messages = [Message("user", "Write two words."), Message("assistant", "Hello world", reasoning="Keep it short.")]
    # qwen35_test.go: TestQwen35RendererAssistantPrefillWithThinking: a final assistant turn stays open.
    assert ORNITH.render(messages) == ("<|im_start|>user\nWrite two words.<|im_end|>\n<|im_start|>assistant\n"
                                       "<think>\nKeep it short.\n</think>\n\nHello world")


def test_a_reply_with_its_thought_in_the_text_renders_as_generated() -> None:
    # The model's raw reply after the "<think>\n" the prompt opened: the next prompt must extend it exactly.
    first = [Message("user", "fix the bug")]
    prompt = ORNITH.render(first)
    reply = "Look at a.py first.\n</think>\n\n" + render_call("qwen3_xml", "read", {"path": "a.py"})
    after = ORNITH.render([*first, Message("assistant", reply), Message("tool", "print(1)")])
    assert after.startswith(prompt + reply + "<|im_end|>\n<|im_start|>user\n<tool_response>\nprint(1)\n")


def test_stability_probe_accepts_an_opened_think_block_and_rejects_dropped_thoughts() -> None:
    assert opens_thinking(ORNITH) and probe_stable(ORNITH)
    assert probe_stable(family_template("chatml")) and not opens_thinking(family_template("chatml"))
    # A Qwen3.5-style template that drops thoughts of turns before the last user message: unstable.
    dropping = ChatTemplate("gguf", (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{% if m.role == 'assistant' %}{{ m.content.split('</think>')[-1].lstrip('\\n') }}"
        "{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"))
    assert opens_thinking(dropping) and not probe_stable(dropping)
    chosen = choose_template(dropping.text, "ornith", bos_token="", eos_token="<|im_end|>")
    assert chosen.source == "family:ornith"
    # The GGUF's own template wins when it is stable, even though it opens the think block.
    own = choose_template(ORNITH.text, "chatml", bos_token="", eos_token="<|im_end|>")
    assert own.source == "gguf"


def test_every_ornith_entry_is_driven_in_qwen3_xml_never_hermes() -> None:
    for name, entry in load_catalog().items():
        driven = tool_format_for(entry)
        if name.startswith("ornith"):
            assert driven.name == "qwen3_xml" and "<function=step_done>" in driven.nudge
            assert '"name"' not in driven.nudge and driven.reasoning == "think-open"
    gemma = tool_format_for(load_catalog()["gemma3-270m"])
    assert '{"name": "step_done"' in gemma.nudge
