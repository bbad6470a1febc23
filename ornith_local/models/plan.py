"""The offload plan: how many layers go to the GPU and how large a context fits, from free memory and the GGUF.

Inputs are the model's own shape (per-layer bytes, KV bytes per token, trained context) and what the
machine has free. The plan is explained in words, because "why is it slow" is the user's first question.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ornith_local.models.gguf import GgufInfo
from ornith_local.models.hardware import Hardware

MIB = 1024 * 1024
# llama.cpp's compute buffers and scratch space beside the weights and the KV cache (measured ~0.5 GiB
# for small models; larger for big vocabularies), and headroom so the desktop keeps working.
_COMPUTE_RESERVE = 768 * MIB
_RAM_HEADROOM = 1024 * MIB
_MIN_CTX, _CPU_MAX_CTX, _GPU_MAX_CTX = 2048, 16384, 65536


class DoesNotFit(ValueError):
    """The model cannot run on this machine at all; the message says how far off it is."""


@dataclass(frozen=True)
class OffloadPlan:
    n_gpu_layers: int  # -1: every layer
    n_ctx: int
    device: str  # "cuda" | "metal" | "cpu"
    weights_on_gpu_bytes: int
    kv_bytes: int
    notes: list[str] = field(default_factory=list)
    sequences: int = 1  # parallel sequences sharing the model: each has `n_ctx`, the KV cache holds them all

    def explain(self) -> str:
        where = "all layers on the GPU" if self.n_gpu_layers == -1 else (
            f"{self.n_gpu_layers} layers on the GPU, the rest on the CPU" if self.n_gpu_layers else "CPU only")
        context = f"context {self.n_ctx} tokens" if self.sequences == 1 else (
            f"{self.sequences} sequences x {self.n_ctx} tokens")
        return f"{where}; {context} (KV cache {self.kv_bytes / MIB:.0f} MiB)" + "".join(
            f"; {note}" for note in self.notes)


def _round_ctx(tokens: int) -> int:
    return max(0, tokens // 1024 * 1024)


def plan_offload(info: GgufInfo, hardware: Hardware, *, gpu_build: bool | None = None,
                 want_ctx: int | None = None, sequences: int = 1) -> OffloadPlan:
    """Largest offload and per-sequence context that fit; DoesNotFit when even the CPU cannot hold the weights.

    `sequences` parallel sequences (attempts decoded in one context) each get the context: KV is N times larger.
    """
    plan = _plan(info, hardware, gpu_build, want_ctx, max(info.kv_bytes_per_token(), 1) * max(sequences, 1))
    return replace(plan, sequences=max(sequences, 1))


def _plan(info: GgufInfo, hardware: Hardware, gpu_build: bool | None, want_ctx: int | None,
          kv_per_token: int) -> OffloadPlan:
    layers = info.layer_bytes()
    n_layers = len(layers)
    trained = info.context_length or 4096
    offload = hardware.llama.gpu_offload if gpu_build is None else gpu_build
    gpu = max(hardware.gpus, key=lambda g: g.free_mib) if hardware.gpus and offload else None
    notes: list[str] = []
    ram = hardware.ram_available_mib * MIB - _RAM_HEADROOM

    if gpu is None:
        max_ctx = min(trained, want_ctx or _CPU_MAX_CTX)
        room = ram - info.file_size - _COMPUTE_RESERVE
        if room < kv_per_token * _MIN_CTX:
            need = (info.file_size + _COMPUTE_RESERVE + kv_per_token * _MIN_CTX + _RAM_HEADROOM) / 2**30
            raise DoesNotFit(f"{info.path.name} needs about {need:.1f} GiB of free RAM; "
                             f"{hardware.ram_available_mib / 1024:.1f} GiB is free")
        n_ctx = _round_ctx(min(max_ctx, room // kv_per_token))
        notes.append("no GPU offload: it will be slow (prompt processing dominates; keep prompts short)")
        return OffloadPlan(0, n_ctx, "cpu", 0, n_ctx * kv_per_token, notes)

    free = gpu.free_mib * MIB - _COMPUTE_RESERVE
    max_ctx = min(trained, want_ctx or _GPU_MAX_CTX)
    # Everything on the GPU with at least the minimum context? Then grow the context into what is left.
    if info.file_size + kv_per_token * _MIN_CTX <= free:
        n_ctx = _round_ctx(min(max_ctx, (free - info.file_size) // kv_per_token))
        return OffloadPlan(-1, n_ctx, gpu.kind, info.file_size, n_ctx * kv_per_token, notes)
    # Partial offload: a modest context first, then as many layers as fit beside it.
    n_ctx = _round_ctx(min(max_ctx, 8192))
    kv_per_layer = n_ctx * kv_per_token // max(n_layers, 1)
    used, count = 0, 0
    for size in reversed(layers):  # llama.cpp offloads the last layers first
        if used + size + kv_per_layer > free:
            break
        used += size + kv_per_layer
        count += 1
    if info.file_size - used > ram:
        raise DoesNotFit(f"{info.path.name} ({info.file_size / 2**30:.1f} GiB) does not fit in "
                         f"{gpu.free_mib / 1024:.1f} GiB free VRAM plus "
                         f"{hardware.ram_available_mib / 1024:.1f} GiB RAM")
    if count < n_layers:
        notes.append(f"{n_layers - count} of {n_layers} layers stay on the CPU: a smaller quantisation would be faster")
    else:
        notes.append("the embeddings and output layer stay on the CPU")
    return OffloadPlan(count, n_ctx, gpu.kind, used, n_ctx * kv_per_token, notes)


# Without a GPU, llama.cpp reads every weight once per generated token: on a few CPU cores a file larger than
# this decodes too slowly for an agent (measured: the 1.1 GB Qwen 1.5B gives ~10 tok/s on 2 cores).
_CPU_USABLE_BYTES_PER_CORE = 1_500_000_000 // 4


def fit_verdict(size_bytes: int, hardware: Hardware) -> str:
    """For a catalog entry not downloaded yet: "yes", "partly", "slow" or "no", judged honestly.

    "yes": the file fits fully in free VRAM (or, CPU only, it is small for this many cores).
    "partly": some layers on the GPU, the rest in RAM. "slow": it fits in RAM but runs on the CPU only,
    too large for the cores to make an agent usable. "no": it does not fit in memory at all.
    """
    ram = hardware.ram_available_mib * MIB - _RAM_HEADROOM
    if hardware.gpus and hardware.llama.gpu_offload:
        vram = max(gpu.free_mib for gpu in hardware.gpus) * MIB - _COMPUTE_RESERVE
        if size_bytes + 2048 * 64 * 1024 <= vram:
            return "yes"
        return "partly" if size_bytes <= vram + ram else "no"
    if size_bytes + _COMPUTE_RESERVE > ram:
        return "no"
    return "yes" if size_bytes <= _CPU_USABLE_BYTES_PER_CORE * max(hardware.cpu_count, 1) else "slow"


def estimated_fits(size_bytes: int, hardware: Hardware) -> bool:
    """Whether the file fits fully in VRAM (or, without a GPU, is small enough for the CPU): `fit_verdict` == yes."""
    return fit_verdict(size_bytes, hardware) == "yes"


def plan_before_download(size_bytes: int | None, n_params_text: str, hardware: Hardware) -> str:
    """The offload plan in words from the catalog alone (the GGUF header, with its KV size, is not here yet)."""
    if not size_bytes:
        return "unknown: the catalog has no file size for this entry"
    verdict = fit_verdict(size_bytes, hardware)
    weights = f"{size_bytes / 2**30:.1f} GiB of weights ({n_params_text})"
    if hardware.gpus and hardware.llama.gpu_offload:
        vram = max(gpu.free_mib for gpu in hardware.gpus)
        where = {"yes": "all layers on the GPU", "partly": "some layers on the GPU, the rest on the CPU",
                 "no": "does not fit"}[verdict]
        return f"{weights}: {where} ({vram / 1024:.1f} GiB VRAM free); context sized after download from the GGUF"
    where = {"yes": "CPU only", "slow": f"CPU only on {hardware.cpu_count} cores: slow (no GPU offload)",
             "no": "does not fit"}[verdict]
    return (f"{weights}: {where} ({hardware.ram_available_mib / 1024:.1f} GiB RAM free); "
            "context sized after download from the GGUF")
