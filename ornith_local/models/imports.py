"""GGUFs the user already has: register them by path (never copied), and find them in Ollama and LM Studio.

The register is a small JSON file in the data dir: name -> absolute path. Ollama keeps models as
content-addressed blobs named by manifests (`manifests/<registry>/<ns>/<model>/<tag>` -> the layer with
mediaType `application/vnd.ollama.image.model` -> `blobs/sha256-<hex>`); LM Studio keeps plain .gguf files
under `<publisher>/<repo>/`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ornith_local.config import app_dirs
from ornith_local.models.gguf import read_gguf

_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


class ModelImportError(ValueError):
    """An import that cannot be done, as one line."""


@dataclass(frozen=True)
class FoundModel:
    name: str
    path: Path
    origin: str  # "ollama" | "lmstudio" | "path"


def _register_file() -> Path:
    return app_dirs().models / "imported.json"


def imported() -> dict[str, Path]:
    try:
        data = json.loads(_register_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(name): Path(path) for name, path in data.items()} if isinstance(data, dict) else {}


def _save(register: dict[str, Path]) -> None:
    path = _register_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({name: str(p) for name, p in sorted(register.items())}, indent=2) + "\n")
    os.replace(temporary, path)


def register(path: Path, name: str | None = None) -> FoundModel:
    """Check that `path` is a readable GGUF (ModelFileError otherwise) and remember it under `name`."""
    path = path.expanduser().resolve()
    info = read_gguf(path)
    name = name or path.stem
    register_now = imported()
    register_now[name] = path
    _save(register_now)
    return FoundModel(name, path, info.architecture)


def unregister(name: str) -> bool:
    register_now = imported()
    if register_now.pop(name, None) is None:
        return False
    _save(register_now)
    return True


def ollama_root() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def ollama_models(root: Path | None = None) -> list[FoundModel]:
    root = root or ollama_root()
    manifests = root / "manifests"
    found: list[FoundModel] = []
    if not manifests.is_dir():
        return found
    for manifest in sorted(path for path in manifests.rglob("*") if path.is_file()):
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers", [])
        except (OSError, ValueError, AttributeError):
            continue
        for layer in layers:
            if layer.get("mediaType") == _OLLAMA_MODEL_LAYER and str(layer.get("digest", "")).startswith("sha256:"):
                blob = root / "blobs" / layer["digest"].replace(":", "-")
                if blob.is_file():
                    found.append(FoundModel(f"{manifest.parent.name}:{manifest.name}", blob, "ollama"))
    return found


def lmstudio_roots() -> list[Path]:
    home = Path.home()
    override = os.environ.get("LMSTUDIO_MODELS")
    return [Path(override)] if override else [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def lmstudio_models(roots: list[Path] | None = None) -> list[FoundModel]:
    found: list[FoundModel] = []
    for root in roots or lmstudio_roots():
        if root.is_dir():
            for path in sorted(root.rglob("*.gguf")):
                if "mmproj" not in path.name.lower():  # vision projectors are not language models
                    found.append(FoundModel(path.stem, path, "lmstudio"))
    return found
