"""The `Backend` protocol every model runner implements, and the plain data it speaks.

A backend turns a conversation (or a raw prompt) into raw model text. It does not parse `<think>`
blocks or tool calls out of that text: `ornith_local.llm.parsing` does, for every backend alike.
Each call reports what it cost in `GenerationStats`, so the agent can log tokens and timings per turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "stop_sequence", "error"]
OnText = Callable[[str], None]


@dataclass(frozen=True)
class PrefillProgress:
    """How far the evaluation of a long prompt has come (before the first generated token)."""

    evaluated: int
    total: int
    elapsed_s: float


@runtime_checkable
class ReportsPrefill(Protocol):
    """A backend that can say how far it has read a long prompt: `on_prefill` is called between chunks."""

    on_prefill: Callable[[PrefillProgress], None] | None


class BackendError(RuntimeError):
    """A model call that failed for a reason the user can act on, worded as one line."""


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    # Reasoning the model produced before `content`, when the caller keeps it apart (templates that
    # render earlier thoughts take it as `reasoning_content`).
    reasoning: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()  # OpenAI shape: {"id", "type": "function", "function": {...}}
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """The message as a chat template and the OpenAI API both expect it."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.reasoning is not None:
            data["reasoning_content"] = self.reasoning
        if self.tool_calls:
            data["tool_calls"] = [dict(call) for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data


@dataclass(frozen=True)
class GenerateOptions:
    max_tokens: int = 512
    # None: the model's recommended value from the catalog (or the backend's default).
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    # Penalises tokens already present (Ornith's general profile: 1.5); both backends send / apply it.
    presence_penalty: float | None = None
    seed: int = 0
    stop: tuple[str, ...] = ()
    # Constrain the whole reply to this JSON schema (llama.cpp: a GBNF grammar built from it).
    json_schema: dict[str, Any] | None = None
    # What that answer is called on the wire: the `response_format` name, or over HTTP with `tools`, the forced
    # tool whose arguments are the answer (e.g. `propose_scaffold`); the reply's text is then those arguments.
    schema_name: str = "reply"
    # Tool definitions (OpenAI shape) handed to the chat template / the server.
    tools: tuple[dict[str, Any], ...] = ()
    # Which tool the server must call: None / "auto", "required", "none", or one tool's name (OpenAI
    # `tool_choice`). A schema-shaped answer over HTTP goes as a forced tool call (e.g. `propose_scaffold`),
    # never as `response_format` beside `tools` (Ollama #17957 breaks on that pair).
    tool_choice: str | None = None
    # Cap on tokens inside `<think>...</think>`; past it the thought is closed and the model answers.
    max_reasoning_tokens: int | None = None
    # Let a reasoning model think first: free text at the catalog's sampling until `</think>` (or the budget),
    # and only then `json_schema` constrains the answer, sampled with the options above. The answer's own
    # budget is `max_tokens`; the thought's is `max_reasoning_tokens` (default 1024 when this is set).
    think_first: bool = False


@dataclass
class GenerationStats:
    prompt_tokens: int = 0  # the whole prompt, as the model sees it
    evaluated_prompt_tokens: int = 0  # of those, the ones actually run through the model this call
    generated_tokens: int = 0
    reasoning_tokens: int = 0  # generated tokens inside <think>...</think>
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0
    # Set when the cached conversation could not simply be extended and was re-evaluated.
    cache_note: str | None = None
    # A re-prefill: history diverged from the cache, and this many tokens before the new tail were evaluated
    # again (0 when the turn only appended). `restored_at`: the saved state the re-evaluation started from.
    reprefill_tokens: int = 0
    restored_at: int | None = None
    # Prompt tokens whose state came from disk (a warm start: the stable prefix saved by an earlier run).
    warm_tokens: int = 0

    @property
    def reused_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.evaluated_prompt_tokens

    @property
    def decode_tokens_per_s(self) -> float:
        decode_time = self.total_s - self.time_to_first_token_s
        if self.generated_tokens <= 1 or decode_time <= 0:
            return 0.0
        return (self.generated_tokens - 1) / decode_time


@dataclass(frozen=True)
class ToolCall:
    """A call a server already parsed (OpenAI `tool_calls`): its id, the function and the arguments' JSON text."""

    id: str
    name: str
    arguments: str  # JSON text, as the server sent it (may be invalid: the caller reports that to the model)

    def to_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class Completion:
    text: str  # the raw model output: `<think>` blocks and tool-call markup included, stop text excluded
    finish_reason: FinishReason
    stats: GenerationStats
    token_ids: list[int] = field(default_factory=list)  # empty where the backend cannot see them
    # Filled only when an HTTP server already split them out of `text` (vLLM / SGLang / Ollama / llama-server
    # with a tool and reasoning parser); otherwise they are None / empty and the caller parses `text`.
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def structured(self) -> bool:
        """Whether the server parsed the reply itself (calls or reasoning came apart from the text)."""
        return bool(self.tool_calls) or self.reasoning is not None

    def as_message(self) -> Message:
        """The reply as the assistant turn to send back, in the structured form the server's template renders."""
        return Message("assistant", self.text, reasoning=self.reasoning,
                       tool_calls=tuple(call.to_openai() for call in self.tool_calls))


def answer_after_thinking(text: str, thought_first: bool = False) -> str:
    """The answer of a reply that thought first in its text (`[<think>]…</think>` then the answer). The first
    `</think>` ends the thought; a reply that did not think is returned whole, a `</think>` in its JSON kept."""
    if not (thought_first or text.lstrip().startswith("<think>")):
        return text
    _, closed, answer = text.partition("</think>")
    return answer.strip() if closed else text


def schema_tool(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A tool whose parameters are `schema`: a JSON answer asked for as a native tool call."""
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


@runtime_checkable
class Backend(Protocol):
    """Something that runs a model. Implementations: llama.cpp in-process, OpenAI-compatible HTTP, scripted."""

    @property
    def name(self) -> str:
        """What runs the model, for logs and reports (a file name, a URL, 'scripted')."""
        ...

    @property
    def n_ctx(self) -> int:
        """The context window in tokens."""
        ...

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        """Render `messages` with the model's chat template and generate the assistant's reply."""
        ...

    def complete(self, prompt: str, options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        """Generate a continuation of a raw prompt (no chat template)."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` costs (an estimate where the backend cannot tokenize)."""
        ...

    def reset(self) -> None:
        """Forget any cached conversation state; the next call starts cold."""
        ...
