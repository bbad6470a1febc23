"""A `Backend` per sequence of a `ParallelEngine`: `LlamaCppBackend`'s conversation logic over one sequence.

`LlamaCppBackend` drives a `llama_cpp.Llama` through a small surface (tokenize, eval, generate, the cached
token ids, trimming its memory). `_SequenceLlama` offers that surface for one sequence of the shared engine,
so templates, control-token defusing, append-only reuse, stop sequences, grammars and think-first are the
same code in both backends; only evaluation and sampling go through the engine's shared batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.llm.parallel import ParallelEngine
from ornith_local.models.gguf import GgufInfo, read_gguf

_SEED_STRIDE = 7919  # sequence i samples with seed + i * stride: attempts of one task do not draw alike


class _SequenceMemory:
    """`Llama._ctx` for one sequence: the two memory edits `LlamaCppBackend` makes."""

    def __init__(self, engine: ParallelEngine, seq: int) -> None:
        self.engine, self.seq = engine, seq

    def kv_cache_seq_rm(self, _seq: int, start: int, _end: int) -> bool:
        return self.engine.trim(self.seq, start)

    def kv_cache_clear(self) -> None:
        self.engine.clear(self.seq)


class _SequenceLlama:
    """The part of `llama_cpp.Llama` that `LlamaCppBackend` uses, for sequence `seq` of the engine."""

    def __init__(self, engine: ParallelEngine, seq: int) -> None:
        self.engine, self.seq = engine, seq
        self._model = engine.model
        self._ctx = _SequenceMemory(engine, seq)
        self.model, self.ctx = engine.model.model, engine.ctx
        self.seed = 0

    def n_ctx(self) -> int:
        return self.engine.n_ctx_per_seq

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(self._model.tokenize(text, add_bos, special))

    def token_bos(self) -> int:
        return int(self._model.token_bos())

    @property
    def input_ids(self) -> Any:
        return np.array(self.engine.cached[self.seq], dtype=np.intc)

    @property
    def n_tokens(self) -> int:
        return len(self.engine.cached[self.seq])

    @n_tokens.setter
    def n_tokens(self, keep: int) -> None:
        # `LlamaCppBackend` sets this after trimming or clearing the memory, which already dropped the rest.
        if keep < self.n_tokens and not self.engine.trim(self.seq, keep):
            self.engine.clear(self.seq)

    def reset(self) -> None:
        """Like `Llama.reset`, forget the token ids; the memory itself is cleared by `kv_cache_clear`."""

    def set_seed(self, seed: int) -> None:
        self.seed = seed + self.seq * _SEED_STRIDE

    def eval(self, tokens: list[int]) -> None:
        self.engine.submit(self.seq, tokens, None)

    def generate(self, tokens: list[int], *, reset: bool = False, grammar: Any = None, temp: float = 0.8,
                 top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05, repeat_penalty: float = 1.0,
                 presence_penalty: float = 0.0, **_: Any) -> Iterator[int]:
        """`Llama.generate`: each token is yielded before it is evaluated; resuming evaluates it and samples on."""
        from ornith_local.llm.sampling import SamplingOptions, TokenSampler  # imports llama_cpp

        sampler = TokenSampler(self._model, SamplingOptions(
            temp=temp, top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
            presence_penalty=presence_penalty, seed=self.seed & 0xFFFFFFFF, grammar=grammar))
        self.engine.set_active(self.seq, True)
        try:
            while True:
                token = self.engine.submit(self.seq, tokens, sampler)
                yield token
                tokens = [token]
        finally:
            self.engine.set_active(self.seq, False)
            sampler.close()


class ParallelSequenceBackend(LlamaCppBackend):
    """One sequence of a `ParallelEngine`, as a `Backend` its own thread drives while others drive theirs."""

    def __init__(self, engine: ParallelEngine, seq: int, *, info: GgufInfo, template_family: str | None = None,
                 sampling: dict[str, float] | None = None) -> None:
        # Not `super().__init__`, which loads a model: the conversation state over this sequence of the shared one.
        # No warm start from disk (it restores one whole context) and no recurrent checkpoints (they save sequence
        # 0): a rewritten history re-reads this sequence's prompt. The engine keeps full-size SWA caches (window 0).
        self._attach(_SequenceLlama(engine, seq), engine.api, engine.model_path, info, template_family=template_family,
                     sampling=sampling, recurrent=engine.recurrent, window=0, warm=None)
        self.engine, self.seq = engine, seq

    def _decoder(self) -> Callable[..., Iterator[int]]:
        # Sampling happens inside the engine's batched step, while the logits row is valid.
        return self.llama.generate  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        return f"{self.model_path.name}#{self.seq}"


def open_parallel(model_path: Path, n: int, *, n_ctx_per_seq: int = 4096, threads: int = 2, n_gpu_layers: int = 0,
                  template_family: str | None = None, sampling: dict[str, float] | None = None,
                  info: GgufInfo | None = None) -> tuple[ParallelEngine, list[ParallelSequenceBackend]]:
    """One engine for `n` sequences and a backend per sequence (close the engine when done)."""
    info = info or read_gguf(model_path)
    engine = ParallelEngine(model_path, n_seq=n, n_ctx_per_seq=n_ctx_per_seq, threads=threads,
                            n_gpu_layers=n_gpu_layers)
    backends = [ParallelSequenceBackend(engine, seq, info=info, template_family=template_family, sampling=sampling)
                for seq in range(n)]
    return engine, backends
