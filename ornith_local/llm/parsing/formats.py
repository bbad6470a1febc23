"""The output formats and the tags each one uses, and format detection from text.

The names match the catalog's `tool_call_format` values (models/*.toml). "auto" watches every
format's tags at once and reads each call by what follows its opening tag.
"""

from __future__ import annotations

from ornith_local.llm.parsing import gemma4, hermes, qwen_xml

FORMATS = ("auto", "hermes", "qwen3_xml", "gemma4")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CHANNEL_OPEN, CHANNEL_CLOSE = "<|channel>", "<channel|>"
# Gemma 4 names the channel; "thought" is a label, not part of the reasoning.
CHANNEL_THOUGHT = "<|channel>thought"

# Gemma 4 ends a turn with `<turn|>`; an engine that renders special tokens passes it on. Nothing after it is
# part of the answer. A `<channel|>` outside any thought channel is a stray closer (vLLM's Gemma 4 parser drops it).
TURN_END = "<turn|>"

REASONING_CLOSE = {THINK_OPEN: THINK_CLOSE, CHANNEL_OPEN: CHANNEL_CLOSE, CHANNEL_THOUGHT: CHANNEL_CLOSE}

_REASONING_OPENS = {
    "hermes": (THINK_OPEN,),
    "qwen3_xml": (THINK_OPEN,),
    "gemma4": (CHANNEL_OPEN, CHANNEL_THOUGHT),
    "auto": (THINK_OPEN, CHANNEL_OPEN, CHANNEL_THOUGHT),
}
_CALL_OPENS = {
    "hermes": (hermes.OPEN,),
    "qwen3_xml": (qwen_xml.OPEN, qwen_xml.FUNC),
    "gemma4": (gemma4.OPEN,),
    "auto": (hermes.OPEN, qwen_xml.FUNC, gemma4.OPEN),
}


class UnknownFormatError(ValueError):
    pass


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise UnknownFormatError(f"unknown format {name!r}; choose one of: {', '.join(FORMATS)}")
    return name


def reasoning_opens(name: str) -> tuple[str, ...]:
    return _REASONING_OPENS[name]


def reasoning_closes(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(REASONING_CLOSE[m] for m in _REASONING_OPENS[name]))


def call_opens(name: str) -> tuple[str, ...]:
    return _CALL_OPENS[name]


def turn_ends(name: str) -> tuple[str, ...]:
    return (TURN_END,) if name in ("gemma4", "auto") else ()


def stray_closes(name: str) -> tuple[str, ...]:
    return (CHANNEL_CLOSE,) if name in ("gemma4", "auto") else ()


def calls_ending_reasoning(closes: tuple[str, ...]) -> tuple[str, ...]:
    """Call openers that end an unclosed reasoning block, by the block's closer.

    Qwen3.5 may open `<tool_call>` inside `<think>` without `</think>` (vLLM's qwen3 reasoning parser: the tag ends
    the reasoning when `<function` follows); Gemma 4's `<|tool_call>` ends the thought channel (vLLM's gemma4 parser).
    """
    found: tuple[str, ...] = ()
    if THINK_CLOSE in closes:
        found += (hermes.OPEN,)
    if CHANNEL_CLOSE in closes:
        found += (gemma4.OPEN,)
    return found


def detect_format(text: str) -> str | None:
    """The tool-call format the text uses, judged by its first call tag; None when it has no call."""
    found: list[tuple[int, str]] = []
    for tag, name in ((gemma4.OPEN, "gemma4"), (qwen_xml.FUNC, "qwen3_xml"), (hermes.OPEN, "hermes")):
        at = text.find(tag)
        if at >= 0:
            found.append((at, name))
    if not found:
        return None
    at, name = min(found)
    if name == "hermes" and text[at + len(hermes.OPEN):].lstrip().startswith(qwen_xml.FUNC):
        return "qwen3_xml"
    return name
