"""Warm starts: a new backend (a new run) restores the system prompt's saved state instead of evaluating it.

Real llama.cpp on the tiny Gemma model and on the synthetic qwen35 twin (hybrid: its recurrent state must
come back from disk too, which a KV-only restore would get wrong and the greedy output would show).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from ornith_local.config import ConfigError, load_config
from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.llm.warm import WarmEntry, WarmStore, open_store, restore_state

SYSTEM = ("You are a careful coding agent. You fix bugs in this repository with the smallest edit, run the tests "
          "after each change and explain what you changed. " * 6)
TOOLS = tuple({"type": "function", "function": {"name": name, "description": f"{name} a file of the project",
               "parameters": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}}}
              for name in ("read_file", "edit_file", "run_tests"))
GREEDY = GenerateOptions(max_tokens=12, temperature=0.0, tools=TOOLS)


def _chat(backend: LlamaCppBackend, task: str, system: str = SYSTEM) -> tuple[str, int, int]:
    completion = backend.chat([Message("system", system), Message("user", task)], GREEDY)
    if backend.warm is not None:
        backend.warm.wait()
    return completion.text, completion.stats.warm_tokens, completion.stats.evaluated_prompt_tokens


def _tiny(path: Path, store: WarmStore | None) -> LlamaCppBackend:
    return LlamaCppBackend(path, n_ctx=2048, threads=1, warm=store)


def test_a_new_run_restores_the_system_prompt_and_answers_the_same(tiny_model_path: Path, tmp_path: Path) -> None:
    store = WarmStore(tmp_path, 1 << 30)
    cold_text, warm_tokens, cold_evaluated = _chat(_tiny(tiny_model_path, store), "Fix the failing test.")
    assert warm_tokens == 0 and len(list(tmp_path.glob("*.warm"))) == 1  # the first run saved its prefix

    text, warm_tokens, evaluated = _chat(_tiny(tiny_model_path, store), "Fix the failing test.")
    assert text == cold_text  # same greedy reply as the cold run
    assert warm_tokens > 100 and evaluated == cold_evaluated - warm_tokens and evaluated < 30
    # Another task on the same system prompt reuses it too.
    assert _chat(_tiny(tiny_model_path, store), "Rename the helper in utils.py.")[1] == warm_tokens
    # The store is off: nothing restored, same reply.
    assert _chat(_tiny(tiny_model_path, None), "Fix the failing test.") == (cold_text, 0, cold_evaluated)


def test_a_changed_system_prompt_or_tools_starts_cold(tiny_model_path: Path, tmp_path: Path) -> None:
    store = WarmStore(tmp_path, 1 << 30)
    _chat(_tiny(tiny_model_path, store), "Fix the failing test.")
    assert _chat(_tiny(tiny_model_path, store), "Fix it.", system=SYSTEM + "Be brief.")[1] == 0
    backend = _tiny(tiny_model_path, store)
    completion = backend.chat([Message("system", SYSTEM), Message("user", "Fix it.")],
                              GenerateOptions(max_tokens=4, temperature=0.0, tools=TOOLS[:2]))
    assert completion.stats.warm_tokens == 0
    store.wait()
    assert len(list(tmp_path.glob("*.warm"))) == 3  # each prefix got its own file


def test_a_corrupt_file_is_ignored_removed_and_replaced(tiny_model_path: Path, tmp_path: Path) -> None:
    store = WarmStore(tmp_path, 1 << 30)
    cold = _chat(_tiny(tiny_model_path, store), "Fix the failing test.")
    (saved,) = tmp_path.glob("*.warm")
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])  # a torn write
    assert _chat(_tiny(tiny_model_path, store), "Fix the failing test.") == cold  # cold, and no crash
    assert saved.read_bytes() == data  # the cold run saved it again
    # A file whose checksum holds but whose state llama.cpp cannot read (another engine's) is also dropped.
    key = saved.stem
    entry = store.load(key, _prefix_tokens(data))
    assert entry is not None
    store.save(key, WarmEntry(entry.tokens, b"\x01" * 64))
    assert _chat(_tiny(tiny_model_path, store), "Fix the failing test.") == cold


def _prefix_tokens(data: bytes) -> tuple[int, ...]:
    import struct

    _, count, name_size = struct.unpack_from("<8sII", data)
    return struct.unpack_from(f"<{count}i", data, 16 + name_size)


def test_the_size_cap_removes_the_least_recently_used(tmp_path: Path) -> None:
    store = WarmStore(tmp_path, 2500)
    for number in range(3):
        store.save(f"k{number}", WarmEntry((1, 2, 3), bytes([number]) * 1000))
    assert sorted(path.stem for path in tmp_path.glob("*.warm")) == ["k1", "k2"]
    assert store.load("k1", (1, 2, 3)) is not None  # used: now newer than k2
    store.save("k3", WarmEntry((1, 2, 3), b"x" * 1000))
    assert sorted(path.stem for path in tmp_path.glob("*.warm")) == ["k1", "k3"]
    assert store.load("k1", (9,)) is None and not store.path("k1").exists()  # not this prompt's: removed


def test_the_config_key_sets_the_cap_and_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config(environ={}).model.warm_start_mb == 2048
    assert open_store(0) is None
    store = open_store(load_config(environ={"ORNITH_MODEL_WARM_START_MB": "64"}).model.warm_start_mb)
    assert store is not None and store.cap_bytes == 64 << 20 and store.folder.name == "warm"
    with pytest.raises(ConfigError, match=r"warm_start_mb.*at least 0"):
        load_config(environ={"ORNITH_MODEL_WARM_START_MB": "-1"})


def _recurrent_state(backend: LlamaCppBackend) -> bytes:
    """Sequence 0's recurrent part only (llama.cpp's partial state: the KV of attention layers left out)."""
    api, ctx = backend._llama_cpp, backend.llama.ctx
    flags = api.LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY
    size = api.llama_state_seq_get_size_ext(ctx, 0, flags)
    buffer = (ctypes.c_uint8 * size)()
    return ctypes.string_at(buffer, api.llama_state_seq_get_data_ext(ctx, buffer, size, 0, flags))


def test_the_hybrid_twin_restores_its_recurrent_state(tmp_path: Path) -> None:
    pytest.importorskip("gguf", reason="the synthetic twins are written with the gguf package (dev extra)")
    from ornith_local.llm.twin import twin_path

    def twin() -> LlamaCppBackend:
        return LlamaCppBackend(twin_path("qwen35"), n_ctx=4096, threads=1, template_family="ornith",
                               warm=WarmStore(tmp_path, 1 << 30))

    options = GenerateOptions(max_tokens=16, max_reasoning_tokens=8, temperature=0.0, tools=TOOLS)
    messages = [Message("system", SYSTEM), Message("user", "Fix the failing test.")]
    first = twin()
    assert first.recurrent
    cold = first.chat(messages, options)
    assert first.warm is not None
    first.warm.wait()
    warm = twin().chat(messages, options)
    assert warm.stats.warm_tokens > 100 and warm.stats.evaluated_prompt_tokens < 30
    assert warm.text == cold.text and warm.token_ids == cold.token_ids
    # The twin's random recurrent layers forget within the tail, so the reply alone cannot tell: compare the
    # recurrent state right at the prefix end, restored from disk vs evaluated here (and vs other tokens').
    (saved,) = tmp_path.glob("*.warm")
    entry = first.warm.load(saved.stem, _prefix_tokens(saved.read_bytes()))
    assert entry is not None and len(entry.tokens) == warm.stats.warm_tokens
    evaluated, restored, other = twin(), twin(), twin()
    evaluated.llama.eval(list(entry.tokens))
    other.llama.eval(list(reversed(entry.tokens)))
    assert restore_state(restored.llama, restored._llama_cpp, entry)
    assert _recurrent_state(restored) == _recurrent_state(evaluated) != _recurrent_state(other)
