"""An OpenAI-compatible HTTP server as the backend: llama-server, Ollama, LM Studio, vLLM, SGLang.

Streams over server-sent events with the standard library only. When the server splits reasoning
(`reasoning_content`) or tool calls (`tool_calls`) out of the text, they are passed through; when it
does not, `Completion.text` holds the raw text and the caller parses it, exactly as for llama.cpp.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ornith_local.llm.backend import (
    BackendError,
    Completion,
    FinishReason,
    GenerateOptions,
    GenerationStats,
    Message,
    OnText,
    ToolCall,
    schema_tool,
)

_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "stop", "eos": "stop"}
# Text shaped like the control tokens of the chat templates servers use, matched anywhere (no whitespace needed
# around them): ChatML / Qwen `<|im_start|>`, Llama 3 `<|eot_id|>` `<|start_header_id|>`, Phi `<|end|>`, GPT-OSS
# harmony `<|start|>` `<|channel|>` `<|message|>`, DeepSeek's full-width `<｜…｜>`; Gemma 4's one-sided `<|turn>`
# `<turn|>`; Gemma 2/3 `<start_of_turn>`, SentencePiece `<bos>` `<eos>` `</s>`; Mistral's `[INST]` `[/INST]`
# `[SYSTEM_PROMPT]` `[TOOL_CALLS]` `[AVAILABLE_TOOLS]` `[TOOL_RESULTS]` `[THINK]`.
_TURN_MARKER = re.compile(
    r"<[|｜][^<>\s]{1,64}[|｜]>|<\|[^<>|\s]{1,64}>|<[^<>|\s]{1,64}\|>"
    r"|<(?:start|end)_of_(?:turn|image)>|<(?:bos|eos|pad|unk|mask)>|</?s>"
    r"|\[/?(?:INST|SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|TOOL_CONTENT|THINK)\]"
)
# Invisible, and it splits the marker into plain tokens: the server's tokenizer cannot read it as a control token.
_JOINER = "\u2060"
# The joiner as a character, or JSON-escaped in a tool call's arguments.
_JOINED = re.compile(r"([<\[])(?:\u2060|\\u2060)", re.IGNORECASE)


def defuse_markers(text: str) -> str:
    """`text` with turn-marker look-alikes broken by an invisible joiner after their first character.

    A server renders the chat template and tokenizes it with special tokens on, so "<|im_end|>" in a file the
    agent read would end the turn for real: a prompt injection. The in-process backend swaps such text for plain
    tokens using the model's vocabulary; a server's vocabulary is unknown here, so the common shapes are broken.
    """
    return _TURN_MARKER.sub(lambda match: match[0][0] + _JOINER + match[0][1:], text)


def _arguments_text(arguments: Any) -> str:
    # The OpenAI API carries a call's arguments as JSON text; the agent may hold them as a mapping.
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _defused(message: Message) -> Message:
    calls = tuple(
        {**call, "function": {**call["function"],
                              "arguments": defuse_markers(_arguments_text(call["function"].get("arguments", {})))}}
        if isinstance(call.get("function"), dict) else call
        for call in message.tool_calls
    )
    reasoning = defuse_markers(message.reasoning) if message.reasoning is not None else None
    return replace(message, content=defuse_markers(message.content), tool_calls=calls, reasoning=reasoning)


def _tool_choice(choice: str) -> Any:
    return choice if choice in ("auto", "required", "none") else {"type": "function", "function": {"name": choice}}


def restore_markers(text: str) -> str:
    """The model copies what it read: a marker it quotes back (say, in an edit) is written without the joiner."""
    return _JOINED.sub(r"\1", text) if _JOINER in text or "\\u2060" in text.lower() else text


class HttpBackend:
    def __init__(self, endpoint: str, *, model: str = "default", context: int = 32768, timeout_s: float = 600.0,
                 api_key: str | None = None, sampling: dict[str, float] | None = None) -> None:
        base = endpoint.rstrip("/")
        self.base = base if base.endswith("/v1") else base + "/v1"
        self.model, self.context, self.timeout_s, self.api_key = model, context, timeout_s, api_key
        # The catalog's sampling for this model (presence_penalty included), sent where the options leave a
        # value unset; without it the server's own defaults apply.
        self.sampling = dict(sampling or {})

    @property
    def name(self) -> str:
        return self.base

    @property
    def n_ctx(self) -> int:
        return self.context

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)  # the OpenAI API has no tokenizer endpoint; a rough estimate

    def reset(self) -> None:
        """Nothing to forget here: the server keeps (and reuses) its own cache."""

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        body: dict[str, Any] = {"messages": [_defused(message).to_openai() for message in messages]}
        answer_tool: str | None = None
        if options.tools:
            body["tools"] = list(options.tools)
            if options.json_schema is not None:
                # Servers that get `response_format` beside `tools` (Ollama's ornith-1.5:35b, #17957) break:
                # with tools, a schema-shaped answer is a forced call of a tool whose parameters are the schema.
                answer_tool = options.schema_name
                body["tools"].append(schema_tool(answer_tool, "Give your answer as this tool's arguments.",
                                                 options.json_schema))
                body["tool_choice"] = _tool_choice(answer_tool)
            elif options.tool_choice:
                body["tool_choice"] = _tool_choice(options.tool_choice)
        elif options.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": options.schema_name, "schema": options.json_schema}}
        completion = self._call("chat/completions", body, options, on_text)
        answers = [call for call in completion.tool_calls if call.name == answer_tool]
        if answers:  # the answer came as the forced call: it is the reply's text, not a call to run
            return replace(completion, text=answers[0].arguments, tool_calls=[])
        return completion

    def complete(self, prompt: str, options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        return self._call("completions", {"prompt": prompt}, options, on_text)

    def _request(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base}/{path}", data=json.dumps(body).encode(), headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace").strip().splitlines()[:1]
            suffix = f": {detail[0]}" if detail else ""
            raise BackendError(f"{self.base}: HTTP {error.code} {error.reason}{suffix}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise BackendError(f"cannot reach {self.base}: {reason}") from None

    def _events(self, response: Any) -> Iterator[dict[str, Any]]:
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                yield json.loads(data)
            except json.JSONDecodeError:
                raise BackendError(f"{self.base}: the server sent an unreadable event: {data[:80]!r}") from None

    def _call(self, path: str, body: dict[str, Any], options: GenerateOptions, on_text: OnText | None) -> Completion:
        body |= {"model": self.model, "stream": True, "max_tokens": options.max_tokens, "seed": options.seed,
                 "stream_options": {"include_usage": True}}
        if options.stop:
            body["stop"] = list(options.stop)
        for key in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "presence_penalty"):
            value = getattr(options, key)
            value = self.sampling.get(key) if value is None else value
            if value is not None:
                body[key] = int(value) if key == "top_k" else value
        stats = GenerationStats()
        started = time.perf_counter()
        text, reasoning, chunks = "", "", 0
        finish: FinishReason = "length"
        calls: dict[int, dict[str, Any]] = {}
        with self._request(path, body) as response:
            for event in self._events(response):
                self._read_usage(event, stats)
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = choice.get("text") if "text" in choice else delta.get("content")
                    thought = delta.get("reasoning_content") or delta.get("reasoning")
                    if (piece or thought or delta.get("tool_calls")) and chunks == 0:
                        stats.time_to_first_token_s = time.perf_counter() - started
                    if piece or thought:
                        chunks += 1
                    if thought:
                        reasoning += thought
                    if piece:
                        text += piece
                        if on_text is not None:
                            on_text(piece)
                    for call in delta.get("tool_calls") or []:
                        self._merge_call(calls, call)
                    if choice.get("finish_reason"):
                        finish = _FINISH.get(choice["finish_reason"], "stop")
        stats.total_s = time.perf_counter() - started
        stats.generated_tokens = stats.generated_tokens or chunks
        tool_calls = [
            ToolCall(call["id"] or f"call_{index}", call["function"]["name"],
                     restore_markers(call["function"]["arguments"]))
            for index, call in (sorted(calls.items()))
        ]
        return Completion(restore_markers(text), finish, stats, reasoning=restore_markers(reasoning) or None,
                          tool_calls=tool_calls)

    @staticmethod
    def _read_usage(event: dict[str, Any], stats: GenerationStats) -> None:
        usage = event.get("usage") or {}
        if usage:
            stats.prompt_tokens = int(usage.get("prompt_tokens", 0))
            stats.generated_tokens = int(usage.get("completion_tokens", 0))
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            stats.evaluated_prompt_tokens = stats.prompt_tokens - int(cached or 0)
        timings = event.get("timings") or {}
        if "prompt_n" in timings:  # llama-server reports the tokens it actually evaluated
            stats.evaluated_prompt_tokens = int(timings["prompt_n"])

    @staticmethod
    def _merge_call(calls: dict[int, dict[str, Any]], fragment: dict[str, Any]) -> None:
        """Tool calls stream in fragments keyed by index: the name once, the arguments in pieces."""
        call = calls.setdefault(int(fragment.get("index", len(calls))),
                                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        call["id"] = fragment.get("id") or call["id"]
        function = fragment.get("function") or {}
        name = function.get("name") or ""
        if name != call["function"]["name"]:  # llama-cpp-python's server repeats the whole name in every chunk
            call["function"]["name"] += name
        call["function"]["arguments"] += function.get("arguments") or ""
