"""Read a GGUF file's header, metadata and tensor table without llama.cpp.

A bad file must give a clear one-line error, never a crash inside llama.cpp, and the offload plan needs
the model's shape (layers, heads, per-layer bytes) before anything is loaded. Large arrays (the
vocabulary) are skipped, not decoded.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY_ITEMS = 64  # per-layer arrays are kept; vocabularies (100K+ entries) are skipped


class ModelFileError(ValueError):
    """The file is missing, unreadable, not a GGUF, or truncated."""


def check_gguf(path: Path) -> int:
    """Raise ModelFileError unless `path` starts like a GGUF file; return its GGUF version."""
    try:
        with path.open("rb") as handle:
            header = handle.read(8)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read: {error.strerror}") from None
    if len(header) < 8 or header[:4] != GGUF_MAGIC:
        raise ModelFileError(f"{path}: not a GGUF model file (bad magic bytes)")
    (version,) = struct.unpack("<I", header[4:8])
    if version not in (2, 3):
        raise ModelFileError(f"{path}: unsupported GGUF version {version}")
    return int(version)


@dataclass
class GgufInfo:
    path: Path
    version: int
    metadata: dict[str, Any]
    # name -> bytes, from the gaps between tensor offsets (no per-type size table needed).
    tensor_bytes: dict[str, int] = field(default_factory=dict)
    file_size: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch_value(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def n_layers(self) -> int:
        return int(self.arch_value("block_count", 0))

    @property
    def context_length(self) -> int:
        return int(self.arch_value("context_length", 0))

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return str(value) if value else None

    def layer_bytes(self) -> list[int]:
        sizes = [0] * self.n_layers
        for name, size in self.tensor_bytes.items():
            if name.startswith("blk."):
                index = int(name.split(".")[1])
                if index < len(sizes):
                    sizes[index] += size
        return sizes

    @property
    def non_layer_bytes(self) -> int:
        return sum(size for name, size in self.tensor_bytes.items() if not name.startswith("blk."))

    def _per_layer(self, key: str, default: int) -> list[int]:
        value = self.arch_value(key, default)
        if isinstance(value, list):
            return [int(item) for item in value] or [default] * self.n_layers
        return [int(value)] * self.n_layers

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """KV cache bytes one token costs (f16 cache), counting only layers that use attention."""
        heads = self._per_layer("attention.head_count", 0)
        kv_heads = self._per_layer("attention.head_count_kv", 0)
        embedding = int(self.arch_value("embedding_length", 0))
        total = 0
        interval = int(self.arch_value("full_attention_interval", 0) or 0)
        for layer in range(self.n_layers):
            # Hybrid (qwen35, qwen35moe) models: only every `interval`-th layer keeps a KV cache.
            if interval > 1 and (layer + 1) % interval != 0:
                continue
            n_kv = kv_heads[layer] if layer < len(kv_heads) else 0
            n_head = heads[layer] if layer < len(heads) else 0
            if n_kv <= 0:
                continue
            head_dim = embedding // n_head if n_head else 0
            key_len = int(self.arch_value("attention.key_length", head_dim))
            value_len = int(self.arch_value("attention.value_length", head_dim))
            total += n_kv * (key_len + value_len) * bytes_per_value
        return total


class _Reader:
    def __init__(self, data: mmap.mmap | bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelFileError(f"{self.path}: truncated GGUF file (header ends early)")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if self.pos + length > len(self.data):
            raise ModelFileError(f"{self.path}: truncated GGUF file (header ends early)")
        raw = bytes(self.data[self.pos : self.pos + length])
        self.pos += length
        return raw.decode("utf-8", "replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.take("<I"), self.take("<Q")
            if count > _KEEP_ARRAY_ITEMS:
                self.skip_array(item_kind, count)
                return f"<array of {count}>"
            return [self.value(item_kind) for _ in range(count)]
        raise ModelFileError(f"{self.path}: corrupt GGUF metadata (value type {kind})")

    def skip_array(self, item_kind: int, count: int) -> None:
        if item_kind in _SCALARS:
            self.pos += struct.calcsize(_SCALARS[item_kind]) * count
        elif item_kind == _STRING:
            for _ in range(count):
                length = self.take("<Q")
                self.pos += length
        else:
            for _ in range(count):
                self.value(item_kind)
        if self.pos > len(self.data):
            raise ModelFileError(f"{self.path}: truncated GGUF file (header ends early)")


def read_gguf(path: Path) -> GgufInfo:
    """Metadata and tensor sizes of a GGUF file; ModelFileError with one line when it is unusable."""
    version = check_gguf(path)
    with path.open("rb") as handle:
        size = path.stat().st_size
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            reader = _Reader(data, path)
            reader.pos = 8
            n_tensors, n_kv = reader.take("<Q"), reader.take("<Q")
            if n_tensors > 1_000_000 or n_kv > 1_000_000:
                raise ModelFileError(f"{path}: corrupt GGUF header (implausible counts)")
            metadata: dict[str, Any] = {}
            for _ in range(n_kv):
                key = reader.string()
                metadata[key] = reader.value(reader.take("<I"))
            offsets: list[tuple[int, str]] = []
            for _ in range(n_tensors):
                name = reader.string()
                n_dims = reader.take("<I")
                for _ in range(n_dims):
                    reader.take("<Q")
                reader.take("<I")
                offsets.append((reader.take("<Q"), name))
            alignment = int(metadata.get("general.alignment", 32)) or 32
            data_start = (reader.pos + alignment - 1) // alignment * alignment
    offsets.sort()
    tensor_bytes: dict[str, int] = {}
    for index, (offset, name) in enumerate(offsets):
        end = offsets[index + 1][0] if index + 1 < len(offsets) else size - data_start
        tensor_bytes[name] = end - offset
    if offsets and data_start + offsets[-1][0] >= size:
        raise ModelFileError(f"{path}: truncated GGUF file ({size} bytes; tensor data is missing)")
    return GgufInfo(path, version, metadata, tensor_bytes, size)
