"""Parallel sequences of one llama.cpp context (the tiny real model): results as a lone backend's, prefix read once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import pytest

from ornith_local.llm.backend import Completion, GenerateOptions, Message
from ornith_local.llm.llama_cpp_backend import PREFILL_CHUNK, LlamaCppBackend
from ornith_local.llm.parallel import ParallelEngine
from ornith_local.llm.parallel_backend import ParallelSequenceBackend, open_parallel
from ornith_local.models.gguf import read_gguf
from ornith_local.models.hardware import Gpu, Hardware, LlamaBuild
from ornith_local.models.plan import plan_offload
from ornith_local.models.tiny import ensure_tiny_model

Parallel = tuple[ParallelEngine, list[ParallelSequenceBackend]]

GREEDY = GenerateOptions(max_tokens=24, temperature=0.0, repeat_penalty=1.0, presence_penalty=0.0)
SYSTEM = Message("system", "You are a careful assistant that answers questions about plants and numbers. " * 4)
QUESTIONS = ("What is a tree?", "Name a prime number.", "What colour is the sky?")


@pytest.fixture(scope="module")
def engine() -> Iterator[Parallel]:
    parallel, backends = open_parallel(ensure_tiny_model(), 3, n_ctx_per_seq=1024, threads=1)
    yield parallel, backends
    parallel.close()


@pytest.fixture(scope="module")
def lone() -> LlamaCppBackend:
    return LlamaCppBackend(ensure_tiny_model(), n_ctx=1024, threads=1)


def _reference(lone: LlamaCppBackend, question: str, options: GenerateOptions = GREEDY) -> Completion:
    lone.reset()
    return lone.chat([SYSTEM, Message("user", question)], options)


def _concurrently(*calls: Callable[[], Completion]) -> list[Completion]:
    results: list[Completion | BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as error:  # reported in the test's thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for result in results:
        if not isinstance(result, Completion):
            raise AssertionError(f"a sequence failed: {result!r}")
    return [result for result in results if isinstance(result, Completion)]


def test_three_threads_match_a_lone_backend_and_read_the_shared_prompt_once(
    engine: Parallel, lone: LlamaCppBackend,
) -> None:
    parallel, backends = engine
    for backend in backends:
        backend.reset()
    before_evaluated, before_adopted = parallel.evaluated_tokens, parallel.adopted_tokens
    steps_before = parallel.decode_steps
    results = _concurrently(*(lambda b=backend, q=question: b.chat([SYSTEM, Message("user", q)], GREEDY)
                              for backend, question in zip(backends, QUESTIONS, strict=True)))
    for question, result in zip(QUESTIONS, results, strict=True):
        # Batched matmuls could round differently from a lone decode; on this model they do not: all tokens match.
        assert result.token_ids == _reference(lone, question).token_ids, question
    system_tokens = backends[0].count_tokens(backends[0].render([SYSTEM]))
    prompt_total = sum(result.stats.prompt_tokens for result in results)
    generated = sum(result.stats.generated_tokens for result in results)
    # The two later sequences copied at least the system prompt from the first instead of evaluating it.
    assert parallel.adopted_tokens - before_adopted >= 2 * (system_tokens - 2)
    assert parallel.evaluated_tokens - before_evaluated <= prompt_total + generated - 2 * (system_tokens - 2)
    # Decoding was shared: fewer steps than one per generated token of each sequence.
    assert parallel.decode_steps - steps_before < generated


def test_a_shared_prompt_longer_than_a_prefill_chunk_is_still_read_once(
    engine: Parallel, lone: LlamaCppBackend,
) -> None:
    # The backend sends a long prompt in PREFILL_CHUNK pieces (for progress): every piece after the first finds the
    # sequences warm, and each must still copy what another sequence has just read rather than read it again.
    parallel, backends = engine
    for backend in backends:
        backend.reset()
    # Two chunks, inside the tiny model's 512-token sliding window (beyond it, see parallel.py's note on SWA).
    system = Message("system", " ".join(f"Rule {n}: answer about plants, numbers and colours briefly." for n in
                                        range(30)))
    system_tokens = backends[0].count_tokens(backends[0].render([system]))
    assert PREFILL_CHUNK < system_tokens < 512
    before_evaluated, before_adopted = parallel.evaluated_tokens, parallel.adopted_tokens
    results = _concurrently(*(lambda b=backend, q=question: b.chat([system, Message("user", q)], GREEDY)
                              for backend, question in zip(backends, QUESTIONS, strict=True)))
    for question, result in zip(QUESTIONS, results, strict=True):
        lone.reset()
        assert result.token_ids == lone.chat([system, Message("user", question)], GREEDY).token_ids, question
    chunks = -(-system_tokens // PREFILL_CHUNK)
    # Each later sequence read at most a token of each chunk itself (the one that must be decoded to go on).
    assert parallel.adopted_tokens - before_adopted >= 2 * (system_tokens - 2 * chunks)
    prompt_total = sum(result.stats.prompt_tokens for result in results)
    generated = sum(result.stats.generated_tokens for result in results)
    assert parallel.evaluated_tokens - before_evaluated <= prompt_total + generated - 2 * (system_tokens - 2 * chunks)


def test_a_sequence_finishing_or_resetting_leaves_the_others_unchanged(
    engine: Parallel, lone: LlamaCppBackend,
) -> None:
    _, (short, resetting, steady) = engine
    for backend in (short, resetting, steady):
        backend.reset()
    resetting.chat([SYSTEM, Message("user", QUESTIONS[0])], GREEDY)  # something in its cache to throw away

    def reset_then_chat() -> Completion:
        resetting.reset()
        completion: Completion = resetting.chat([SYSTEM, Message("user", QUESTIONS[2])], GREEDY)
        return completion

    long = GenerateOptions(max_tokens=40, temperature=0.0, repeat_penalty=1.0, presence_penalty=0.0)
    stopped, again, result = _concurrently(
        lambda: short.chat([SYSTEM, Message("user", QUESTIONS[0])], GenerateOptions(max_tokens=2, temperature=0.0)),
        reset_then_chat,
        lambda: steady.chat([SYSTEM, Message("user", QUESTIONS[1])], long),
    )
    assert stopped.stats.generated_tokens == 2 and stopped.finish_reason == "length"
    assert again.token_ids == _reference(lone, QUESTIONS[2]).token_ids
    assert result.token_ids == _reference(lone, QUESTIONS[1], long).token_ids
    # A follow-up turn on the steady sequence reuses its own cache: only the new tail is evaluated.
    follow = steady.chat([SYSTEM, Message("user", QUESTIONS[1]), result.as_message(), Message("user", "Why?")],
                         GREEDY)
    assert follow.stats.reused_prompt_tokens >= result.stats.prompt_tokens


def test_schema_constrained_sequence_gives_json_while_another_runs_free(
    engine: Parallel, lone: LlamaCppBackend,
) -> None:
    _, (constrained, free, _) = engine
    schema = {"type": "object", "properties": {"answer": {"enum": ["four", "six"]}}, "required": ["answer"]}
    shaped = GenerateOptions(max_tokens=40, temperature=0.0, json_schema=schema)
    answer, prose = _concurrently(
        lambda: constrained.chat([Message("user", "How many legs has a cat? Answer in JSON.")], shaped),
        lambda: free.chat([SYSTEM, Message("user", QUESTIONS[0])], GREEDY),
    )
    assert json.loads(answer.text)["answer"] in ("four", "six")
    assert prose.token_ids == _reference(lone, QUESTIONS[0]).token_ids


def test_the_memory_plan_counts_every_sequence_context() -> None:
    info = read_gguf(ensure_tiny_model())
    machine = Hardware("Linux", "x86_64", 8, 16000, 16000, [Gpu("test", "cuda", 1200, 1200)],
                       LlamaBuild(True, "0.3.36", True, "cuda"))
    one = plan_offload(info, machine, want_ctx=8192)
    four = plan_offload(info, machine, want_ctx=8192, sequences=4)
    # The same per-sequence window costs four times the KV cache, or the window shrinks to fit beside it.
    assert four.kv_bytes >= 3 * one.kv_bytes * four.n_ctx // one.n_ctx
    assert four.n_ctx <= one.n_ctx
    assert "4 sequences x" in four.explain() and "sequences" not in one.explain()
