"""Models present on this machine: catalog entries already pulled, and other GGUFs in the models dir."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ornith_local.config import app_dirs
from ornith_local.models.catalog import CatalogEntry, load_catalog
from ornith_local.models.tiny import PYPI_PACKAGE, TINY_MODEL_NAME, tiny_model_path


@dataclass(frozen=True)
class LocalModel:
    name: str
    path: Path | None  # None: not on disk yet
    size_bytes: int
    status: str  # "ready" | "assemble on first use" | "not downloaded"
    entry: CatalogEntry | None = None


def find_local_models() -> list[LocalModel]:
    catalog = load_catalog()
    found: list[LocalModel] = []
    known_files = set()
    for entry in catalog.values():
        known_files.add(entry.file_name)
        path = tiny_model_path(entry) if entry.name == TINY_MODEL_NAME else entry.local_path
        if path.is_file():
            found.append(LocalModel(entry.name, path, path.stat().st_size, "ready", entry))
        elif entry.name == TINY_MODEL_NAME and importlib.util.find_spec(PYPI_PACKAGE.replace("-", "_")):
            found.append(LocalModel(entry.name, None, entry.size_bytes or 0, "assemble on first use", entry))
        else:
            found.append(LocalModel(entry.name, None, entry.size_bytes or 0, "not downloaded", entry))
    from ornith_local.models.imports import imported

    for name, path in imported().items():
        known_files.add(path.name)
        status = "ready (imported)" if path.is_file() else "missing (imported path gone)"
        found.append(LocalModel(name, path if path.is_file() else None, path.stat().st_size if path.is_file() else 0,
                                status))
    models_dir = app_dirs().models
    if models_dir.is_dir():
        for path in sorted(models_dir.glob("*.gguf")):
            if path.name not in known_files:
                found.append(LocalModel(path.stem, path, path.stat().st_size, "ready"))
    return found


def resolve_model_path(name_or_path: str) -> Path:
    """A catalog name or a filesystem path to the GGUF it names (the tiny model assembles on demand)."""
    from ornith_local.models.tiny import ensure_tiny_model

    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".gguf" or candidate.exists():
        if not candidate.is_file():
            raise FileNotFoundError(f"{candidate}: no such model file")
        return candidate
    from ornith_local.models.imports import imported

    registered = imported().get(name_or_path)
    if registered is not None:
        if not registered.is_file():
            raise FileNotFoundError(f"imported model '{name_or_path}' is gone from {registered}: ornith models rm it")
        return registered
    catalog = load_catalog()
    if name_or_path not in catalog:
        known = ", ".join(sorted(catalog))
        raise LookupError(f"unknown model '{name_or_path}' (catalog: {known}; or pass a path to a .gguf)")
    if name_or_path == TINY_MODEL_NAME:
        return ensure_tiny_model()
    path = catalog[name_or_path].local_path
    if not path.is_file():
        raise FileNotFoundError(f"model '{name_or_path}' is not downloaded yet: ornith models pull {name_or_path}")
    return path
