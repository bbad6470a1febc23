"""Saved recurrent states of a hybrid model (qwen35 / qwen35moe), so a rewritten history is not re-read from token 0.

A transformer's KV cache can be cut back to any position: when history changes at token N, tokens before N
stay. A hybrid model also carries the recurrent state of its linear-attention layers, which summarises every
token so far and cannot be cut back. So each prompt end is checkpointed: llama.cpp's partial sequence state
(`LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY`: the recurrent part only; the full-attention layers' KV stays in the
cache and is trimmed as on a transformer) is copied out. When history changes at N, the latest checkpoint at
or before N whose tokens still match is restored and evaluation resumes there.

The first prompt's checkpoint (system prompt and task: what compaction keeps) is kept for the whole session,
with the latest few after it. A recurrent state is small (tens of MB for a 9B model), unlike the KV cache.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("ornith.llm")
_KEEP_LATEST = 3


@dataclass(frozen=True)
class Checkpoint:
    tokens: tuple[int, ...]  # the evaluated tokens the state summarises
    state: bytes

    @property
    def position(self) -> int:
        return len(self.tokens)


class RecurrentCheckpoints:
    """Checkpoints of sequence 0 of one llama.cpp context; empty and inert when the API is missing."""

    def __init__(self, llama: Any, api: Any) -> None:
        self.llama, self.api = llama, api
        self.flags = int(getattr(api, "LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY", 1))
        self.available = all(hasattr(api, name) for name in (
            "llama_state_seq_get_size_ext", "llama_state_seq_get_data_ext", "llama_state_seq_set_data_ext"))
        self.saved: list[Checkpoint] = []
        self.restores = 0

    def clear(self) -> None:
        self.saved.clear()

    def save(self, tokens: list[int]) -> None:
        """Checkpoint the state after `tokens` (all of them evaluated, nothing after them)."""
        if not self.available or not tokens or any(c.position == len(tokens) for c in self.saved):
            return
        ctx = self.llama.ctx
        size = int(self.api.llama_state_seq_get_size_ext(ctx, 0, self.flags))
        buffer = (ctypes.c_uint8 * size)()
        written = int(self.api.llama_state_seq_get_data_ext(ctx, buffer, size, 0, self.flags))
        if written <= 0:
            return
        self.saved.append(Checkpoint(tuple(tokens), bytes(buffer)[:written]))
        self.saved.sort(key=lambda checkpoint: checkpoint.position)
        if len(self.saved) > 1 + _KEEP_LATEST:  # the first prompt's, and the latest few
            del self.saved[1 : len(self.saved) - _KEEP_LATEST]

    def restore_before(self, tokens: list[int], limit: int) -> int:
        """Restore the latest checkpoint at or before `limit` that is a prefix of `tokens`; its position, or 0."""
        for checkpoint in reversed(self.saved):
            size = checkpoint.position
            if size > limit or tuple(tokens[:size]) != checkpoint.tokens:
                continue
            data = (ctypes.c_uint8 * len(checkpoint.state)).from_buffer_copy(checkpoint.state)
            read = int(self.api.llama_state_seq_set_data_ext(self.llama.ctx, data, len(checkpoint.state), 0,
                                                             self.flags))
            memory = self.api.llama_get_memory(self.llama.ctx)
            # The recurrent part now stands at `size`; the attention layers' KV is trimmed back to it.
            if read <= 0 or not self.api.llama_memory_seq_rm(memory, 0, size, -1):
                logger.info("could not restore the saved state at token %d; re-evaluating", size)
                return 0
            self.restores += 1
            return size
        return 0
