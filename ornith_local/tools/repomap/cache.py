"""Per-file tag cache: one JSON file per repository in ornith's cache dir, keyed by path.

An entry is reused while the file's mtime and size are unchanged; when they change the content hash
decides, so a `touch` or a checkout of identical content costs a hash, not a parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ornith_local.config import app_dirs
from ornith_local.tools.fileio import write_atomic
from ornith_local.tools.repomap.tags import Definition, FileTags

CACHE_VERSION = 1


def cache_file(root: Path, cache_dir: Path | None = None) -> Path:
    base = cache_dir if cache_dir is not None else app_dirs().cache / "repomap"
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return base / f"{root.name}-{key}.json"


class TagCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_bytes())
            if data.get("version") == CACHE_VERSION:
                self.entries = data["files"]

    def lookup(self, rel: str, info: os.stat_result, read: Any) -> tuple[FileTags | None, bytes | None, str]:
        """(cached tags, the content if it had to be read, its hash) for `rel` with stat `info`."""
        entry = self.entries.get(rel)
        if entry and entry["mtime_ns"] == info.st_mtime_ns and entry["size"] == info.st_size:
            return _tags(entry), None, entry["sha"]
        content: bytes = read()
        sha = hashlib.sha1(content).hexdigest()
        if entry and entry["sha"] == sha:
            entry["mtime_ns"], entry["size"] = info.st_mtime_ns, info.st_size
            self.dirty = True
            return _tags(entry), content, sha
        return None, content, sha

    def store(self, rel: str, info: os.stat_result, sha: str, tags: FileTags) -> None:
        self.entries[rel] = {
            "mtime_ns": info.st_mtime_ns, "size": info.st_size, "sha": sha, "language": tags.language,
            "definitions": [list(asdict(d).values()) for d in tags.definitions],
            "references": dict(tags.references),
        }
        self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for rel in set(self.entries) - keep:
            del self.entries[rel]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        data = json.dumps({"version": CACHE_VERSION, "files": self.entries}, separators=(",", ":"))
        write_atomic(self.path, data.encode())
        self.dirty = False


def fingerprint(sources: list[tuple[str, str, os.stat_result]], *query: object) -> str:
    """Identifies one build: every source file's path, mtime and size, and the query (task, focus, budget)."""
    digest = hashlib.sha1(json.dumps([str(q) for q in query]).encode())
    for rel, _language, info in sources:
        digest.update(f"{rel}\0{info.st_mtime_ns}\0{info.st_size}\n".encode())
    return digest.hexdigest()


def _memo_path(cache_path: Path) -> Path:
    return cache_path.with_suffix(".last.json")


def load_memo(cache_path: Path, key: str) -> dict[str, Any] | None:
    """The last build's result when nothing it depends on has changed since."""
    try:
        data = json.loads(_memo_path(cache_path).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or data.get("version") != CACHE_VERSION:
        return None
    result = data.get("result")
    return result if isinstance(result, dict) else None


def save_memo(cache_path: Path, key: str, result: Any) -> None:
    payload = {"version": CACHE_VERSION, "key": key, "result": asdict(result)}
    with contextlib.suppress(OSError):
        write_atomic(_memo_path(cache_path), json.dumps(payload).encode())


def _tags(entry: dict[str, Any]) -> FileTags:
    return FileTags(entry["language"], [Definition(*d) for d in entry["definitions"]], Counter(entry["references"]))
