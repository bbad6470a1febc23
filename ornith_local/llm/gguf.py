"""Cheap checks on a GGUF file before llama.cpp sees it (a bad file must give a clear error, not a crash)."""

from __future__ import annotations

import struct
from pathlib import Path

GGUF_MAGIC = b"GGUF"


class ModelFileError(ValueError):
    """The file is missing, unreadable, not a GGUF, or truncated."""


def check_gguf(path: Path) -> int:
    """Raise ModelFileError unless `path` starts like a GGUF file; return its GGUF version."""
    try:
        with path.open("rb") as handle:
            header = handle.read(8)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read: {error.strerror}") from None
    if len(header) < 8 or header[:4] != GGUF_MAGIC:
        raise ModelFileError(f"{path}: not a GGUF model file (bad magic bytes)")
    (version,) = struct.unpack("<I", header[4:8])
    if version not in (1, 2, 3):
        raise ModelFileError(f"{path}: unsupported GGUF version {version}")
    return int(version)
