"""The words the agent writes about tool calls, in the model's own call format.

A model trained on Qwen3-XML calls (Ornith, Qwen3.5) that is told "write <tool_call>{"name": ...}" learns
the wrong protocol in the middle of a conversation. So every prompt text that shows a call (the system
prompt's instructions where the template carries none, the "no tool call" nudge) comes from here, chosen by
the catalog's `tool_call_format`, and `render_call` writes an example call exactly as the template renders
a past one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ornith_local.llm.parsing.formats import check_format


class DescribesModel(Protocol):
    """What this module needs from a catalog entry (kept structural: the llm layer does not import models/)."""

    @property
    def tool_call_format(self) -> str: ...

    @property
    def chat_template(self) -> str: ...

    @property
    def reasoning(self) -> str: ...


def _xml_value(value: Any) -> str:
    # As the published Qwen3.5 / Ornith renderers write a parameter: strings raw, everything else as JSON.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_call(format_name: str, name: str, arguments: dict[str, Any]) -> str:
    """One tool call written the way `format_name` expects the model to write it."""
    if format_name == "qwen3_xml":
        params = "".join(f"<parameter={key}>\n{_xml_value(value)}\n</parameter>\n" for key, value in arguments.items())
        return f"<tool_call>\n<function={name}>\n{params}</function>\n</tool_call>"
    if format_name == "gemma4":
        def gemma_value(value: Any) -> str:  # strings sit between <|"|> tokens; the rest is bare JSON
            return f'<|"|>{value}<|"|>' if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

        body = ",".join(f"{key}:{gemma_value(value)}" for key, value in arguments.items())
        return f"<|tool_call>call:{name}{{{body}}}<tool_call|>"
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"


@dataclass(frozen=True)
class ToolFormat:
    """How one model is driven: its call format, the wording about calls, and its reasoning convention."""

    name: str  # a catalog `tool_call_format`: "qwen3_xml", "hermes", "gemma4"
    template: str  # the chat template family the backend falls back to
    reasoning: str  # "think-open": the generation prompt opens <think>; "none"
    example: str  # a call to step_done, written in this format
    instructions: str  # for templates that do not render tool instructions themselves
    nudge: str  # the "no tool call" reminder

    def describe(self) -> dict[str, str]:
        """For `ornith models info` / `ornith doctor`: the template, call format and reasoning in words."""
        reasoning = {
            "think-open": "the prompt opens <think>; the model thinks, closes </think>, then answers or calls",
            "none": "no reasoning block",
        }.get(self.reasoning, self.reasoning)
        template = (f"the GGUF's own Jinja template when it renders history stably, else the `{self.template}` "
                    "family")
        return {"chat_template": template, "tool_call_format": self.name, "reasoning": reasoning,
                "example_call": self.example}


def tool_format_for(entry: DescribesModel | None) -> ToolFormat:
    """The tool-call wording for a catalog entry (Hermes JSON when the model is unknown)."""
    name = check_format(entry.tool_call_format) if entry is not None else "hermes"
    if name == "auto":
        name = "hermes"
    example = render_call(name, "step_done", {"summary": "what was done"})
    shape = {
        "qwen3_xml": "a <tool_call> block holding <function=NAME> with one <parameter=ARG> block per argument",
        "gemma4": "a <|tool_call>call:NAME{...}<tool_call|> block",
    }.get(name, 'a <tool_call> block holding {"name": ..., "arguments": {...}} as JSON')
    instructions = f"Call a tool by writing {shape}, exactly like this:\n{example}"
    nudge = (f"You did not call a tool. Act through a tool call, written as {shape}, for example:\n{example}\n"
             "Call step_done(summary) when this step's work is done.")
    template = entry.chat_template if entry is not None else "chatml"
    reasoning = entry.reasoning if entry is not None else "none"
    return ToolFormat(name, template, reasoning, example, instructions, nudge)
