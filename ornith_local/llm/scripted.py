"""A scripted backend for unit tests: replies come from a list, token counts are whitespace words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ornith_local.llm.backend import (
    BackendError,
    Completion,
    FinishReason,
    GenerateOptions,
    GenerationStats,
    Message,
    OnText,
)

# A Completion is returned as it is: a server that parsed the reply (calls in `tool_calls`, reasoning apart).
Reply = str | Callable[[Sequence[Message]], str] | Completion


@dataclass
class ScriptedCall:
    messages: list[Message]
    prompt: str | None
    options: GenerateOptions


@dataclass
class ScriptedBackend:
    """Answers each call with the next scripted reply (a string, or a function of the messages)."""

    replies: list[Reply]
    context: int = 8192
    calls: list[ScriptedCall] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "scripted"

    @property
    def n_ctx(self) -> int:
        return self.context

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def reset(self) -> None:
        self.calls.clear()

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        self.calls.append(ScriptedCall(list(messages), None, options))
        prompt_tokens = sum(self.count_tokens(message.content) for message in messages)
        return self._reply(messages, prompt_tokens, options, on_text)

    def complete(self, prompt: str, options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        self.calls.append(ScriptedCall([], prompt, options))
        return self._reply([Message("user", prompt)], self.count_tokens(prompt), options, on_text)

    def _reply(
        self, messages: Sequence[Message], prompt_tokens: int, options: GenerateOptions, on_text: OnText | None
    ) -> Completion:
        if not self.replies:
            raise BackendError("the scripted backend ran out of replies")
        reply = self.replies.pop(0)
        if isinstance(reply, Completion):
            return reply
        text = reply(messages) if callable(reply) else reply
        finish: FinishReason = "stop"
        for stop in options.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop_sequence"
        words = text.split(" ")
        if len(words) > options.max_tokens:
            text, finish = " ".join(words[: options.max_tokens]), "length"
        if on_text is not None:
            for index, word in enumerate(text.split(" ")):
                on_text(word if index == 0 else " " + word)
        stats = GenerationStats(
            prompt_tokens=prompt_tokens,
            evaluated_prompt_tokens=prompt_tokens,
            generated_tokens=self.count_tokens(text),
        )
        return Completion(text=text, finish_reason=finish, stats=stats)
