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
