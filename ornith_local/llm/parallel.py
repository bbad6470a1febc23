"""One model, several sequences: a llama.cpp context decoding parallel conversations in shared batches.

Decode on a CPU is memory-bound: each step reads every weight once whatever the batch holds, so one step that
carries one token of each of N sequences costs little more than a step for one. `ParallelEngine` owns one model
and one context with `n_seq_max=N` (one KV stream per sequence, `kv_unified` off, so a sequence's attention spans
only its own cells) and a scheduler thread: each sequence's thread submits work (tokens to evaluate, and a
sampler when it wants the next token); the scheduler packs what every sequence has pending into one
`llama_decode`, asks for logits only on the rows that will be sampled, samples those rows, and wakes the threads.

A sequence whose tokens so far plus its new ones start with more tokens than it holds, which another sequence
already holds, adopts them instead of evaluating them (`llama_memory_seq_cp`): N attempts of one task read their
shared prompt once, also when the backend sends it in prefill chunks (each chunk is read by one sequence, the
others wait for it and copy). Across KV streams llama.cpp copies only whole sequences, so the copy is trimmed back
to the common prefix afterwards; recurrent state (hybrid `qwen35`) cannot be trimmed, so there a donor is used only
when all it holds is a prefix of what the sequence asks for.

Known gap, sliding-window models (Gemma 3/4): a sequence that adopted a prefix and then grows past the window
(512 tokens on Gemma 3 270M) decodes different tokens from a lone backend; within the window, and on Qwen2.5 at
any length, they match. Sequences that adopted nothing match beyond the window too, so the copy is the suspect.
The conversation logic (templates, stop sequences, think-first) is `LlamaCppBackend`'s, run over a
per-sequence stand-in for `llama_cpp.Llama` (`parallel_backend.py`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ornith_local.llm import llama_log
from ornith_local.llm.backend import BackendError
from ornith_local.models.gguf import ModelFileError

_GATHER_S = 0.004  # how long a step waits for the other active sequences to submit before decoding without them


class RowSampler(Protocol):
    """Samples and accepts a token from logits row `row` of the last decode (`sampling.TokenSampler`)."""

    def sample(self, ctx: Any, row: int) -> int: ...


@dataclass(eq=False)
class _Work:
    seq: int
    tokens: list[int]
    sampler: RowSampler | None
    done: threading.Event = field(default_factory=threading.Event)
    fed: int = 0
    token: int = -1
    error: str | None = None


class ParallelEngine:
    """One GGUF, one context, `n_seq` sequences of `n_ctx_per_seq` tokens each, decoded in shared batches."""

    def __init__(self, model_path: Path, *, n_seq: int, n_ctx_per_seq: int = 4096, threads: int = 2,
                 n_gpu_layers: int = 0, n_batch: int = 512) -> None:
        if n_seq < 1:
            raise ValueError(f"n_seq must be at least 1, not {n_seq}")
        try:
            import llama_cpp
            from llama_cpp._internals import LlamaContext, LlamaModel
        except ImportError:
            raise ModelFileError("llama-cpp-python is not installed: pip install llama-cpp-python") from None
        llama_log.install()
        llama_log.clear_recent()
        self.api: Any = llama_cpp
        self.model_path, self.n_seq, self.n_ctx_per_seq = model_path, n_seq, n_ctx_per_seq
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = n_gpu_layers
        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = n_seq * n_ctx_per_seq
        ctx_params.n_batch = ctx_params.n_ubatch = n_batch
        ctx_params.n_seq_max = n_seq
        ctx_params.n_threads = ctx_params.n_threads_batch = threads
        ctx_params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        # Per-sequence streams: attention reads only the sequence's own cells. A full-size SWA cache keeps
        # every window reachable, so a sequence can be trimmed anywhere and copied prefixes stay whole.
        ctx_params.kv_unified = False
        ctx_params.swa_full = True
        try:
            self.model: Any = LlamaModel(path_model=str(model_path), params=model_params, verbose=False)
            self.context: Any = LlamaContext(model=self.model, params=ctx_params, verbose=False)
        except (ValueError, RuntimeError, OSError) as error:
            reason = (llama_log.recent_errors() or [str(error)])[-1]
            raise ModelFileError(f"{model_path.name}: llama.cpp cannot load it ({reason.strip()})") from None
        self.ctx = self.context.ctx
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.recurrent = bool(llama_cpp.llama_model_is_recurrent(self.model.model)
                              or llama_cpp.llama_model_is_hybrid(self.model.model))
        self.n_batch = n_batch
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.cached: list[list[int]] = [[] for _ in range(n_seq)]  # the tokens each sequence's memory holds
        self.evaluated_tokens = 0  # tokens run through the model, all sequences together
        self.adopted_tokens = 0  # prompt tokens copied from another sequence instead of evaluated
        self.decode_steps = 0
        self._pending: list[_Work] = []
        self._active: set[int] = set()
        self._cond = threading.Condition()
        self._memory_lock = threading.Lock()  # held during a decode and around every memory edit
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="ornith-parallel-decode", daemon=True)
        self._thread.start()

    # -- what a sequence's thread calls --------------------------------------------------------------

    def submit(self, seq: int, tokens: list[int], sampler: RowSampler | None) -> int:
        """Evaluate `tokens` after what `seq` holds; with a sampler, sample the next token and return it."""
        if not tokens:
            raise BackendError("nothing to evaluate: a sequence asked for a token without new input")
        if len(self.cached[seq]) + len(tokens) > self.n_ctx_per_seq:
            raise BackendError(f"sequence {seq} is full ({self.n_ctx_per_seq} tokens); compact the conversation")
        work = _Work(seq, list(tokens), sampler)
        with self._cond:
            if self._closed:
                raise BackendError("the parallel engine is closed")
            self._pending.append(work)
            self._cond.notify_all()
        work.done.wait()
        if work.error is not None:
            raise BackendError(work.error)
        return work.token

    def set_active(self, seq: int, active: bool) -> None:
        """Mark `seq` as generating: steps wait briefly for its next token so it rides in the same batch."""
        with self._cond:
            (self._active.add if active else self._active.discard)(seq)
            self._cond.notify_all()

    def trim(self, seq: int, keep: int) -> bool:
        """Drop what `seq` holds from position `keep` on; False where the memory cannot (recurrent state)."""
        with self._memory_lock:
            if keep >= len(self.cached[seq]):
                return True
            if not self.api.llama_memory_seq_rm(self.memory, seq, keep, -1):
                return False
            del self.cached[seq][keep:]
            return True

    def clear(self, seq: int) -> None:
        with self._memory_lock:
            self.api.llama_memory_seq_rm(self.memory, seq, -1, -1)
            self.cached[seq] = []

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        if self.batch is not None:
            self.api.llama_batch_free(self.batch)
            self.batch = None
        self.context.close()
        self.model.close()

    # -- the scheduler -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    for work in self._pending:
                        work.error = "the parallel engine is closed"
                        work.done.set()
                    return
                deadline = time.perf_counter() + _GATHER_S
                while (not self._active <= {work.seq for work in self._pending}
                       and (left := deadline - time.perf_counter()) > 0):
                    self._cond.wait(left)
                work_list = list(self._pending)
            finished = self._step(work_list)
            with self._cond:
                self._pending = [work for work in self._pending if work not in finished]
            for work in finished:
                work.done.set()

    def _step(self, work_list: list[_Work]) -> list[_Work]:
        """One decode over everything pending (as much as the batch holds); return the work it completed."""
        with self._memory_lock:
            for work in work_list:
                if work.fed == 0:
                    self._adopt(work)
            batch, rows, used = self.batch, [], 0
            fed: list[tuple[_Work, int]] = []
            for work in work_list:
                take = min(len(work.tokens) - work.fed, self.n_batch - used)
                if take <= 0 or self._waits_for_leader(work, work_list):
                    continue
                start = len(self.cached[work.seq])
                for offset in range(take):
                    batch.token[used] = work.tokens[work.fed + offset]
                    batch.pos[used] = start + offset
                    batch.n_seq_id[used] = 1
                    batch.seq_id[used][0] = work.seq
                    last = work.fed + offset == len(work.tokens) - 1
                    batch.logits[used] = bool(last and work.sampler is not None)
                    if batch.logits[used]:
                        rows.append((work, used))
                    used += 1
                fed.append((work, take))
            if not used:
                return []
            batch.n_tokens = used
            status = int(self.api.llama_decode(self.ctx, batch))
            finished: list[_Work] = []
            if status != 0:
                for work, _ in fed:
                    work.error = f"llama_decode failed ({status}) with {used} tokens in the batch"
                    finished.append(work)
                return finished
            self.decode_steps += 1
            self.evaluated_tokens += used
            for work, take in fed:
                self.cached[work.seq].extend(work.tokens[work.fed:work.fed + take])
                work.fed += take
            for work, row in rows:
                assert work.sampler is not None
                work.token = work.sampler.sample(self.ctx, row)
            finished += [work for work, _ in fed if work.fed == len(work.tokens)]
            return finished

    def _adopt(self, work: _Work) -> None:
        """Copy the longest prefix of what `work`'s sequence asks for (what it holds, then `work.tokens`) that
        another sequence holds, instead of evaluating it; only when that is more than the sequence holds."""
        if len(work.tokens) < 2:  # a decode step's one token must be decoded: nothing to copy, no scan per token
            return
        held = self.cached[work.seq]
        wanted = held + work.tokens
        best, donor = len(held), -1
        for seq, theirs in enumerate(self.cached):
            if seq == work.seq or len(theirs) <= best:
                continue
            common = _common_prefix(theirs, wanted, len(wanted) - 1)  # the last token must be decoded
            if self.recurrent and common < len(theirs):
                continue  # recurrent state is that of the donor's last token: only a whole donor fits
            if common > best:
                best, donor = common, seq
        if donor < 0:
            return
        self.api.llama_memory_seq_rm(self.memory, work.seq, -1, -1)
        self.api.llama_memory_seq_cp(self.memory, donor, work.seq, -1, -1)
        if best < len(self.cached[donor]) and not self.api.llama_memory_seq_rm(self.memory, work.seq, best, -1):
            # Not reached (a trim fails only on recurrent state, where only whole donors are taken); if it were,
            # the sequence's own tokens are gone and it reads everything again.
            self.api.llama_memory_seq_rm(self.memory, work.seq, -1, -1)
            self.cached[work.seq] = []
            work.tokens, work.fed = wanted, 0
            return
        self.cached[work.seq] = self.cached[donor][:best]
        work.fed = best - len(held)
        self.adopted_tokens += best - len(held)

    def _waits_for_leader(self, work: _Work, work_list: list[_Work]) -> bool:
        """New tokens that an earlier pending work is about to read into its own sequence wait to be copied."""
        if work.fed or len(work.tokens) < 3:  # it could copy at most len - 1 tokens, and waits for 2 or more
            return False
        held = self.cached[work.seq]
        wanted = held + work.tokens
        for other in work_list:
            if other is work:
                return False
            if other.seq == work.seq or other.fed >= len(other.tokens):
                continue
            theirs = self.cached[other.seq] + other.tokens[other.fed:]  # what the other will hold
            shared = _common_prefix(theirs, wanted, len(wanted) - 1)
            if shared >= len(held) + 2 and shared > len(self.cached[other.seq]) and \
                    (not self.recurrent or shared == len(theirs)):
                return True
        return False


def _common_prefix(left: list[int], right: list[int], limit: int) -> int:
    common = 0
    for old, new in zip(left, right, strict=False):
        if old != new or common >= limit:
            break
        common += 1
    return common
