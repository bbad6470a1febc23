"""The in-process llama.cpp backend: one loaded GGUF, one live conversation in its KV cache.

Reuse is append-only at the token level: the backend remembers the prompt text and the token ids it
evaluated and sampled; when the next prompt starts with the previous prompt plus the generated reply, only
the new tail is tokenized and evaluated. That also holds for hybrid/recurrent models (qwen35, qwen35moe),
which cannot drop a suffix of their state, and for sliding-window layers, whose cache keeps only the
window. Anything else is a divergence: a transformer trims its cache to the common token prefix; a hybrid
model restores the recurrent state saved at the end of an earlier prompt (`checkpoints.py`) and evaluates from
there; only where no saved state fits (or a window no longer reaches back) is the prompt re-read from token 0.
Each says so in `stats.cache_note`, and `stats.reprefill_tokens` / `self.reprefills` count what was re-read.

`GenerateOptions.think_first` lets a reasoning model think at the catalog's sampling before a JSON schema
constrains its answer: the grammar starts only after `</think>` (forced when the thinking budget runs out).
"""

from __future__ import annotations

import codecs
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import takewhile
from pathlib import Path
from typing import Any

from ornith_local.llm import llama_log
from ornith_local.llm.backend import (
    BackendError,
    Completion,
    FinishReason,
    GenerateOptions,
    GenerationStats,
    Message,
    OnText,
    PrefillProgress,
)
from ornith_local.llm.checkpoints import RecurrentCheckpoints
from ornith_local.llm.grammar import grammar_for_schema
from ornith_local.llm.templates import ChatTemplate, choose_template
from ornith_local.llm.vocabulary import Vocabulary
from ornith_local.llm.warm import WarmStore, model_identity, shared_tokens, snapshot_state, stable_prefix
from ornith_local.models.gguf import GgufInfo, ModelFileError, read_gguf
from ornith_local.models.hardware import free_cores

logger = logging.getLogger("ornith.llm")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_FORCED_CLOSE = "\n</think>\n\n"
PREFILL_CHUNK = 256  # prompt tokens evaluated between two progress reports
_DEFAULT_SAMPLING = {"temperature": 0.7, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0,
                     "presence_penalty": 0.0}
_THINK_FIRST_BUDGET = 1024  # reasoning tokens before `</think>` is forced, when think_first names no budget


@dataclass
class _Turn:
    """What the KV cache holds beyond the tokens themselves: the text they came from."""

    prompt_text: str = ""
    prompt_tokens: tuple[int, ...] = ()
    reply_text: str = ""
    reply_tokens: tuple[int, ...] = ()


def _holdback(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of `text` that could still grow into a stop sequence (not streamed yet)."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


class LlamaCppBackend:
    """A GGUF loaded in this process. ModelFileError (one line) when the file or its architecture is unusable."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = 0,
        threads: int | None = None,
        template_family: str | None = None,
        sampling: dict[str, float] | None = None,
        prompt_lookup: int = 0,
        info: GgufInfo | None = None,
        warm: WarmStore | None = None,
    ) -> None:
        info = info or read_gguf(model_path)
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding
        except ImportError:
            raise ModelFileError("llama-cpp-python is not installed: pip install llama-cpp-python") from None
        llama_log.install()
        llama_log.clear_recent()
        draft = LlamaPromptLookupDecoding(num_pred_tokens=prompt_lookup) if prompt_lookup > 0 else None
        try:
            llama = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads or free_cores(),
                n_threads_batch=threads or free_cores(),
                draft_model=draft,
                # Measured on the tiny model at a 2.8K-token context (CPU): flash attention and a cache that
                # keeps only the sliding window of SWA layers decode 35 -> 50 tok/s and cut the growth of
                # time-to-first-token with history. A window-only cache cannot be trimmed far back, which
                # `_window_holds` checks before any trim.
                flash_attn=True,
                swa_full=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            reason = next((line for line in reversed(llama_log.recent_errors()) if "architecture" in line), None)
            reason = reason or (llama_log.recent_errors() or [str(error)])[-1]
            raise ModelFileError(f"{model_path.name}: llama.cpp cannot load it ({reason.strip()})") from None
        import llama_cpp

        recurrent = bool(llama_cpp.llama_model_is_recurrent(llama.model)
                         or llama_cpp.llama_model_is_hybrid(llama.model))
        self._attach(llama, llama_cpp, model_path, info, template_family=template_family, sampling=sampling,
                     recurrent=recurrent, window=int(llama_cpp.llama_model_n_swa(llama.model)), warm=warm)
        # Hybrid models cannot cut their recurrent state back: prompt ends are checkpointed instead.
        self.checkpoints = RecurrentCheckpoints(llama, llama_cpp) if recurrent else None

    def _attach(self, llama: Any, api: Any, model_path: Path, info: GgufInfo, *, template_family: str | None,
                sampling: dict[str, float] | None, recurrent: bool, window: int, warm: WarmStore | None) -> None:
        """The conversation state over `llama` (a `llama_cpp.Llama`, or one sequence of a shared context that
        offers the same surface: `parallel_backend.py`). No recurrent checkpoints: the caller adds them."""
        # Told how a long prompt evaluation advances (a 2K-token prompt takes ~30 s on a 2-core CPU).
        self.on_prefill: Callable[[PrefillProgress], None] | None = None
        self.llama: Any = llama
        self._llama_cpp = api
        self.info, self.model_path = info, model_path
        self.recurrent, self.window = recurrent, window
        self.checkpoints = None
        model = llama._model
        self.template: ChatTemplate = choose_template(
            self.info.chat_template,
            template_family,
            bos_token=model.token_get_text(model.token_bos()) if model.token_bos() >= 0 else "",
            eos_token=model.token_get_text(model.token_eos()) if model.token_eos() >= 0 else "",
        )
        if self.info.chat_template and self.template.source != "gguf":
            logger.warning("the GGUF's chat template drops earlier <think> blocks; using %s so the "
                           "cache can be reused", self.template.source)
        self.sampling = {**_DEFAULT_SAMPLING, **(sampling or {})}
        self.reprefills = 0  # calls that re-evaluated tokens already evaluated before (history rewritten)
        self.reprefill_tokens = 0
        self._turn = _Turn()
        self.last_stats = GenerationStats()
        self.vocab = Vocabulary(llama, api)
        # Warm starts: the first chat after load/reset restores (or saves) its stable prefix's state.
        self.warm = warm
        self._warm_next: tuple[str, int] | None = None  # (file key, prefix tokens) for the coming `_run`

    # -- the Backend protocol ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.model_path.name

    @property
    def n_ctx(self) -> int:
        return int(self.llama.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self.vocab.tokenize(text, special=True))

    def reset(self) -> None:
        self.llama.reset()
        self.llama._ctx.kv_cache_clear()
        self._turn = _Turn()
        if self.checkpoints is not None:
            self.checkpoints.clear()

    def render(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] = ()) -> str:
        return self.template.render(messages, tools=tools)

    def chat(self, messages: Sequence[Message], options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        prompt = self.render([self.vocab.defuse(message) for message in messages], options.tools)
        tokens = self._append_only_tokens(prompt)
        if self.warm is not None and not self._turn.prompt_tokens and not self.llama.n_tokens:
            self._warm_next = self._warm_prefix(messages, options.tools, prompt, tokens)
        return self._run(prompt, tokens, options, on_text)

    def complete(self, prompt: str, options: GenerateOptions, on_text: OnText | None = None) -> Completion:
        self._warm_next = None  # a chat that failed before `_run` took it must not leave it to this prompt
        return self._run(prompt, self._append_only_tokens(prompt, special=False), options, on_text)

    # -- prompt tokens -------------------------------------------------------------------------------

    def _append_only_tokens(self, prompt: str, *, special: bool = True) -> list[int]:
        """The prompt's tokens, reusing the ids already in the cache wherever the text still matches."""
        turn = self._turn
        seen = turn.prompt_text + turn.reply_text
        if turn.prompt_tokens and prompt.startswith(seen):
            tail = self.vocab.tokenize(prompt[len(seen):], special=special)
            return [*turn.prompt_tokens, *turn.reply_tokens, *tail]
        if turn.prompt_tokens and prompt.startswith(turn.prompt_text):
            # The reply came back edited (e.g. stripped): keep the old prompt's ids, re-tokenize the rest.
            tail = self.vocab.tokenize(prompt[len(turn.prompt_text):], special=special)
            return [*turn.prompt_tokens, *tail]
        return self.vocab.tokenize(prompt, special=special, add_bos=True)

    def _reuse_cache(self, tokens: list[int], stats: GenerationStats) -> list[int]:
        """Keep the longest valid cached prefix of `tokens`; return the tail still to evaluate."""
        cached = self.llama.input_ids[: self.llama.n_tokens].tolist()
        common = 0
        for old, new in zip(cached, tokens, strict=False):
            if old != new:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last prompt token must be evaluated to get logits
        start = common
        if common < len(cached):
            history_changed = common < len(self._turn.prompt_tokens) - 1
            if common > 0 and self._window_holds(common) and self.llama._ctx.kv_cache_seq_rm(-1, common, -1):
                if history_changed:
                    stats.cache_note = (f"history changed at token {common}: cache trimmed, "
                                        f"{len(tokens) - common} re-evaluated")
            elif self.checkpoints is not None and (restored := self.checkpoints.restore_before(tokens, common)):
                start = stats.restored_at = restored
                stats.cache_note = (f"history changed at token {common}: restored the saved state at token "
                                    f"{restored}, {len(tokens) - restored} evaluated")
            else:
                if cached:
                    stats.cache_note = (f"history changed at token {common} and this model's cache cannot be "
                                        f"trimmed there: whole prompt re-evaluated ({len(tokens)} tokens)")
                self.llama.reset()
                self.llama._ctx.kv_cache_clear()
                start = 0
        self.llama.n_tokens = start
        stats.reprefill_tokens = common - start
        if stats.reprefill_tokens:
            self.reprefills += 1
            self.reprefill_tokens += stats.reprefill_tokens
        if stats.cache_note:
            logger.info("%s", stats.cache_note)
        return tokens[start:]

    def _warm_prefix(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], prompt: str,
                     tokens: list[int]) -> tuple[str, int] | None:
        """The warm-start key and size of the prompt's stable prefix (the leading system messages), if any."""
        leading = [self.vocab.defuse(message) for message in takewhile(lambda m: m.role == "system", messages)]
        size = stable_prefix(lambda texts: self.render([*leading, *(Message("user", t) for t in texts)], tools),
                             prompt) if leading else 0
        common = shared_tokens(self.vocab.tokenize(prompt[:size], special=True, add_bos=True), tokens)
        if common < 1 or self.warm is None:
            return None
        identity = model_identity(self.model_path, self.template.text, self._llama_cpp.__version__, self.n_ctx)
        return self.warm.key(identity, tokens[:common]), common

    def _warm_save(self, tail: list[int], key: str, size: int) -> list[int]:
        """Evaluate the stable prefix alone, copy its state out (written in the background); return the rest."""
        self._prefill(tail[: size + 1])
        if self.warm is not None:
            self.warm.save_later(key, snapshot_state(self.llama, self._llama_cpp, tail[:size]))
        return tail[size:]

    def _window_holds(self, position: int) -> bool:
        """Whether a sliding-window cache still has the window before `position` (older cells get reused).

        Trimming past that point succeeds in llama.cpp but leaves the window's layers attending to nothing:
        the output silently changes. Such a trim re-evaluates the prompt instead.
        """
        if not self.window:
            return True
        memory = self._llama_cpp.llama_get_memory(self.llama.ctx)
        oldest = int(self._llama_cpp.llama_memory_seq_pos_min(memory, 0))
        return oldest <= max(0, position - self.window)

    # -- generation ----------------------------------------------------------------------------------

    def _decoder(self) -> Callable[..., Iterator[int]]:
        """What evaluates and samples, with `Llama.generate`'s contract. The grammar checks the sampled token first
        (sampling.py); prompt-lookup drafts need llama-cpp-python's own loop."""
        if self.llama.draft_model is not None:
            return self.llama.generate  # type: ignore[no-any-return]
        from ornith_local.llm.sampling import generate  # imports llama_cpp

        return partial(generate, self.llama)

    def _sampler_kwargs(self, options: GenerateOptions) -> dict[str, Any]:
        def pick(value: float | None, key: str) -> float:
            return float(self.sampling[key]) if value is None else float(value)

        return {
            "temp": pick(options.temperature, "temperature"),
            "top_p": pick(options.top_p, "top_p"),
            "top_k": int(pick(options.top_k, "top_k")),
            "min_p": pick(options.min_p, "min_p"),
            "repeat_penalty": pick(options.repeat_penalty, "repeat_penalty"),
            "presence_penalty": pick(options.presence_penalty, "presence_penalty"),
        }

    def _catalog_sampler(self) -> dict[str, Any]:
        """The catalog's own sampling: what a reasoning model thinks with, whatever the answer is sampled at."""
        return self._sampler_kwargs(GenerateOptions())

    def _prefill(self, tail: list[int]) -> list[int]:
        """Evaluate all but the last prompt token in chunks, reporting progress; return what is left."""
        total, started = len(tail) - 1, time.perf_counter()
        for start in range(0, total, PREFILL_CHUNK):
            self.llama.eval(tail[start:min(start + PREFILL_CHUNK, total)])
            if self.on_prefill is not None:
                self.on_prefill(PrefillProgress(min(start + PREFILL_CHUNK, total), total,
                                                time.perf_counter() - started))
        return tail[-1:]

    def _run(self, prompt: str, tokens: list[int], options: GenerateOptions, on_text: OnText | None) -> Completion:
        if len(tokens) >= self.n_ctx:
            raise BackendError(f"the prompt ({len(tokens)} tokens) does not fit in the context ({self.n_ctx}); "
                               "compact the conversation")
        grammar = grammar_for_schema(options.json_schema) if options.json_schema else None
        stats = GenerationStats(prompt_tokens=len(tokens))
        started = time.perf_counter()
        warm, self._warm_next = self._warm_next, None
        if warm is not None and self.warm is not None:
            stats.warm_tokens = self.warm.restore(self.llama, self._llama_cpp, warm[0], tokens[: warm[1]])
            if stats.warm_tokens:
                stats.cache_note = f"warm start: {stats.warm_tokens} prompt tokens restored from disk"
        tail = self._reuse_cache(tokens, stats)
        stats.evaluated_prompt_tokens = len(tail)
        if warm is not None and not stats.warm_tokens and len(tail) == len(tokens):
            tail = self._warm_save(tail, *warm)
        if self.checkpoints is not None or len(tail) > PREFILL_CHUNK:
            tail = self._prefill(tail)
        if self.checkpoints is not None:
            # All but the last prompt token are evaluated: checkpoint there. The next turn's prompt starts with
            # this one, so a rewrite of the reply or anything after it resumes from here, not from token 0.
            self.checkpoints.save(tokens[:-1])
        self.llama.set_seed(options.seed)
        is_eog = self._llama_cpp.llama_vocab_is_eog
        vocab = self.llama._model.vocab
        piece = self.vocab.piece
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, emitted = "", 0
        generated: list[int] = []
        # A template may open the thought in the prompt itself (generation prompt ends in "<think>\n").
        thinking, think_from = prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE), 0
        # Think first: free thought at the catalog's sampling, then the grammar and the caller's sampling.
        deferred = options.think_first
        if deferred and not thinking:
            opened = self.vocab.tokenize(THINK_OPEN + "\n", special=True)
            tail, text, generated = [*tail, *opened], THINK_OPEN + "\n", list(opened)
            thinking = True
        budget = options.max_reasoning_tokens
        if deferred and budget is None:
            budget = _THINK_FIRST_BUDGET
        answer_from = 0  # where the answer (counted against max_tokens) starts in `generated`
        finish: FinishReason = "length"
        room = self.n_ctx - len(tokens)
        while len(generated) < room and len(generated) - answer_from < options.max_tokens:
            sampler = self._catalog_sampler() if deferred else self._sampler_kwargs(options)
            action, evaluated_last, rest = None, False, ""
            for token in self._decoder()(tail, reset=False, grammar=None if deferred else grammar, **sampler):
                if not stats.time_to_first_token_s:
                    stats.time_to_first_token_s = time.perf_counter() - started
                if is_eog(vocab, token):
                    evaluated_last = True  # the token before it was evaluated to sample it
                    if deferred:  # it stopped inside the thought: close it, the answer is still owed
                        action = "close"
                    else:
                        finish = "stop"
                    break
                generated.append(token)
                text += decoder.decode(piece(token))
                if thinking:
                    stats.reasoning_tokens += 1
                    if THINK_CLOSE in text[think_from:]:
                        thinking, think_from = False, len(text)
                        if deferred:  # finish the template's "</think>\n\n"; the constrained answer follows
                            after = text[text.rfind(THINK_CLOSE) + len(THINK_CLOSE):]
                            rest = "\n\n"[len(after):] if "\n\n".startswith(after) else ""
                            action = "switch"
                            break
                elif THINK_OPEN in text[think_from:] and (grammar is None or deferred):
                    # (Under a grammar the answer is being written: "<think>" there is text, e.g. in a JSON string.)
                    thinking, think_from = True, text.rfind(THINK_OPEN)
                cut = min((text.find(stop) for stop in options.stop if stop in text), default=-1)
                if cut >= 0:
                    text, finish = text[:cut], "stop_sequence"
                    break
                safe = len(text) - _holdback(text, options.stop)
                if on_text is not None and safe > emitted:
                    on_text(text[emitted:safe])
                    emitted = safe
                if len(generated) >= room or len(generated) - answer_from >= options.max_tokens:
                    break
                if thinking and budget is not None and stats.reasoning_tokens >= budget:
                    action = "close"  # out of thinking budget: close the thought ourselves, let it answer
                    break
            if action is None:
                break
            rest = _FORCED_CLOSE if action == "close" else rest
            forced = self.vocab.tokenize(rest, special=True) if rest else []
            # A thought cut inside a multi-byte character: its bytes end the thought, not start the answer.
            text += decoder.decode(b"", final=True) + rest
            decoder.reset()
            thinking, think_from = False, len(text)
            if deferred:
                deferred, answer_from = False, len(generated) + len(forced)
            # The last sampled token was yielded but not evaluated yet: it goes in first.
            tail = [*([generated[-1]] if generated and not evaluated_last else []), *forced]
            generated.extend(forced)
        if on_text is not None and len(text) > emitted:
            on_text(text[emitted:])
        stats.generated_tokens = len(generated)
        stats.total_s = time.perf_counter() - started
        # After a stop sequence the text no longer matches the ids; keep only the prompt for reuse.
        kept = finish != "stop_sequence"
        self._turn = _Turn(prompt, tuple(tokens), text if kept else "", tuple(generated) if kept else ())
        self.last_stats = stats
        return Completion(text=text, finish_reason=finish, stats=stats, token_ids=list(generated))
