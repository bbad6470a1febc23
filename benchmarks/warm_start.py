"""Warm starts: time to first token of a new backend's first chat, stable prefix restored from disk vs cold.

    .venv/bin/python -m benchmarks.warm_start [--threads 1] [--rounds 3] [--models tiny,coder,twin]

Each round opens a fresh backend (a new `ornith run`) twice, interleaved: once without a warm store (cold:
the whole prompt is evaluated) and once with a store primed by an earlier run (warm: the system prompt and
tool schemas come from disk, only the task message is evaluated). The system prompt is the agent's own
(`agent/prompts.SYSTEM`) with the real tool schemas (`tools.default_tools`); where that is short of the
~2K tokens the issue measured, project instructions (this repo's docs/ARCHITECTURE.md) fill it up, as an
AGENTS.md would. TTFT is the caller's wall time of `chat(max_tokens=1)`: rendering, the prefix probe,
reading the file and restoring it included. Target: warm / cold <= 0.1.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ornith_local.agent.prompts import SYSTEM
from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.llm.warm import WarmStore
from ornith_local.models.tiny import ensure_tiny_model
from ornith_local.tools import Workspace, default_tools, function_spec

CODER = Path.home() / ".local/share/ornith/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "ARCHITECTURE.md"
TARGET_TOKENS = 2000
TASK = "Fix the failing test in tests/test_pagination.py: the last page is missing one item."


def agent_prompt(backend: LlamaCppBackend) -> tuple[str, tuple[dict[str, object], ...]]:
    """The agent's system text and tool schemas, topped up with project instructions to ~2K tokens."""
    tools = tuple(function_spec(tool) for tool in default_tools(Workspace.at(tempfile.gettempdir())))
    system = SYSTEM
    words = ARCHITECTURE.read_text(encoding="utf-8").split(" ")
    used = 0
    while used < len(words) and backend.count_tokens(
            backend.render([Message("system", system)], tools)) < TARGET_TOKENS:
        system = SYSTEM + "\n\nProject instructions:\n" + " ".join(words[: used + 40])
        used += 40
    return system, tools


def first_chat(backend: LlamaCppBackend, system: str, tools: tuple[dict[str, object], ...]) -> tuple[float, int, int]:
    """Wall seconds to the first token, warm tokens, prompt tokens."""
    started = time.perf_counter()
    completion = backend.chat([Message("system", system), Message("user", TASK)],
                              GenerateOptions(max_tokens=1, temperature=0.0, max_reasoning_tokens=1, tools=tools))
    return time.perf_counter() - started, completion.stats.warm_tokens, completion.stats.prompt_tokens


def measure(label: str, opener: Callable[[WarmStore | None], LlamaCppBackend], rounds: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = WarmStore(Path(folder), 2 << 30)
        primer = opener(store)
        system, tools = agent_prompt(primer)
        first_chat(primer, system, tools)  # the first run ever: saves the prefix
        store.wait()
        size = store.total_bytes()
        del primer
        cold, warm = [], []
        warm_tokens = prompt_tokens = 0
        for _ in range(rounds):
            cold.append(first_chat(opener(None), system, tools)[0])
            seconds, warm_tokens, prompt_tokens = first_chat(opener(store), system, tools)
            warm.append(seconds)
    ratio = statistics.median(warm) / statistics.median(cold)
    print(f"{label}: prompt {prompt_tokens} tokens, {warm_tokens} from disk ({size / 2**20:.1f} MiB file); "
          f"TTFT cold {statistics.median(cold):.2f} s, warm {statistics.median(warm):.3f} s; "
          f"warm/cold {ratio:.3f} (target <= 0.1) {'ok' if ratio <= 0.1 else 'MISSED'}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="tiny,coder,twin")
    args = parser.parse_args()
    chosen = args.models.split(",")
    threads = args.threads
    print(f"threads {threads}, {args.rounds} interleaved rounds, median TTFT of a new backend's first chat")
    if "tiny" in chosen:
        tiny = ensure_tiny_model()
        measure("tiny (Gemma 3 270M)", lambda store: LlamaCppBackend(tiny, n_ctx=4096, threads=threads, warm=store),
                args.rounds)
    if "coder" in chosen and CODER.is_file():
        measure("Qwen2.5-Coder-1.5B Q4_K_M",
                lambda store: LlamaCppBackend(CODER, n_ctx=4096, threads=threads, warm=store), args.rounds)
    if "twin" in chosen:
        from ornith_local.llm.twin import twin_path

        twin = twin_path("qwen35")
        measure("qwen35 twin (hybrid)", lambda store: LlamaCppBackend(
            twin, n_ctx=8192, threads=threads, template_family="ornith", warm=store), args.rounds)


if __name__ == "__main__":
    main()
