"""Synthetic twins: tiny random-weight GGUFs of the real `qwen35` / `qwen35moe` architectures.

No Ornith weights can be downloaded here, but everything the agent depends on besides the weights' quality
is the engine's: the chat template, the tokenizer's special tokens, grammar-constrained sampling, stop
handling, and the KV cache plus recurrent state of a hybrid linear/full-attention model. A twin has the
real architecture (three gated-delta-net layers then one full-attention layer, as Qwen3.5's
full_attention_interval of 4), a few thousand parameters, the published Ornith chat template, and a
byte-level Qwen-style BPE vocabulary with `<|im_start|>`, `<|im_end|>`, `<think>`, `</think>`,
`<tool_call>`... as single tokens. It loads in the bundled llama.cpp in well under a second; its text is
gibberish by design.

Written with the `gguf` package (llama.cpp's own writer; a dev dependency), into a cache folder, never
committed: `twin_path("qwen35")`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ornith_local.config import app_dirs
from ornith_local.llm.templates import FAMILIES

ARCHITECTURES = ("qwen35", "qwen35moe")
_VERSION = "1"  # bump when the layout changes: the cache key includes it

# Control tokens (turn markers, end of text) and the user-defined tokens Qwen3.5 keeps whole in text.
CONTROL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
TEXT_TOKENS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
               "<function=", "</function>", "<parameter=", "</parameter>")

# Shape: small, but every dimension llama.cpp derives from another one is consistent.
_EMBD, _LAYERS, _HEADS, _KV_HEADS, _HEAD_DIM, _FF = 64, 4, 2, 1, 32, 128
_SSM_STATE, _SSM_GROUPS, _SSM_V_HEADS, _SSM_CONV = 16, 2, 4, 4
_EXPERTS, _EXPERTS_USED, _EXPERT_FF = 4, 2, 32
_CONTEXT = 32768


def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values (what a byte-level BPE vocabulary stores)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = 0
    table = {}
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[byte] for byte in range(256)]


def _vocabulary() -> tuple[list[str], list[int], list[str]]:
    """Tokens, their types, and BPE merges: every byte, a few hundred common merges, then the special tokens."""
    import gguf

    alphabet = _byte_alphabet()
    tokens = list(alphabet)
    merges: list[str] = []
    # Merge frequent English/code pairs so a prompt costs fewer tokens than bytes (still a real BPE).
    space = alphabet[ord(" ")]
    newline = alphabet[ord("\n")]
    pieces = [f"{space}{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + [
        "th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of", "ed", "is",
        "it", "al", "ar", "st", "to", "nt", "ng", "se", "ha", "as", "ou", "io", "le", "ve", "co", "me", "de",
        "hi", "ri", "ro", "ic", "ne", "ea", "ra", "ce", "li", "ch", "ll", "be", "ma", "si", "om", "ur",
        f"{newline}{newline}", f"{space}{space}"]
    for piece in pieces:
        if piece not in tokens:
            merges.append(f"{piece[0]} {piece[1]}")
            tokens.append(piece)
    types = [gguf.TokenType.NORMAL] * len(tokens)
    for text in CONTROL_TOKENS:
        tokens.append(text)
        types.append(gguf.TokenType.CONTROL)
    for text in TEXT_TOKENS:
        tokens.append(text)
        types.append(gguf.TokenType.USER_DEFINED)
    while len(tokens) % 64:  # llama.cpp pads vocabularies; a multiple of 64 like the real one
        tokens.append(f"[PAD{len(tokens)}]")
        types.append(gguf.TokenType.UNUSED)
    return tokens, [int(kind) for kind in types], merges


def _tensors(arch: str, n_vocab: int, rand: Callable[..., Any]) -> dict[str, Any]:
    """Every tensor llama.cpp's qwen35 / qwen35moe loader asks for, with numpy shapes (reversed ggml dims)."""
    value_dim = _SSM_STATE * _SSM_V_HEADS
    key_dim = _SSM_STATE * _SSM_GROUPS
    tensors: dict[str, Any] = {
        "token_embd.weight": rand(n_vocab, _EMBD),
        "output_norm.weight": rand(_EMBD, norm=True),
        "output.weight": rand(n_vocab, _EMBD),
    }
    for layer in range(_LAYERS):
        blk = f"blk.{layer}"
        tensors[f"{blk}.attn_norm.weight"] = rand(_EMBD, norm=True)
        tensors[f"{blk}.post_attention_norm.weight"] = rand(_EMBD, norm=True)
        if (layer + 1) % 4 == 0:  # full attention; the query projection carries its gate (x2)
            tensors[f"{blk}.attn_q.weight"] = rand(_HEAD_DIM * _HEADS * 2, _EMBD)
            tensors[f"{blk}.attn_k.weight"] = rand(_HEAD_DIM * _KV_HEADS, _EMBD)
            tensors[f"{blk}.attn_v.weight"] = rand(_HEAD_DIM * _KV_HEADS, _EMBD)
            tensors[f"{blk}.attn_output.weight"] = rand(_EMBD, _HEAD_DIM * _HEADS)
            tensors[f"{blk}.attn_q_norm.weight"] = rand(_HEAD_DIM, norm=True)
            tensors[f"{blk}.attn_k_norm.weight"] = rand(_HEAD_DIM, norm=True)
        else:  # gated delta net (linear attention with a recurrent state)
            tensors[f"{blk}.attn_qkv.weight"] = rand(key_dim * 2 + value_dim, _EMBD)
            tensors[f"{blk}.attn_gate.weight"] = rand(value_dim, _EMBD)
            tensors[f"{blk}.ssm_conv1d.weight"] = rand(key_dim * 2 + value_dim, _SSM_CONV)
            tensors[f"{blk}.ssm_dt.bias"] = rand(_SSM_V_HEADS)
            tensors[f"{blk}.ssm_a"] = -abs(rand(_SSM_V_HEADS)) - 0.5
            tensors[f"{blk}.ssm_beta.weight"] = rand(_SSM_V_HEADS, _EMBD)
            tensors[f"{blk}.ssm_alpha.weight"] = rand(_SSM_V_HEADS, _EMBD)
            tensors[f"{blk}.ssm_norm.weight"] = rand(_SSM_STATE, norm=True)
            tensors[f"{blk}.ssm_out.weight"] = rand(_EMBD, value_dim)
        if arch == "qwen35moe":
            tensors[f"{blk}.ffn_gate_inp.weight"] = rand(_EXPERTS, _EMBD)
            tensors[f"{blk}.ffn_gate_exps.weight"] = rand(_EXPERTS, _EXPERT_FF, _EMBD)
            tensors[f"{blk}.ffn_up_exps.weight"] = rand(_EXPERTS, _EXPERT_FF, _EMBD)
            tensors[f"{blk}.ffn_down_exps.weight"] = rand(_EXPERTS, _EMBD, _EXPERT_FF)
            tensors[f"{blk}.ffn_gate_inp_shexp.weight"] = rand(_EMBD)
            tensors[f"{blk}.ffn_gate_shexp.weight"] = rand(_EXPERT_FF, _EMBD)
            tensors[f"{blk}.ffn_up_shexp.weight"] = rand(_EXPERT_FF, _EMBD)
            tensors[f"{blk}.ffn_down_shexp.weight"] = rand(_EMBD, _EXPERT_FF)
        else:
            tensors[f"{blk}.ffn_gate.weight"] = rand(_FF, _EMBD)
            tensors[f"{blk}.ffn_up.weight"] = rand(_FF, _EMBD)
            tensors[f"{blk}.ffn_down.weight"] = rand(_EMBD, _FF)
    return tensors


def write_twin(arch: str, path: Path, *, seed: int = 0, chat_template: str | None = None) -> Path:
    """Write a twin of `arch` to `path` (random weights from `seed`) and return the path."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"no twin for architecture '{arch}' (known: {', '.join(ARCHITECTURES)})")
    try:
        import gguf
        import numpy as np
    except ImportError:
        raise RuntimeError("writing a synthetic twin needs the `gguf` package (the dev extra)") from None
    generator = np.random.default_rng(seed)

    def rand(*shape: int, norm: bool = False) -> Any:
        if norm:
            return np.ones(shape, dtype=np.float32)
        return (generator.standard_normal(shape) * 0.2).astype(np.float32)

    tokens, types, merges = _vocabulary()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.part")
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_name(f"ornith synthetic twin ({arch})")
    writer.add_context_length(_CONTEXT)
    writer.add_embedding_length(_EMBD)
    writer.add_block_count(_LAYERS)
    writer.add_feed_forward_length(_FF)
    writer.add_head_count(_HEADS)
    writer.add_head_count_kv(_KV_HEADS)
    writer.add_key_length(_HEAD_DIM)
    writer.add_value_length(_HEAD_DIM)
    writer.add_rope_freq_base(10_000_000.0)
    writer.add_rope_dimension_count(_HEAD_DIM // 2)
    writer.add_rope_dimension_sections([2, 3, 3, 0])  # IMROPE sections sum to half the rotary dims
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_ssm_conv_kernel(_SSM_CONV)
    writer.add_ssm_inner_size(_SSM_STATE * _SSM_V_HEADS)
    writer.add_ssm_state_size(_SSM_STATE)
    writer.add_ssm_time_step_rank(_SSM_V_HEADS)
    writer.add_ssm_group_count(_SSM_GROUPS)
    writer.add_full_attention_interval(4)
    if arch == "qwen35moe":
        writer.add_expert_count(_EXPERTS)
        writer.add_expert_used_count(_EXPERTS_USED)
        writer.add_expert_feed_forward_length(_EXPERT_FF)
        writer.add_expert_shared_feed_forward_length(_EXPERT_FF)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen35")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template if chat_template is not None else FAMILIES["ornith"])
    for name, data in _tensors(arch, len(tokens), rand).items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, path)
    return path


def twin_path(arch: str, *, folder: Path | None = None) -> Path:
    """The cached twin of `arch`, written on first use (a second or so); keyed by layout and template."""
    key = hashlib.sha256(f"{_VERSION}:{arch}:{FAMILIES['ornith']}".encode()).hexdigest()[:12]
    path = (folder or app_dirs().cache / "twins") / f"{arch}-twin-{key}.gguf"
    if not path.is_file():
        write_twin(arch, path)
    return path
