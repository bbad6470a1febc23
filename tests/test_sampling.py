"""The fast grammar path (sampling.py) on the real tiny model: the same tokens as full filtering at temperature 0."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from ornith_local.llm import sampling
from ornith_local.llm.grammar import grammar_for_schema

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}
VERDICT = {"type": "object", "properties": {"verdict": {"enum": ["pass", "fail"]}, "score": {"type": "integer"}},
           "required": ["verdict", "score"]}
FLAGS = {"type": "object", "properties": {"ok": {"type": "boolean"}, "color": {"enum": ["red", "blue"]}},
         "required": ["ok", "color"]}
CASES = [
    ("Describe a person as JSON:\n", PERSON),
    ("Review this code: def add(a, b): return a - b\nVerdict:", VERDICT),
    # Prose invites prose: the model's free argmax breaks the grammar, so the full-vocabulary pass runs.
    ("Once upon a time, in a land far away, there lived", FLAGS),
]


@pytest.fixture(scope="module")
def llama(tiny_model_path: Path) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=str(tiny_model_path), n_ctx=1024, n_threads=1, n_threads_batch=1, verbose=False)


def run(llama: Any, prompt: str, start: Callable[[list[int]], Iterator[int]], limit: int = 60) -> list[int]:
    llama.reset()
    out: list[int] = []
    for token in start(llama.tokenize(prompt.encode(), add_bos=True)):
        if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token) or len(out) >= limit:
            break
        out.append(token)
    return out


@pytest.mark.parametrize(("prompt", "schema"), CASES)
def test_greedy_constrained_output_is_identical_to_full_filtering(llama: Any, prompt: str,
                                                                  schema: dict[str, Any]) -> None:
    full = run(llama, prompt, lambda t: llama.generate(t, reset=False, temp=0.0, grammar=grammar_for_schema(schema)))
    fast = sampling.sampler_for(llama, temp=0.0, grammar=grammar_for_schema(schema))
    ours = run(llama, prompt, lambda t: sampling.decode(sampling.LlamaEvaluator(llama), fast, t))
    assert ours == full
    value = json.loads(llama.detokenize(ours).decode())  # finished within the limit: it parses
    assert set(schema["required"]) <= set(value)
    if schema is FLAGS:
        assert isinstance(value["ok"], bool) and value["color"] in {"red", "blue"}
        assert fast.fallbacks > 0
    assert fast.fallbacks < fast.sampled  # the cheap path carried some tokens


def test_free_generation_is_identical_to_llama_generate(llama: Any) -> None:
    prompt = "def fibonacci(n):\n"
    theirs = run(llama, prompt, lambda t: llama.generate(t, reset=False, temp=0.0, repeat_penalty=1.1))
    ours = run(llama, prompt, lambda t: sampling.generate(llama, t, temp=0.0, repeat_penalty=1.1))
    assert ours == theirs and len(ours) == 60
    # Resumed for a 61st token, the generator evaluated the 60th: the cache (input_ids) holds the whole reply.
    assert llama.input_ids[: llama.n_tokens].tolist()[-len(ours):] == ours


def test_same_seed_same_output_when_sampling(llama: Any) -> None:
    def sampled(seed: int) -> list[int]:
        llama.set_seed(seed)
        return run(llama, "Describe a person as JSON:\n",
                   lambda t: sampling.generate(llama, t, temp=0.7, grammar=grammar_for_schema(PERSON)))

    first = sampled(7)
    assert sampled(7) == first
    assert set(json.loads(llama.detokenize(first).decode())) == {"name", "age"}


def test_reset_is_refused_in_one_line(llama: Any) -> None:
    with pytest.raises(ValueError, match="reset the Llama first"):
        next(sampling.generate(llama, [1], reset=True, temp=0.0))
