"""Chat templates: the GGUF's own Jinja template, or a named family from the catalog when it has none.

Cache reuse needs a template that renders earlier turns exactly as they were generated; some (Qwen3.5's
default) drop earlier `<think>` blocks, so every turn would re-render history differently. `probe_stable`
detects that; the backend then switches to the catalog family (which keeps them) and says so.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ornith_local.llm.backend import Message

_HERMES_TOOLS = (
    "{% if tools %}\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    "{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>{% endif %}'
)
_ASSISTANT_BODY = (
    "{% if m.reasoning_content %}<think>\n{{ m.reasoning_content }}\n</think>\n\n{% endif %}{{ m.content }}"
    "{% for call in m.tool_calls or [] %}\n<tool_call>\n"
    '{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}\n</tool_call>'
    "{% endfor %}"
)

# Built-in families. Both render every earlier turn verbatim (thoughts included), so reuse is append-only.
FAMILIES: dict[str, str] = {
    "chatml": (
        "{% set system = messages[0].content if messages and messages[0].role == 'system' else '' %}"
        "{% if system or tools %}<|im_start|>system\n{{ system }}" + _HERMES_TOOLS + "<|im_end|>\n{% endif %}"
        "{% for m in messages %}{% if m.role == 'system' %}"
        "{% elif m.role == 'assistant' %}<|im_start|>assistant\n" + _ASSISTANT_BODY + "<|im_end|>\n"
        "{% elif m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n</tool_response><|im_end|>\n"
        "{% else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "gemma": (
        "{{ bos_token }}{% set system = messages[0].content if messages and messages[0].role == 'system' else '' %}"
        "{% set ns = namespace(first=true) %}"
        "{% for m in messages %}{% if m.role == 'system' %}"
        "{% elif m.role == 'assistant' %}<start_of_turn>model\n" + _ASSISTANT_BODY + "<end_of_turn>\n"
        "{% elif m.role == 'tool' %}<start_of_turn>user\n<tool_response>\n{{ m.content }}\n</tool_response>"
        "<end_of_turn>\n"
        "{% else %}<start_of_turn>user\n{% if ns.first %}{% set ns.first = false %}{{ system }}" + _HERMES_TOOLS
        + "{% if system or tools %}\n\n{% endif %}{% endif %}{{ m.content }}<end_of_turn>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
}
ALIASES = {"qwen": "chatml", "qwen2": "chatml", "hermes": "chatml", "ornith": "chatml", "gemma3": "gemma"}


class ChatTemplateError(ValueError):
    """A template that cannot be used (unknown family, Jinja error), as one line."""


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False, sort_keys: bool = False) -> str:
    # Hugging Face templates expect plain JSON, not Jinja's HTML-escaped tojson.
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


def _raise(message: str) -> None:
    raise TemplateError(message)


@dataclass
class ChatTemplate:
    source: str  # "gguf" or "family:<name>"
    text: str
    bos_token: str = ""
    eos_token: str = ""
    # Hugging Face renders model templates with trim_blocks/lstrip_blocks; our families are written without.
    trim_blocks: bool = True

    def __post_init__(self) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=self.trim_blocks, lstrip_blocks=self.trim_blocks)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
        try:
            self._compiled = env.from_string(self.text)
        except TemplateError as error:
            raise ChatTemplateError(f"chat template ({self.source}) does not compile: {error}") from None

    def render(
        self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] = (), add_generation_prompt: bool = True
    ) -> str:
        try:
            return str(self._compiled.render(
                messages=[message.to_openai() for message in messages],
                tools=list(tools) or None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            ))
        except TemplateError as error:
            raise ChatTemplateError(f"chat template ({self.source}) failed: {error}") from None


def family_template(family: str, *, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
    name = ALIASES.get(family, family)
    if name not in FAMILIES:
        known = ", ".join(sorted({*FAMILIES, *ALIASES}))
        raise ChatTemplateError(f"unknown chat template family '{family}' (known: {known})")
    return ChatTemplate(f"family:{name}", FAMILIES[name], bos_token, eos_token, trim_blocks=False)


_PROBE_THOUGHT = "ornith-probe-thought"


def probe_stable(template: ChatTemplate) -> bool:
    """True when an earlier assistant turn (with its `<think>` block) renders exactly as generated."""
    first = [Message("system", "s"), Message("user", "u1")]
    reply = f"<think>\n{_PROBE_THOUGHT}\n</think>\n\nanswer"
    try:
        before = template.render(first)
        after = template.render([*first, Message("assistant", reply), Message("user", "u2")])
    except ChatTemplateError:
        return False
    return after.startswith(before) and after[len(before):].startswith(reply)


def choose_template(gguf_template: str | None, family: str | None, *, bos_token: str, eos_token: str) -> ChatTemplate:
    """The GGUF's template when it exists and renders history stably; else the catalog family; else ChatML."""
    fallback_family = family if family and family != "auto" else None
    if gguf_template:
        try:
            own = ChatTemplate("gguf", gguf_template, bos_token, eos_token)
        except ChatTemplateError:
            own = None
        if own is not None and (probe_stable(own) or fallback_family is None):
            return own
    if fallback_family is None:
        fallback_family = "chatml"
    return family_template(fallback_family, bos_token=bos_token, eos_token=eos_token)
