"""What the status bar says about the loaded model: name, quantisation, backend, GPU layers, context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.llm.backend import Backend

# llama.cpp's llama_ftype values for the common quantisations (GGUF `general.file_type`).
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}
_QUANT_IN_NAME = re.compile(r"(?i)(?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|BF16|F16|F32)(?=\.gguf$|[-_.])")


@dataclass(frozen=True)
class ModelInfo:
    name: str  # the model file (or the server's model id)
    quantisation: str  # "Q4_K_M", or "" when unknown
    backend: str  # "llama.cpp CPU", "llama.cpp GPU", "http <url>", "scripted"
    gpu_layers: str  # "12/36", "all 36", "0/36", or "" when it does not apply
    n_ctx: int


def quantisation_of(file_name: str, metadata: dict[str, Any] | None = None) -> str:
    match = _QUANT_IN_NAME.search(file_name)
    if match:
        return match.group(1).upper()
    file_type = (metadata or {}).get("general.file_type")
    return FILE_TYPES.get(file_type, "") if isinstance(file_type, int) else ""


def display_name(file_name: str, quantisation: str) -> str:
    """The model's file name without '.gguf' and without the quantisation the status bar shows anyway."""
    stem = file_name[:-5] if file_name.lower().endswith(".gguf") else file_name
    if quantisation and stem.lower().endswith(quantisation.lower()):
        stem = stem[: -len(quantisation)].rstrip("-_.") or stem
    return stem


def describe(backend: Backend) -> ModelInfo:
    """Everything the status bar shows about `backend`, without touching the model itself."""
    kind = type(backend).__name__
    if kind == "LlamaCppBackend":
        path: Path = getattr(backend, "model_path", Path(backend.name))
        info = getattr(backend, "info", None)
        metadata = getattr(info, "metadata", {}) or {}
        layers = int(getattr(info, "n_layers", 0) or 0)
        params = getattr(getattr(backend, "llama", None), "model_params", None)
        offloaded = int(getattr(params, "n_gpu_layers", 0) or 0)
        if offloaded < 0 or (layers and offloaded >= layers):
            gpu = f"all {layers}" if layers else "all"
        else:
            gpu = f"{offloaded}/{layers}" if layers else str(offloaded)
        where = "GPU" if offloaded else "CPU"
        quant = quantisation_of(path.name, metadata)
        return ModelInfo(display_name(path.name, quant), quant, f"llama.cpp {where}", gpu, backend.n_ctx)
    if kind == "HttpBackend":
        model = str(getattr(backend, "model", "default"))
        return ModelInfo(model, quantisation_of(model + ".gguf"), f"http {backend.name}", "", backend.n_ctx)
    return ModelInfo(backend.name, "", backend.name, "", backend.n_ctx)
