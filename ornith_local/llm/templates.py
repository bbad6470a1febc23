"""Chat templates: the GGUF's own Jinja template, or a named family from the catalog when it has none.

Cache reuse needs a template that renders earlier turns exactly as they were generated; some (Qwen3.5's
default) drop earlier `<think>` blocks, so every turn would re-render history differently. `probe_stable`
detects that; the backend then switches to the catalog family (which keeps them) and says so.
"""

from __future__ import annotations

import datetime
import json
import re
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

# Ornith (Qwen3.5-derived), as Ollama's published `ornith` renderer writes it (model/renderers/ornith.go on
# qwen35.go: thinking on, every assistant turn keeps its think block, an empty one when there was no thought).
# The tools block comes first in the system turn, the user's system text after it; consecutive tool results
# share one user turn; calls are Qwen3-XML; the generation prompt opens the think block ("<think>\n").
_QWEN35_TOOLS_POSTAMBLE = (
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
    "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\nmultiple lines\n"
    "</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n"
    "- Function calls MUST follow the specified format: an inner <function=...></function> block must be nested "
    "within <tool_call></tool_call> XML tags\n- Required parameters MUST be specified\n"
    "- You may provide optional reasoning for your function call in natural language BEFORE the function call, "
    "but NOT after\n- If there is no function call available, answer the question like normal with your current "
    "knowledge and do not tell the user about function calls\n</IMPORTANT>"
)
_ORNITH = (
    "{% set thinking = enable_thinking is not defined or enable_thinking %}"
    "{% set first_system = messages and messages[0].role == 'system' %}"
    "{% if tools %}<|im_start|>system\n# Tools\n\nYou have access to the following functions:\n\n<tools>"
    "{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}" + _QWEN35_TOOLS_POSTAMBLE.replace("{", "{{ '{' }}")
    + "{% if first_system and messages[0].content | trim %}\n\n{{ messages[0].content | trim }}{% endif %}"
    "<|im_end|>\n"
    "{% elif first_system %}<|im_start|>system\n{{ messages[0].content | trim }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}{% set content = (m.content or '') | trim %}"
    "{% set last = loop.last %}{% set prefill = last and m.role == 'assistant' %}"
    "{% if m.role == 'user' or (m.role == 'system' and not loop.first) %}"
    "<|im_start|>{{ m.role }}\n{{ content }}<|im_end|>\n"
    "{% elif m.role == 'assistant' %}"
    "{% if m.reasoning_content %}{% set reasoning = m.reasoning_content | trim %}"
    "{% elif '</think>' in content %}{% set before = content.split('</think>')[0] %}"
    "{% set reasoning = before.split('<think>')[-1] | trim %}"
    "{% set content = content.split('</think>', 1)[1].lstrip('\n') %}"
    "{% else %}{% set reasoning = '' %}{% endif %}"
    "<|im_start|>assistant\n<think>\n{{ reasoning }}\n</think>\n\n{{ content }}"
    "{% for call in m.tool_calls or [] %}"
    "{% if loop.first %}{% if content | trim %}\n\n{% endif %}{% else %}\n{% endif %}"
    "<tool_call>\n<function={{ call.function.name }}>\n"
    "{% for key, value in call.function.arguments.items() %}<parameter={{ key }}>\n"
    "{% if value is string %}{{ value }}{% else %}{{ value | tojson }}{% endif %}\n</parameter>\n{% endfor %}"
    "</function>\n</tool_call>{% endfor %}"
    "{% if not prefill %}<|im_end|>\n{% endif %}"
    "{% elif m.role == 'tool' %}"
    "{% if loop.first or loop.previtem.role != 'tool' %}<|im_start|>user{% endif %}"
    "\n<tool_response>\n{{ content }}\n</tool_response>"
    "{% if last or loop.nextitem.role != 'tool' %}<|im_end|>\n{% endif %}"
    "{% endif %}"
    "{% if last and not prefill and add_generation_prompt %}<|im_start|>assistant\n"
    "{% if thinking %}<think>\n{% else %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
    "{% endfor %}"
)
# Written so that it renders the same with and without trim_blocks (a newline right after a block tag is
# spelled as an expression): the same text is what the synthetic twins carry as their GGUF template.
FAMILIES["ornith"] = re.sub(r"%}\n", "%}{{ '\\n' }}", _ORNITH)
ALIASES = {"qwen": "chatml", "qwen2": "chatml", "hermes": "chatml", "qwen35": "ornith", "qwen3_5": "ornith",
           "gemma3": "gemma"}


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
        self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] = (), add_generation_prompt: bool = True,
        enable_thinking: bool | None = None,
    ) -> str:
        extra = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
        try:
            return str(self._compiled.render(
                messages=[_for_template(message) for message in messages],
                tools=list(tools) or None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                **extra,
            ))
        except TemplateError as error:
            raise ChatTemplateError(f"chat template ({self.source}) failed: {error}") from None


def _for_template(message: Message) -> dict[str, Any]:
    """The message as Hugging Face templates read it: a call's arguments as a mapping, not a JSON string."""
    data = message.to_openai()
    calls = []
    for call in data.get("tool_calls", []):
        function = dict(call.get("function") or {})
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError:
                parsed = None
            function["arguments"] = parsed if isinstance(parsed, dict) else {"arguments": arguments}
        calls.append({**call, "function": function})
    if calls:
        data["tool_calls"] = calls
    return data


def family_template(family: str, *, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
    name = ALIASES.get(family, family)
    if name not in FAMILIES:
        known = ", ".join(sorted({*FAMILIES, *ALIASES}))
        raise ChatTemplateError(f"unknown chat template family '{family}' (known: {known})")
    return ChatTemplate(f"family:{name}", FAMILIES[name], bos_token, eos_token, trim_blocks=False)


_PROBE_THOUGHT = "ornith-probe-thought"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def opens_thinking(template: ChatTemplate) -> bool:
    """Whether the generation prompt itself opens the think block (Qwen3.5 / Ornith end it with "<think>\\n")."""
    try:
        prompt = template.render([Message("user", "u")])
    except ChatTemplateError:
        return False
    return prompt.rstrip("\n").endswith("<think>")


def probe_stable(template: ChatTemplate) -> bool:
    """True when an earlier assistant turn (with its thought) renders exactly as it was generated.

    Stable means: the next prompt starts with the previous prompt followed by the model's reply, so the cache
    is only ever appended to. Where the generation prompt opens the think block, the model's reply starts
    inside it ("thought\\n</think>\\n\\nanswer"); otherwise the reply carries the whole block.
    """
    first = [Message("system", "s"), Message("user", "u1")]
    try:
        before = template.render(first)
    except ChatTemplateError:
        return False
    opened = before.rstrip("\n").endswith(THINK_OPEN)
    generated = f"{_PROBE_THOUGHT}\n{THINK_CLOSE}\n\nanswer"
    if not opened:
        generated = f"{THINK_OPEN}\n{generated}"
    try:
        after = template.render([*first, Message("assistant", generated), Message("user", "u2")])
    except ChatTemplateError:
        return False
    return after.startswith(before + generated)


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
