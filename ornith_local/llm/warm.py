"""Warm starts: the model state after the prompt's stable prefix, kept on disk between runs.

Every new run starts with the same system prompt and tool schemas (~2K tokens for the agent), whose prefill
costs tens of seconds on a CPU. The first run saves llama.cpp's full sequence state right after that prefix
(KV cache and, for a hybrid model, the recurrent state: a recurrent state cannot be trimmed back, so the
snapshot is taken exactly at the prefix end); later runs restore it and evaluate only the rest.

A file's name is a hash of everything its state depends on: the model file (path, size, mtime), the chat
template's text, llama.cpp's version and context settings, and the prefix tokens. Any change gives another
name, so nothing is ever invalidated in place; stale files age out under the size cap (least recently used
first). A file that is truncated, corrupt or from elsewhere is removed with a logged note and the run goes cold.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("ornith.llm")

_MAGIC = b"ORNWARM1"
_HEADER = struct.Struct("<8sII")  # magic, token count, key length
_SUFFIX = ".warm"
_DIGEST = 32  # sha256 of everything before it: a torn or edited file never restores


@dataclass(frozen=True)
class WarmEntry:
    """What a warm file holds: the prefix tokens and the sequence state after them."""

    tokens: tuple[int, ...]
    state: bytes


def model_identity(model_path: Path, template_text: str, *extra: object) -> str:
    """What a saved state depends on besides its tokens: the file as it is now, the template, the engine."""
    stat = model_path.stat()
    parts = [str(model_path.resolve()), str(stat.st_size), str(stat.st_mtime_ns),
             hashlib.sha256(template_text.encode("utf-8")).hexdigest(), *map(str, extra)]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


class WarmStore:
    """A folder of warm-start files, at most `cap_bytes` in all (oldest-used removed first)."""

    def __init__(self, folder: Path, cap_bytes: int) -> None:
        self.folder = folder
        self.cap_bytes = cap_bytes
        self._writes: list[threading.Thread] = []

    def key(self, identity: str, tokens: Sequence[int]) -> str:
        digest = hashlib.sha256(identity.encode("utf-8"))
        digest.update(struct.pack(f"<{len(tokens)}i", *tokens))
        return digest.hexdigest()[:40]

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"

    def load(self, key: str, tokens: Sequence[int]) -> WarmEntry | None:
        """The saved state for these exact tokens, or None (a bad file is removed, never raised)."""
        self.wait()
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        entry = _decode(data, key)
        if entry is None or entry.tokens != tuple(tokens):
            logger.info("warm start: ignored and removed %s (truncated, corrupt or not this prompt's)", path.name)
            self.discard(key)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # "recently used", for the size cap
        return entry

    def restore(self, llama: Any, api: Any, key: str, tokens: Sequence[int]) -> int:
        """Load the saved state of `tokens` into an empty context; how many tokens it holds (0: go cold)."""
        entry = self.load(key, tokens)
        if entry is None:
            return 0
        if not restore_state(llama, api, entry):
            logger.info("warm start: llama.cpp refused %s; removed, evaluating the prompt", self.path(key).name)
            self.discard(key)
            return 0
        return len(entry.tokens)

    def discard(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self.path(key).unlink()

    def save_later(self, key: str, entry: WarmEntry | None) -> None:
        """Write in a background thread, so the user never waits for the disk (`wait` joins it)."""
        if entry is None:
            return
        thread = threading.Thread(target=self.save, args=(key, entry), name="ornith-warm-save")
        self._writes.append(thread)
        thread.start()

    def wait(self) -> None:
        while self._writes:
            self._writes.pop().join()

    def save(self, key: str, entry: WarmEntry) -> None:
        """Write one file (atomically: a temporary name, then a rename), then enforce the cap."""
        if self.cap_bytes <= 0:
            return
        data = _encode(key, entry)
        if len(data) > self.cap_bytes:
            logger.info("warm start: state of %d MB is over the cap, not saved", len(data) >> 20)
            return
        temporary = self.folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            temporary.replace(self.path(key))
        except OSError as error:
            logger.info("warm start: could not save %s (%s)", self.path(key).name, error)
            temporary.unlink(missing_ok=True)
            return
        self.prune(keep=key)

    def prune(self, keep: str | None = None) -> None:
        """Remove the least recently used files until the folder fits the cap (`keep` last of all)."""
        try:
            files = [(path.stat(), path) for path in self.folder.glob(f"*{_SUFFIX}")]
        except OSError:
            return
        files.sort(key=lambda item: (item[1].stem == keep, item[0].st_mtime_ns))
        total = sum(stat.st_size for stat, _ in files)
        for stat, path in files:
            if total <= self.cap_bytes:
                break
            path.unlink(missing_ok=True)
            total -= stat.st_size

    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.folder.glob(f"*{_SUFFIX}"))


def _encode(key: str, entry: WarmEntry) -> bytes:
    name = key.encode("ascii")
    body = b"".join([_HEADER.pack(_MAGIC, len(entry.tokens), len(name)), name,
                     struct.pack(f"<{len(entry.tokens)}i", *entry.tokens), entry.state])
    return body + hashlib.sha256(body).digest()


def _decode(data: bytes, key: str) -> WarmEntry | None:
    if len(data) < _HEADER.size + _DIGEST:
        return None
    body = memoryview(data)[:-_DIGEST]  # no copy of a state of tens of MB
    if hashlib.sha256(body).digest() != data[-_DIGEST:]:
        return None
    magic, count, name_size = _HEADER.unpack_from(body)
    start = _HEADER.size + name_size
    state_at = start + 4 * count
    if magic != _MAGIC or body[_HEADER.size:start] != key.encode("ascii") or state_at >= len(body):
        return None
    tokens = struct.unpack_from(f"<{count}i", body, start)
    return WarmEntry(tuple(tokens), bytes(body[state_at:]))


def open_store(megabytes: int) -> WarmStore | None:
    """The user's warm-start store with a cap of `megabytes` ([model] warm_start_mb), or None when it is 0."""
    if megabytes <= 0:
        return None
    from ornith_local.config.paths import app_dirs

    return WarmStore(app_dirs().warm_starts, megabytes << 20)


def stable_prefix(render: Callable[[list[str]], str], prompt: str) -> int:
    """Characters of `prompt` that do not depend on the first user message, found by rendering two probes.

    `render(texts)` renders the leading system messages followed by a user message with each text. A template
    that puts the system text inside the first user turn (Gemma) still has a stable prefix up to that point.
    """
    first, second = render(["\ue010"]), render(["\ue011"])
    size = 0
    for a, b, c in zip(first, second, prompt, strict=False):
        if not a == b == c:
            break
        size += 1
    return size


def shared_tokens(prefix: Sequence[int], tokens: Sequence[int]) -> int:
    """How many of `prefix`'s tokens begin `tokens`, leaving out its last one (it may merge with what follows
    in another prompt) and the prompt's last (evaluated for its logits)."""
    common = next((i for i, (a, b) in enumerate(zip(prefix, tokens, strict=False)) if a != b),
                  min(len(prefix), len(tokens)))
    return max(0, min(common, len(prefix) - 1, len(tokens) - 1))


def snapshot_state(llama: Any, api: Any, tokens: Sequence[int]) -> WarmEntry | None:
    """The full state of sequence 0 (KV and recurrent parts alike), which holds exactly `tokens`."""
    ctx = llama.ctx
    size = int(api.llama_state_seq_get_size_ext(ctx, 0, 0))
    buffer = (ctypes.c_uint8 * size)()
    written = int(api.llama_state_seq_get_data_ext(ctx, buffer, size, 0, 0))
    return WarmEntry(tuple(tokens), ctypes.string_at(buffer, written)) if written > 0 else None


def restore_state(llama: Any, api: Any, entry: WarmEntry) -> bool:
    """Load `entry` into an empty context and tell the `Llama` object its tokens; False (cleared) on failure."""
    data = ctypes.cast(ctypes.c_char_p(entry.state), ctypes.POINTER(ctypes.c_uint8))
    read = int(api.llama_state_seq_set_data_ext(llama.ctx, data, len(entry.state), 0, 0))
    if read != len(entry.state):
        llama.reset()
        llama._ctx.kv_cache_clear()
        return False
    llama.input_ids[: len(entry.tokens)] = entry.tokens
    llama.n_tokens = len(entry.tokens)
    return True
