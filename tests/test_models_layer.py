"""Catalog, offload plan, pull against a local fake hub on 127.0.0.1, import, and the `ornith models` CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ornith_local.cli.main import main
from ornith_local.models import download, imports
from ornith_local.models.catalog import load_catalog
from ornith_local.models.download import PullError, pull
from ornith_local.models.gguf import read_gguf
from ornith_local.models.hardware import Gpu, Hardware, LlamaBuild
from ornith_local.models.plan import DoesNotFit, fit_verdict, plan_offload

PAYLOAD = b"GGUF" + bytes(range(256)) * 4096


def test_catalog_has_the_ornith_family_and_open_sources() -> None:
    catalog = load_catalog()
    assert {"ornith-1.0-9b", "ornith-1.0-35b", "ornith-1.0-35b-q3", "ornith-1.0-397b",
            "ornith-1.5-9b", "ornith-1.5-35b", "gemma3-270m"} <= set(catalog)
    assert "ornith-1.0-31b" not in catalog  # announced, never released
    assert catalog["ornith-1.0-9b"].architecture == "qwen35"
    assert catalog["ornith-1.0-35b"].architecture == "qwen35moe"
    assert catalog["ornith-1.0-397b"].server_only
    assert catalog["ornith-1.0-9b"].draft is not None
    assert [source.kind for source in catalog["gemma3-270m"].sources] == ["pypi", "hf"]


def _machine(gpu_free_mib: int | None, ram_mib: int = 16000) -> Hardware:
    gpus = [Gpu("test", "cuda", gpu_free_mib, gpu_free_mib)] if gpu_free_mib is not None else []
    return Hardware("Linux", "x86_64", 8, ram_mib, ram_mib, gpus, LlamaBuild(True, "0.3.36", bool(gpus), "cuda"))


def test_offload_plan_from_free_vram_and_metadata(tiny_model_path: Path) -> None:
    info = read_gguf(tiny_model_path)
    cpu = plan_offload(info, _machine(None))
    assert cpu.n_gpu_layers == 0 and cpu.n_ctx > 0 and "slow" in cpu.explain()
    roomy = plan_offload(info, _machine(8000))
    assert roomy.n_gpu_layers == -1 and roomy.n_ctx == info.context_length
    # ~768 MiB is reserved for compute buffers: with 900 MiB free only some layers fit beside the KV cache.
    tight = plan_offload(info, _machine(900))
    assert 0 < tight.n_gpu_layers < info.n_layers
    assert tight.n_ctx <= roomy.n_ctx
    with pytest.raises(DoesNotFit):
        plan_offload(info, _machine(None, ram_mib=600))


class _Hub(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []
    cut_first_get: ClassVar[bool] = False
    fail_after_cut: ClassVar[bool] = False
    # When set, the hub holds only these `/{repo}/resolve/{revision}/{file}` paths, as the real one does.
    only_paths: ClassVar[set[str] | None] = None

    def _unknown(self) -> bool:
        if _Hub.only_paths is None or self.path in _Hub.only_paths:
            return False
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def log_message(self, *args: Any) -> None:
        pass

    def _headers(self, code: int, length: int, extra: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("X-Repo-Commit", "a" * 40)
        self.send_header("ETag", f'"{hashlib.sha256(PAYLOAD).hexdigest()}"')
        self.send_header("Content-Length", str(length))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()

    def do_HEAD(self) -> None:
        if self._unknown():
            return
        if "missing" in self.path:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()
            return
        self._headers(200, len(PAYLOAD), {})

    def do_GET(self) -> None:
        if self._unknown():
            return
        if "/resolve/" not in self.path:  # huggingface-hub's own registry lookups (agent-harnesses) are not files
            self._headers(404, 0, {})
            return
        ranged = self.headers.get("Range")
        _Hub.seen.append(("GET", ranged))
        if _Hub.fail_after_cut and not _Hub.cut_first_get:
            self._headers(503, 0, {})
            return
        start = int(ranged.split("=")[1].split("-")[0]) if ranged else 0
        extra = {"Content-Range": f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"} if ranged else {}
        self._headers(206 if ranged else 200, len(PAYLOAD) - start, extra)
        if _Hub.cut_first_get:  # the connection drops halfway through
            _Hub.cut_first_get = False
            self.wfile.write(PAYLOAD[start : start + len(PAYLOAD) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(PAYLOAD[start:])


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hub.seen.clear()
    _Hub.cut_first_get = _Hub.fail_after_cut = False
    _Hub.only_paths = None
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    yield endpoint
    server.shutdown()


def _entry(sha256: str | None = hashlib.sha256(PAYLOAD).hexdigest()) -> Any:
    return dataclasses.replace(load_catalog()["qwen2.5-coder-1.5b"], sha256=sha256, size_bytes=len(PAYLOAD))


def test_an_interrupted_pull_resumes_where_it_stopped(hub: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first pull loses its connection halfway and the hub then answers 503 to the retries: the pull fails
    # with one line and keeps what it got. The next pull asks only for the rest (a Range request) and verifies.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)  # 10 MB by default: more than PAYLOAD
    _Hub.cut_first_get, _Hub.fail_after_cut = True, True
    with pytest.raises(PullError, match="run the pull again to resume"):
        pull(_entry(), progress=False)
    partial = next((_entry().local_path.parent / ".download").glob("*.part"))
    kept = partial.stat().st_size
    assert 0 < kept <= len(PAYLOAD) // 2 and partial.read_bytes() == PAYLOAD[:kept]
    _Hub.seen.clear()
    _Hub.fail_after_cut = False
    result = pull(_entry(), progress=False)
    assert result.verified and result.path.read_bytes() == PAYLOAD
    assert _Hub.seen == [("GET", f"bytes={kept}-")]
    assert not partial.exists()
    assert pull(_entry(), progress=False).already_present


def test_a_partial_file_of_an_older_revision_is_not_resumed(hub: str) -> None:
    staging = _entry().local_path.parent / ".download"
    staging.mkdir(parents=True)
    stale = staging / f"{_entry().sources[0].file}.0123456789abcdef.part"
    stale.write_bytes(b"old revision bytes")
    result = pull(_entry(), progress=False)
    assert result.verified and result.path.read_bytes() == PAYLOAD
    assert not stale.exists() and _Hub.seen == [("GET", None)]


def test_pull_rejects_bad_checksum_offline_and_full_disk(hub: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PullError, match="sha256 mismatch"):
        pull(_entry(sha256="0" * 64), progress=False)
    assert not _entry().local_path.exists()
    with pytest.raises(PullError, match=r"cannot reach|failed"):
        pull(_entry(), endpoint="http://127.0.0.1:9", progress=False)
    monkeypatch.setattr(download.shutil, "disk_usage", lambda _: dataclasses.make_dataclass("U", ["free"])(10))
    with pytest.raises(PullError, match="not enough disk space"):
        pull(_entry(), progress=False)
    with pytest.raises(PullError, match="endpoint"):
        pull(load_catalog()["ornith-1.0-397b"])


def test_import_path_ollama_and_lmstudio(tmp_path: Path, tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ollama = tmp_path / "ollama"
    digest = "sha256:" + "ab" * 32
    (ollama / "blobs").mkdir(parents=True)
    (ollama / "blobs" / digest.replace(":", "-")).symlink_to(tiny_model_path)
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "tiny" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest}]}))
    lmstudio = tmp_path / "lms" / "pub" / "repo"
    lmstudio.mkdir(parents=True)
    (lmstudio / "small.gguf").symlink_to(tiny_model_path)
    monkeypatch.setenv("OLLAMA_MODELS", str(ollama))
    monkeypatch.setenv("LMSTUDIO_MODELS", str(tmp_path / "lms"))
    assert [m.name for m in imports.ollama_models()] == ["tiny:latest"]

    assert main(["models", "import", "--ollama", "--lmstudio"]) == 0
    assert main(["models", "import", str(tiny_model_path), "--name", "mine"]) == 0
    assert set(imports.imported()) == {"tiny:latest", "small", "mine"}
    capsys.readouterr()
    assert main(["models", "path", "mine"]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_model_path)
    assert main(["models", "rm", "mine"]) == 0 and tiny_model_path.exists()

    bad = tmp_path / "bad.gguf"
    bad.write_text("nope")
    assert main(["models", "import", str(bad)]) == 1
    assert "not a GGUF" in capsys.readouterr().err


def test_models_cli_list_info_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(row["name"] == "ornith-1.0-9b" for row in rows)
    assert main(["models", "info", "gemma3-270m", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["local"]["layers"] == 18 and "context" in info["plan"]
    assert main(["models", "pull", "no-such-model"]) == 1
    assert main(["models", "path", "ornith-1.0-9b"]) == 1
    assert "not downloaded" in capsys.readouterr().err


class _StallingHub(_Hub):
    """Serves a 24 MB file: the first half at once, then nothing (a connection that hangs)."""

    big: ClassVar[bytes] = bytes(range(256)) * (24 * 4096)
    stalled: ClassVar[threading.Event] = threading.Event()

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("ETag", '"stalling-hub-file"')
        self.send_header("X-Repo-Commit", "b" * 40)
        self.send_header("Content-Length", str(len(self.big)))
        self.end_headers()

    def do_GET(self) -> None:
        if self._unknown():
            return
        if "/resolve/" not in self.path:
            self._headers(404, 0, {})
            return
        self._headers(200, len(self.big), {})
        self.wfile.write(self.big[: len(self.big) // 2])
        self.wfile.flush()
        _StallingHub.stalled.wait(30)


def test_ctrl_c_during_a_pull_keeps_the_partial_file_and_says_how_to_resume() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    server = ThreadingHTTPServer(("127.0.0.1", 0), _StallingHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}", "HF_HUB_DISABLE_XET": "1"}
    staging = _entry().local_path.parent / ".download"
    child = subprocess.Popen([sys.executable, "-m", "ornith_local.cli.main", "models", "pull", "qwen2.5-coder-1.5b"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(part.stat().st_size > 0 for part in staging.glob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
        _StallingHub.stalled.set()
        server.shutdown()
    assert child.returncode == 130
    assert "run the same command to resume" in err and "Traceback" not in err
    [partial] = staging.glob("*.part")
    assert 0 < partial.stat().st_size <= len(_StallingHub.big) // 2
    assert partial.read_bytes() == _StallingHub.big[: partial.stat().st_size]


# The published Ornith files (ornith-ai's LFS metadata, as pinned by several independent projects).
PUBLISHED = {
    "ornith-1.0-9b": ("ornith-ai/Ornith-1.0-9B-GGUF", "3296bc7a404871a72ac3f1903f561459c09b5c17",
                      "ornith-1.0-9b-Q4_K_M.gguf", 5_629_108_704,
                      "5720d1f671b4996481274fffe01868c3c36e87c135cc8538471cc7bd6087b106"),
    "ornith-1.0-35b": ("ornith-ai/Ornith-1.0-35B-GGUF", "383064f72a1ef3087b779f268d3ca117eb989aac",
                       "ornith-1.0-35b-Q4_K_M.gguf", 21_166_757_760,
                       "ff25291b2599fb927a835e624d2b3540106af61761c3fa57ac4264046dbec002"),
    "ornith-1.5-9b": ("ornith-ai/Ornith-1.5-9B-GGUF", "abdd624b12ebf020b767fff532ff44fe552b28c3",
                      "Ornith-1.5-9B-Q4_K_M.gguf", 5_780_090_816,
                      "70c112196e0b7023803c9762752e46d29e612a92c83f995bc3ba1ceb07e8fab6"),
    "ornith-1.5-35b": ("ornith-ai/Ornith-1.5-35B-A3B-GGUF", "63d07eca3c975d65e050192cf7429658bafb0ac9",
                       "Ornith-1.5-35B-Q4_K_M.gguf", 21_713_462_848,
                       "ca6ea26329c88b78ffd90a85163be2e746c2fafd1024f56db47e499f117f9a7f"),
}


def test_catalog_matches_the_published_ornith_files() -> None:
    catalog = load_catalog()
    for name, (repo, revision, file, size, sha256) in PUBLISHED.items():
        entry = catalog[name]
        source = entry.sources[0]
        assert (source.repo, source.revision, source.file) == (repo, revision, file)
        assert (entry.file_name, entry.size_bytes, entry.sha256) == (file, size, sha256)
        assert entry.verified_download and entry.candour() is None
        assert entry.sampling["presence_penalty"] == 0.0
        assert entry.sampling_profiles["general"]["presence_penalty"] == 1.5
    community = catalog["ornith-1.0-35b-q3"]
    assert community.status == "community" and not community.verified_download and "community" in (
        community.candour() or "")


def test_pull_fetches_the_real_file_names_at_the_pinned_revisions(hub: str) -> None:
    # The stand-in hub holds only the published paths: a wrong case, repo or revision is a 404.
    _Hub.only_paths = {f"/{repo}/resolve/{revision}/{file}" for repo, revision, file, _, _ in PUBLISHED.values()}
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    for name in PUBLISHED:
        entry = dataclasses.replace(load_catalog()[name], sha256=digest, size_bytes=len(PAYLOAD))
        result = pull(entry, progress=False)
        assert result.verified and result.path.name == PUBLISHED[name][2]
    # Control: the names the catalog had before (old org, capitalised 1.0 file) are not on the hub.
    old = load_catalog()["ornith-1.0-9b"]
    stale = dataclasses.replace(old, sha256=digest, size_bytes=len(PAYLOAD), file_name="Ornith-1.0-9B-Q4_K_M.gguf",
                                sources=(dataclasses.replace(old.sources[0], repo="deepreinforce-ai/Ornith-1.0-9B-GGUF",
                                                             file="Ornith-1.0-9B-Q4_K_M.gguf", revision=None),))
    with pytest.raises(PullError, match=r"no file named|no such repository"):
        pull(stale, progress=False)
    with pytest.raises(PullError, match="community quant"):
        pull(load_catalog()["ornith-1.0-35b-q3"], progress=False)


def test_fits_here_is_honest_and_info_shows_the_plan_and_format_before_download(
        capsys: pytest.CaptureFixture[str]) -> None:
    two_cores = Hardware("Linux", "x86_64", 2, 32000, 30000, [], LlamaBuild(True, "0.3.36", False, "cpu"))
    assert fit_verdict(21_166_757_760, two_cores) == "slow"  # fits in RAM, but CPU only on 2 cores
    assert fit_verdict(253_113_024, two_cores) == "yes"
    assert fit_verdict(21_166_757_760, _machine(None, ram_mib=8000)) == "no"
    assert fit_verdict(21_166_757_760, _machine(12000, ram_mib=32000)) == "partly"
    assert fit_verdict(5_629_108_704, _machine(12000)) == "yes"
    assert main(["models", "info", "ornith-1.5-9b", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["plan"].startswith("before download: 5.4 GiB of weights")
    assert info["driven_with"]["tool_call_format"] == "qwen3_xml" and "<function=step_done>" in info[
        "driven_with"]["example_call"]
    assert main(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["ornith-1.0-35b-q3"]["note"] and not rows["ornith-1.0-35b-q3"]["verified_download"]
    assert rows["ornith-1.0-9b"]["verified_download"] and rows["ornith-1.0-9b"]["note"] is None


def test_doctor_shows_the_template_and_call_format_of_the_configured_model() -> None:
    ornith = Path(sys.executable).with_name("ornith")
    env = {**os.environ, "ORNITH_MODEL_NAME": "ornith-1.5-9b", "COLUMNS": "200"}
    report = json.loads(subprocess.run([str(ornith), "doctor", "--json"], capture_output=True, text=True,
                                       timeout=120, env=env, check=True).stdout)
    driven = report["offload_plan"]["driven_with"]
    assert driven["tool_call_format"] == "qwen3_xml" and "<think>" in driven["reasoning"]
    human = subprocess.run([str(ornith), "doctor"], capture_output=True, text=True, timeout=120, env=env).stdout
    assert "Driven with" in human and "qwen3_xml" in human
