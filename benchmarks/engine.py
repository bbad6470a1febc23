"""Engine figures on the tiny model, measured side by side in one run (noise is shared).

    .venv/bin/python -m benchmarks.engine [--model PATH] [--threads N]

1. decode tokens/s through LlamaCppBackend vs a bare llama-cpp-python `generate` loop (target >= 0.97);
2. a 12-turn agent conversation (each turn adds a ~200-token tool observation): prompt tokens evaluated
   vs new tokens per turn (target: evaluated <= new + 16 after turn 1) and TTFT turn 12 / turn 1 (<= 1.2);
3. grammar-constrained vs free generation tokens/s on the same prompt (target >= 0.8), and llama-cpp-python's own
   full-vocabulary filter (`generate(grammar=)`) alongside;
4. prompt-lookup speculative decoding vs plain decoding on a copy-heavy prompt;
5. the synthetic twins of `qwen35` / `qwen35moe` (hybrid recurrent + attention, random weights, the Ornith
   template; `--twins` runs only this): the same 12-turn conversation with tools, the reply sent back as
   generated; evaluated vs new tokens per turn, TTFT turn 12 / turn 1, and re-prefills (saved recurrent
   states restored where the template re-rendered a reply differently).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.models.hardware import free_cores
from ornith_local.models.tiny import ensure_tiny_model

CODE = "\n".join(f"def handler_{i}(request):\n    value = request.get('field_{i}')\n    return value * {i}\n"
                 for i in range(12))


def bare_decode(backend: LlamaCppBackend, prompt: str, n: int) -> float:
    """Tokens/s of llama-cpp-python's own generate loop, same object and settings, after the first token."""
    return _generate_rate(backend, backend.llama.tokenize(prompt.encode(), add_bos=True), n)


def _generate_rate(backend: LlamaCppBackend, tokens: list[int], n: int, grammar: object = None) -> float:
    """Tokens/s after the first of llama-cpp-python's own `generate` from `tokens` (greedy, a cold cache); with a
    grammar it also stops at an end-of-generation token, which the grammar's answer reaches."""
    llama, vocab = backend.llama, backend.llama._model.vocab
    llama.reset()
    count, first = 0, 0.0
    for token in llama.generate(tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0, reset=False,
                                grammar=grammar):
        if grammar is not None and backend._llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        count += 1
        if count == 1:
            first = time.perf_counter()
        if count >= n:
            break
    return (count - 1) / (time.perf_counter() - first)


def ours_decode(backend: LlamaCppBackend, prompt: str, n: int) -> float:
    backend.reset()
    result = backend.complete(prompt, GenerateOptions(max_tokens=n, temperature=0.0), on_text=lambda _: None)
    return result.stats.decode_tokens_per_s


def figure_decode(backend: LlamaCppBackend, rounds: int = 7, n: int = 128) -> None:
    prompt = "def fibonacci(n):\n"
    bare, ours = [], []
    for _ in range(rounds):  # interleaved so both see the same load
        bare.append(bare_decode(backend, prompt, n))
        ours.append(ours_decode(backend, prompt, n))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"1. decode: ours {o:.1f} tok/s, bare llama-cpp-python {b:.1f} tok/s, ratio {o / b:.3f} "
          f"(median of {rounds}, {n} tokens)")


def figure_turns(backend: LlamaCppBackend, turns: int = 12) -> None:
    backend.reset()
    # Turn 1 carries a ~270-token observation too, so every turn adds about the same number of new tokens
    # and TTFT turn 12 / turn 1 measures only what the growing history costs.
    messages = [Message("system", "You are a coding agent. Use tools."),
                Message("user", "Fix the failing test.\n$ pytest -q\n" + CODE[:700])]
    print("2. turn  prompt  evaluated  new  evaluated-new  ttft_ms")
    ttfts, worst, prev_prompt, prev_generated = [], -10**9, 0, 0
    last_prompt: list[Message] = []
    for turn in range(1, turns + 1):
        last_prompt = list(messages)
        result = backend.chat(messages, GenerateOptions(max_tokens=16, temperature=0.0))
        stats = result.stats
        new = stats.prompt_tokens - prev_prompt - prev_generated if turn > 1 else stats.prompt_tokens
        if turn > 1:
            worst = max(worst, stats.evaluated_prompt_tokens - new)
        ttfts.append(stats.time_to_first_token_s)
        print(f"   {turn:4d}  {stats.prompt_tokens:6d}  {stats.evaluated_prompt_tokens:9d}  {new:3d}  "
              f"{stats.evaluated_prompt_tokens - new:13d}  {stats.time_to_first_token_s * 1000:7.1f}"
              + (f"  ({stats.cache_note})" if stats.cache_note else ""))
        prev_prompt, prev_generated = stats.prompt_tokens, stats.generated_tokens
        observation = f"$ pytest -q tests/test_step_{turn}.py\n" + CODE[: 700]
        messages += [Message("assistant", result.text), Message("tool", observation)]
    print(f"   max(evaluated - new) after turn 1: {worst} (target <= 16); "
          f"TTFT turn {turns} / turn 1: {ttfts[-1] / ttfts[0]:.2f} (target <= 1.2)")
    backend.reset()  # the same last turn with nothing cached: what reuse saves
    cold = backend.chat(last_prompt, GenerateOptions(max_tokens=16, temperature=0.0)).stats
    print(f"   turn {turns} with nothing cached ({cold.evaluated_prompt_tokens} tokens evaluated): TTFT "
          f"{cold.time_to_first_token_s * 1000:.0f} ms, {cold.time_to_first_token_s / ttfts[-1]:.1f}x the cached turn")


def full_filter_decode(backend: LlamaCppBackend, prompt: str, grammar: object, n: int) -> float:
    """Tokens/s of llama-cpp-python's own `generate(grammar=)`: the grammar checked over the whole vocabulary."""
    return _generate_rate(backend, backend.llama.tokenize(prompt.encode(), add_bos=False, special=True), n, grammar)


def figure_grammar(backend: LlamaCppBackend, rounds: int = 3) -> None:
    """Free vs constrained (ours: the grammar checks the sampled token first) vs llama-cpp-python's full filter."""
    from ornith_local.llm.grammar import grammar_for_schema

    schema = {"type": "object", "properties": {"tool": {"type": "string"}, "path": {"type": "string"},
                                               "line": {"type": "integer"}}, "required": ["tool", "path", "line"]}
    messages = [Message("user", "Which file should we open? Answer as JSON with tool, path, line.")]
    free, constrained, full = [], [], []
    for _ in range(rounds):  # interleaved so all three see the same load
        backend.reset()
        free.append(backend.chat(messages, GenerateOptions(max_tokens=48, temperature=0.0)).stats.decode_tokens_per_s)
        backend.reset()
        constrained.append(backend.chat(messages, GenerateOptions(max_tokens=48, temperature=0.0,
                                                                  json_schema=schema)).stats.decode_tokens_per_s)
        full.append(full_filter_decode(backend, backend.render(messages), grammar_for_schema(schema), 48))
    f, g, h = statistics.median(free), statistics.median(constrained), statistics.median(full)
    vocabulary = backend.llama.n_vocab()
    print(f"3. grammar: constrained {g:.1f} tok/s vs free {f:.1f} tok/s, ratio {g / f:.2f} (target >= 0.8); "
          f"llama-cpp-python's full filter {h:.1f} tok/s, ratio {h / f:.2f} ({vocabulary // 1000}K vocabulary)")


def figure_prompt_lookup(path: Path, threads: int, rounds: int = 3) -> None:
    prompt = f"Here is the module:\n{CODE}\nHere is the same module again, unchanged:\n"
    plain = LlamaCppBackend(path, n_ctx=4096, threads=threads)
    lookup = LlamaCppBackend(path, n_ctx=4096, threads=threads, prompt_lookup=10)
    options = GenerateOptions(max_tokens=160, temperature=0.0)
    prose = "Write a short story about a lighthouse keeper who finds a message in a bottle.\n"
    speeds: dict[str, list[float]] = {"plain": [], "lookup": [], "plain prose": [], "lookup prose": []}
    ttfts: dict[str, list[float]] = {"plain": [], "lookup": []}
    texts: dict[str, str] = {}
    for _ in range(rounds):
        for name, backend in (("plain", plain), ("lookup", lookup)):
            for suffix, text in (("", prompt), (" prose", prose)):
                backend.reset()
                result = backend.complete(text, options)
                stats = result.stats
                speeds[name + suffix].append(stats.generated_tokens / max(stats.total_s - stats.time_to_first_token_s,
                                                                          1e-9))
                if not suffix:
                    ttfts[name].append(stats.time_to_first_token_s)
                    texts[name] = result.text
    p, q = statistics.median(speeds["plain"]), statistics.median(speeds["lookup"])
    pp, qp = statistics.median(speeds["plain prose"]), statistics.median(speeds["lookup prose"])
    tp, tq = statistics.median(ttfts["plain"]), statistics.median(ttfts["lookup"])
    print(f"4. prompt lookup (10 draft tokens) on a copy task: {q:.1f} tok/s vs plain {p:.1f} tok/s, "
          f"ratio {q / p:.2f}; same output: {texts['plain'] == texts['lookup']}")
    print(f"   on new prose: {qp:.1f} vs {pp:.1f} tok/s, ratio {qp / pp:.2f}; prefill of the same "
          f"{plain.count_tokens(prompt)}-token prompt: {tq * 1000:.0f} vs {tp * 1000:.0f} ms, ratio {tq / tp:.2f} "
          "(lookup keeps logits for every prompt token)")


def figure_twin(arch: str, threads: int, turns: int = 12, *, checkpoints: bool = True) -> None:
    from ornith_local.llm.twin import twin_path

    backend = LlamaCppBackend(twin_path(arch), n_ctx=16384, threads=threads, template_family="ornith")
    if not checkpoints:  # the control: what a re-rendered reply costs without saved states
        backend.checkpoints = None
    tools = tuple({"type": "function", "function": {"name": name, "description": f"{name} a file", "parameters": {
        "type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}}}
        for name in ("read", "write", "run_tests"))
    messages = [Message("system", "You are a coding agent. Use tools."),
                Message("user", "Fix the failing test.\n$ pytest -q\n" + CODE[:700])]
    print(f"5. twin {arch} ({backend.info.architecture}, recurrent={backend.recurrent}, template "
          f"{backend.template.source}, saved states {'on' if checkpoints else 'OFF (control)'}): "
          "turn  prompt  evaluated  new  ttft_ms  restored_at")
    ttfts, worst, previous = [], -10**9, 0
    for turn in range(1, turns + 1):
        result = backend.chat(messages, GenerateOptions(max_tokens=24, max_reasoning_tokens=12, tools=tools,
                                                        seed=turn))
        stats = result.stats
        new = stats.prompt_tokens - previous  # what this prompt adds to the last one (the reply included)
        if turn > 1:
            worst = max(worst, stats.evaluated_prompt_tokens - new)
        ttfts.append(stats.time_to_first_token_s)
        print(f"   {turn:4d}  {stats.prompt_tokens:6d}  {stats.evaluated_prompt_tokens:9d}  {new:4d}  "
              f"{stats.time_to_first_token_s * 1000:7.1f}  {stats.restored_at if stats.restored_at else '-'}")
        previous = stats.prompt_tokens
        messages += [Message("assistant", result.text),
                     Message("tool", f"$ pytest -q tests/test_step_{turn}.py\n" + CODE[:700])]
    restores = backend.checkpoints.restores if backend.checkpoints else 0
    print(f"   max(evaluated - new) after turn 1: {worst} (target <= 16); TTFT turn {turns} / turn 1: "
          f"{ttfts[-1] / ttfts[0]:.2f}; re-prefills: {backend.reprefills} ({backend.reprefill_tokens} tokens "
          f"evaluated twice), saved states restored: {restores}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--threads", type=int, default=free_cores())
    parser.add_argument("--twins", action="store_true", help="only figure 5, the qwen35 / qwen35moe twins")
    parser.add_argument("--only", type=int, nargs="*", help="only these figures of 1-4 (e.g. --only 1 3)")
    args = parser.parse_args()
    if args.twins:
        for arch in ("qwen35", "qwen35moe"):
            figure_twin(arch, args.threads)
            figure_twin(arch, args.threads, checkpoints=False)
        return
    path = args.model or ensure_tiny_model()
    backend = LlamaCppBackend(path, n_ctx=8192, threads=args.threads, template_family="gemma")
    print(f"model {path.name}, {args.threads} threads")
    if args.only:
        figures = {1: lambda: figure_decode(backend), 2: lambda: figure_turns(backend),
                   3: lambda: figure_grammar(backend), 4: lambda: figure_prompt_lookup(path, args.threads)}
        for item in args.only:
            figures[item]()
        return
    figure_decode(backend)
    figure_turns(backend)
    figure_grammar(backend)
    figure_prompt_lookup(path, args.threads)
    for arch in ("qwen35", "qwen35moe"):
        figure_twin(arch, args.threads)


if __name__ == "__main__":
    main()
