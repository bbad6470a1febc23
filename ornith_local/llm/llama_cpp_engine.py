"""In-process llama.cpp through llama-cpp-python: load a GGUF and stream tokens with timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.llm.gguf import ModelFileError, check_gguf
from ornith_local.models.hardware import free_cores


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        decode_time = self.total_s - self.time_to_first_token_s
        if self.generated_tokens <= 1 or decode_time <= 0:
            return 0.0
        return (self.generated_tokens - 1) / decode_time


class LlamaCppEngine:
    """One loaded model. Raises ModelFileError with a one-line reason when the file cannot be used."""

    def __init__(
        self, model_path: Path, *, n_ctx: int = 4096, n_gpu_layers: int = 0, threads: int | None = None
    ) -> None:
        check_gguf(model_path)
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelFileError("llama-cpp-python is not installed: pip install llama-cpp-python") from None
        self.model_path = model_path
        try:
            self.llama: Any = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads or free_cores(),
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ModelFileError(f"{model_path}: llama.cpp could not load it ({error})") from None
        self.last_stats = GenerationStats()

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as they are decoded; `last_stats` holds the figures when it ends."""
        stats = GenerationStats(prompt_tokens=len(self.llama.tokenize(prompt.encode("utf-8"))))
        self.llama.set_seed(seed)
        started = time.perf_counter()
        chunks = self.llama.create_completion(
            prompt, max_tokens=max_tokens, temperature=temperature, stop=stop or [], stream=True
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            if choice.get("finish_reason") is not None and not choice["text"]:
                break  # the closing chunk carries no token
            if stats.generated_tokens == 0:
                stats.time_to_first_token_s = time.perf_counter() - started
            stats.generated_tokens += 1
            text = choice["text"]
            if text:
                yield text
        stats.total_s = time.perf_counter() - started
        self.last_stats = stats
