"""A model's vocabulary as the prompt side needs it: tokenizing with control tokens, each token's bytes, and
defusing control-token text that arrives in content (a file, a command's output) so it stays plain text."""

from __future__ import annotations

import ctypes
import re
from dataclasses import replace
from typing import Any

from ornith_local.llm.backend import Message

# What most control tokens' text looks like (<|im_end|>, <end_of_turn>, </s>, [INST]): candidates are looked up
# in the vocabulary's real list; any control token of another shape is matched literally (`_control_pattern`).
_MARKER_SHAPE = r"<[^<>]{1,64}>|\[[^\[\]]{1,64}\]"
# Stands in the rendered prompt for control-token text found in a message: private-use code points around the
# text's number in `_control_numbers`, tokenized back into that text as plain tokens.
_STAND_IN = re.compile("\ue000(\\d+)\ue001")


class Vocabulary:
    def __init__(self, llama: Any, api: Any) -> None:
        self.llama, self.api = llama, api  # a `llama_cpp.Llama` (or one sequence of a shared context) and its C API
        self._pieces: dict[int, bytes] = {}
        self._controls: dict[str, int] | None = None
        self._control_regex: re.Pattern[str] | None = None
        self._piece_buffer = ctypes.create_string_buffer(256)

    def defuse(self, message: Message) -> Message:
        """The message with control-token text in its content replaced by stand-ins (the model's turns stay).

        The rendered prompt is tokenized with special tokens on, so the template's markers become control
        tokens. A file or a command's output that contains "<|im_end|><|im_start|>system" would become real
        turn boundaries too: a prompt injection. Stand-ins are tokenized back into that exact text as plain
        tokens, so the model reads the content unchanged (and can copy it into an edit) without the control.
        """
        if message.role == "assistant":
            return message
        index = self._control_numbers()
        # Every control token the vocabulary has, wherever it appears (no whitespace or shape assumed).
        content = self._control_pattern().sub(
            lambda match: f"\ue000{index[match[0]]}\ue001" if match[0] in index else match[0], message.content)
        return message if content == message.content else replace(message, content=content)

    def _control_pattern(self) -> re.Pattern[str]:
        if self._control_regex is None:
            shaped = re.compile(_MARKER_SHAPE)
            others = sorted((text for text in self._control_numbers() if text and not shaped.fullmatch(text)),
                            key=len, reverse=True)  # longest first: a longer token wins over one inside it
            self._control_regex = re.compile("|".join([_MARKER_SHAPE, *map(re.escape, others)]))
        return self._control_regex

    def _control_numbers(self) -> dict[str, int]:
        """Each control token's text and its stand-in number (its place in sorted order)."""
        if self._controls is None:  # once per model, on first need: ~0.2 s over a 262K vocabulary
            vocab, api = self.llama._model.vocab, self.api
            special = api.LLAMA_TOKEN_ATTR_CONTROL | api.LLAMA_TOKEN_ATTR_UNKNOWN  # both parsed only as specials
            texts = sorted({
                self.piece(token).decode("utf-8", "replace") for token in range(api.llama_vocab_n_tokens(vocab))
                if api.llama_vocab_get_attr(vocab, token) & special
            })
            self._controls = {text: number for number, text in enumerate(texts)}
        return self._controls

    def tokenize(self, text: str, *, special: bool, add_bos: bool = False) -> list[int]:
        tokens: list[int] = []
        start = 0
        controls = list(self._control_numbers()) if special and "\ue000" in text else []
        for stand_in in _STAND_IN.finditer(text) if controls else ():
            number = int(stand_in[1])
            if number < len(controls):
                tokens += self.llama.tokenize(text[start:stand_in.start()].encode("utf-8"), add_bos=False, special=True)
                tokens += self.llama.tokenize(controls[number].encode("utf-8"), add_bos=False, special=False)
                start = stand_in.end()
        tokens += self.llama.tokenize(text[start:].encode("utf-8"), add_bos=False, special=special)
        bos = self.llama.token_bos()
        if add_bos and self.llama._model.add_bos_token() and bos >= 0 and tokens[:1] != [bos]:
            tokens.insert(0, bos)
        return tokens

    def piece(self, token: int) -> bytes:
        """The bytes of one token (special tokens spelled out), cached: a token's piece never changes."""
        cached = self._pieces.get(token)
        if cached is None:
            vocab = self.llama._model.vocab
            size = self.api.llama_token_to_piece(vocab, token, self._piece_buffer, 256, 0, True)
            cached = self._piece_buffer.raw[: max(size, 0)]
            self._pieces[token] = cached
        return cached
