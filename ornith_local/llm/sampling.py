"""Token sampling on llama.cpp with a grammar checked on the chosen token first (as llama.cpp's server does).

llama-cpp-python 0.3.36 puts the grammar sampler in the chain before top-k, so every token checks the grammar
against the whole vocabulary (262K on Gemma 3): constrained decoding ran at 0.29x free decoding. Here the chain
runs WITHOUT the grammar, the grammar checks only the token it chose, and only when that token is rejected are
the candidates rebuilt from the logits, filtered by the grammar over the whole vocabulary, and sampled again
(llama.cpp `common_sampler_sample` with grammar_first=false). That second pass first tries the best 256
penalized candidates (4x top-k when sampling), exact whenever enough of them pass (see `_resample`), and only
then the whole vocabulary.

Interface (the parallel engine, `parallel.py`, reuses `TokenSampler` on its own batch's logits rows):

* `SamplingOptions` (frozen): temp, top_k, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty,
  seed, penalty_last_n, grammar (a `llama_cpp.LlamaGrammar` or None). `temp <= 0` is greedy.
* `TokenSampler(model, options)`: `model` is a `llama_cpp.Llama`'s `_model` (a `_internals.LlamaModel`:
  `.model` the llama_model pointer, `.vocab` the vocab pointer). One sampler per sequence: it holds that
  sequence's penalty history, RNG and grammar state.
  - `sample(ctx, row) -> int`: samples from logits row `row` of `ctx` (a llama_context pointer; `row` as for
    `llama_get_logits_ith`: the index of the token in the last decoded batch, -1 for its last) and ACCEPTS the
    token (penalty history, grammar state). No decoding happens here; it assumes nothing about sequences.
  - `fallbacks`: how many tokens needed the full-vocabulary grammar pass; `sampled`: tokens sampled.
  - `close()`: frees the llama.cpp samplers (also on garbage collection).
* `Evaluator` (a Protocol): `ctx` (llama_context pointer) and `eval(tokens) -> int`, which decodes `tokens` after
  what is already evaluated and returns the logits row of the last one (-1 in a single-sequence batch). It owns
  the token history; `LlamaEvaluator(llama)` adapts a `llama_cpp.Llama` and keeps `input_ids`/`n_tokens` exactly as
  `Llama.eval` does (the backend's prompt-cache reuse reads `llama.input_ids[:llama.n_tokens]`).
* `decode(evaluator, sampler, tokens)`: the same contract as `Llama.generate(tokens, reset=False)` without a
  draft model: evaluate `tokens`, yield a sampled token; when resumed (optionally `.send(more_tokens)`), evaluate
  that token (and the sent tokens) and yield the next one.

At temperature 0 the output is identical to full filtering: if the argmax passes the grammar it is also the argmax
of the filtered set. At temperature > 0 the distribution differs slightly from full filtering (the token is drawn
from the unfiltered top-k/top-p set and redrawn from the filtered one only when rejected), as in llama.cpp's server.
"""

from __future__ import annotations

import ctypes
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import llama_cpp
import numpy as np

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


@dataclass(frozen=True)
class SamplingOptions:
    temp: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int = llama_cpp.LLAMA_DEFAULT_SEED
    penalty_last_n: int = 64
    grammar: Any = None  # llama_cpp.LlamaGrammar


class TokenSampler:
    """Samples one sequence's tokens; see the module docstring."""

    def __init__(self, model: Any, options: SamplingOptions) -> None:
        self.fallbacks = 0
        self.sampled = 0
        self._model = model
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(model.vocab))
        # The same chain as llama-cpp-python's `Llama._init_sampler`, less the grammar (so free output matches it).
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self._chain: Any = chain
        self._grammar: Any = None
        self._penalties: Any = None
        add = llama_cpp.llama_sampler_chain_add
        penalties = llama_cpp.llama_sampler_init_penalties(self._n_vocab, options.penalty_last_n,
                                                           options.repeat_penalty, options.frequency_penalty,
                                                           options.presence_penalty)
        if options.grammar is None:
            add(chain, penalties)
        else:  # kept apart: a rejected token's second pass narrows the candidates after the penalties, before the rest
            self._penalties = penalties
        # A second pass over the best `_narrow` penalized candidates is exact when at least `_needed` pass the
        # grammar: no token outside them can outrank them (greedy needs 1 survivor, top-k needs k).
        self._needed = 1 if options.temp <= 0.0 else (options.top_k if options.top_k > 0 else self._n_vocab)
        self._narrow = max(256, 4 * self._needed)
        if options.temp <= 0.0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            add(chain, llama_cpp.llama_sampler_init_top_k(options.top_k))
            add(chain, llama_cpp.llama_sampler_init_typical(1.0, 1))
            add(chain, llama_cpp.llama_sampler_init_top_p(options.top_p, 1))
            add(chain, llama_cpp.llama_sampler_init_min_p(options.min_p, 1))
            add(chain, llama_cpp.llama_sampler_init_temp(options.temp))
            add(chain, llama_cpp.llama_sampler_init_dist(options.seed))
        if options.grammar is not None:
            grammar = options.grammar
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
            if not self._grammar:
                self.close()
                raise ValueError("llama.cpp rejected the grammar")
            # Candidates for the whole vocabulary, rebuilt from the logits for each full pass; ids never change.
            self._data = np.zeros(self._n_vocab, dtype=_TOKEN_DATA)
            self._data["id"] = np.arange(self._n_vocab, dtype=np.int32)
            self._one = np.zeros(1, dtype=_TOKEN_DATA)

    def _array(self, data: np.ndarray[Any, Any], size: int) -> llama_cpp.llama_token_data_array:
        pointer = ctypes.cast(data.ctypes.data, llama_cpp.llama_token_data_p)
        return llama_cpp.llama_token_data_array(data=pointer, size=size, selected=-1, sorted=False)

    def _candidates(self, ctx: Any, row: int) -> llama_cpp.llama_token_data_array:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, row), shape=(self._n_vocab,))
        self._data["logit"] = logits
        self._data["p"] = 0.0
        return self._array(self._data, self._n_vocab)

    def sample(self, ctx: Any, row: int) -> int:
        self.sampled += 1
        if self._grammar is None:
            # Samples, then accepts on the chain, all in C: no per-token copy of the logits.
            return int(llama_cpp.llama_sampler_sample(self._chain, ctx, row))
        array = self._candidates(ctx, row)
        llama_cpp.llama_sampler_apply(self._penalties, ctypes.byref(array))
        llama_cpp.llama_sampler_apply(self._chain, ctypes.byref(array))
        token = int(self._data["id"][array.selected])
        self._one[0] = (token, 1.0, 0.0)
        single = self._array(self._one, 1)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(single))
        if not np.isfinite(self._one["logit"][0]):
            self.fallbacks += 1
            token = self._resample(ctx, row)
        for sampler in (self._grammar, self._penalties, self._chain):
            llama_cpp.llama_sampler_accept(sampler, token)
        return token

    def _resample(self, ctx: Any, row: int) -> int:
        """Rejected: the grammar on the candidates first, then the chain on what it allows."""
        array = self._candidates(ctx, row)
        llama_cpp.llama_sampler_apply(self._penalties, ctypes.byref(array))
        best = np.argpartition(self._data["logit"], -self._narrow)[-self._narrow:]
        narrow = self._data[best]
        small = self._array(narrow, len(narrow))
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(small))
        if np.count_nonzero(np.isfinite(narrow["logit"])) >= self._needed:
            llama_cpp.llama_sampler_apply(self._chain, ctypes.byref(small))
            return int(narrow["id"][small.selected])
        # Too few of the best pass: the whole (penalized) vocabulary through the grammar, as full filtering does.
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))
        llama_cpp.llama_sampler_apply(self._chain, ctypes.byref(array))
        return int(self._data["id"][array.selected])

    def close(self) -> None:
        for name in ("_chain", "_grammar", "_penalties"):
            sampler = getattr(self, name, None)
            if sampler:
                llama_cpp.llama_sampler_free(sampler)
            setattr(self, name, None)

    def __del__(self) -> None:
        self.close()


class Evaluator(Protocol):
    @property
    def ctx(self) -> Any: ...

    def eval(self, tokens: Sequence[int]) -> int: ...


class LlamaEvaluator:
    """A `llama_cpp.Llama` as an `Evaluator`: `Llama.eval` keeps `input_ids`/`n_tokens` as `generate` does."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama

    @property
    def ctx(self) -> Any:
        return self.llama._ctx.ctx

    def eval(self, tokens: Sequence[int]) -> int:
        if tokens:
            self.llama.eval(list(tokens))
        return -1


def sampler_for(llama: Any, *, temp: float, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
                repeat_penalty: float = 1.0, presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
                grammar: Any = None) -> TokenSampler:
    """A sampler with `Llama.generate`'s keywords and the `Llama`'s own seed and penalty window."""
    options = SamplingOptions(temp=temp, top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                              presence_penalty=presence_penalty, frequency_penalty=frequency_penalty,
                              seed=int(llama._seed), penalty_last_n=int(llama.last_n_tokens_size), grammar=grammar)
    return TokenSampler(llama._model, options)


def decode(evaluator: Evaluator, sampler: TokenSampler,
           tokens: Sequence[int]) -> Generator[int, Sequence[int] | None, None]:
    """`Llama.generate(tokens, reset=False)` over any `Evaluator` and `TokenSampler` (see the module docstring)."""
    pending = list(tokens)
    while True:
        row = evaluator.eval(pending)
        token = sampler.sample(evaluator.ctx, row)
        more = yield token
        pending = [token, *(more or ())]


def generate(llama: Any, tokens: Sequence[int], *, reset: bool = False, grammar: Any = None,
             **kwargs: Any) -> Generator[int, Sequence[int] | None, None]:
    """Drop-in for `llama.generate(tokens, reset=False, grammar=..., **sampler keywords)` with the fast grammar."""
    if reset:
        raise ValueError("sampling.generate continues the evaluated tokens; reset the Llama first")
    sampler = sampler_for(llama, grammar=grammar, **kwargs)
    try:
        yield from decode(LlamaEvaluator(llama), sampler, tokens)
    finally:
        sampler.close()
