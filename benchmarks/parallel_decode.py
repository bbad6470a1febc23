"""Aggregate decode tokens/s of 1, 2 and 4 parallel sequences of one context, measured side by side in one run.

    .venv/bin/python -m benchmarks.parallel_decode [--model PATH] [--threads 2] [--tokens 64]

Every sequence gets the same prompt (a shared system prompt and the same question; distinct seeds, so replies
differ), read first with a 1-token call so the timed call is decode only. Printed per run: tokens generated,
wall seconds, aggregate tokens/s and its ratio to 1 sequence (target >= 2x at 4), then the lone
`LlamaCppBackend` on the same prompt (the engine's overhead at 1 sequence), and the prompt tokens the
cold 4-sequence start evaluated vs copied from the first sequence (`llama_memory_seq_cp`).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from ornith_local.llm.backend import Completion, GenerateOptions, Message
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.llm.parallel_backend import ParallelSequenceBackend, open_parallel
from ornith_local.models.tiny import ensure_tiny_model

SYSTEM = Message("system", "You are a coding assistant. You answer with plain numbered lists, no prose. " * 6)
QUESTION = Message("user", "List one hundred common Python standard library modules, one per line, numbered.")


def _all(backends: list[ParallelSequenceBackend], options: GenerateOptions) -> list[Completion]:
    results: list[Completion | None] = [None] * len(backends)

    def run(index: int) -> None:
        results[index] = backends[index].chat([SYSTEM, QUESTION], GenerateOptions(
            max_tokens=options.max_tokens, temperature=options.temperature, seed=options.seed))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(backends))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for result in results if result is not None]


def measure(model: Path, n: int, threads: int, tokens: int) -> tuple[int, float, int, int]:
    """(tokens generated, decode seconds, prompt tokens evaluated cold, prompt tokens copied) for `n` sequences."""
    engine, backends = open_parallel(model, n, n_ctx_per_seq=1024, threads=threads)
    try:
        _all(backends, GenerateOptions(max_tokens=1, temperature=0.7))  # read the prompt (shared) first
        evaluated, adopted = engine.evaluated_tokens - n, engine.adopted_tokens
        started = time.perf_counter()
        results = _all(backends, GenerateOptions(max_tokens=tokens, temperature=0.7, seed=1))
        elapsed = time.perf_counter() - started
        return sum(result.stats.generated_tokens for result in results), elapsed, evaluated, adopted
    finally:
        engine.close()


def lone(model: Path, threads: int, tokens: int) -> tuple[int, float]:
    backend = LlamaCppBackend(model, n_ctx=1024, threads=threads)
    backend.chat([SYSTEM, QUESTION], GenerateOptions(max_tokens=1, temperature=0.7))
    started = time.perf_counter()
    result = backend.chat([SYSTEM, QUESTION], GenerateOptions(max_tokens=tokens, temperature=0.7, seed=1))
    return result.stats.generated_tokens, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a GGUF (default: the tiny test model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per sequence")
    args = parser.parse_args()
    model = args.model or ensure_tiny_model()
    print(f"model {model.name}, threads {args.threads}, {args.tokens} tokens per sequence, temperature 0.7")
    base = 0.0
    for n in (1, 2, 4):
        generated, seconds, evaluated, adopted = measure(model, n, args.threads, args.tokens)
        rate = generated / seconds
        base = base or rate
        print(f"{n} sequence(s): {generated:4d} tokens in {seconds:6.2f} s = {rate:7.1f} tok/s aggregate, "
              f"x{rate / base:.2f} vs 1; cold prompt: {evaluated} tokens evaluated, {adopted} copied")
    generated, seconds = lone(model, args.threads, args.tokens)
    print(f"lone LlamaCppBackend: {generated:4d} tokens in {seconds:6.2f} s = {generated / seconds:7.1f} tok/s "
          f"(engine at 1 sequence: x{base / (generated / seconds):.2f} of it)")


if __name__ == "__main__":
    main()
