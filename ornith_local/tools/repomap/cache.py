"""Per-file tag cache: one directory per repository in ornith's cache dir, its entries in 32 shards.

An entry is reused while the file's mtime and size are unchanged; when they change the content hash
decides, so a `touch` or a checkout of identical content costs a hash, not a parse.

Why this layout: the map reads every entry on every build that is not answered by the memo, so an
entry is a flat tuple of columns (marshal loads tuples of strings and ints several times faster than
JSON, and nothing is turned into objects until it is shown); and a build after one edit rewrites only
that file's shard (~1/32 of the cache), not the whole cache. Each shard starts with a format header
and a SHA-1 of its body: anything else (an old format, a torn or foreign file) is ignored and its
files are parsed again. The version 1 cache (one JSON file) is converted once, then removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

from ornith_local.config import app_dirs
from ornith_local.tools.repomap.tags import Definition, FileTags

CACHE_VERSION = 2
SHARDS = 32
_HEADER = f"ornith repo map tags v{CACHE_VERSION}\n".encode()
_DIGEST = 20  # bytes of SHA-1 after the header


class Entry(NamedTuple):
    """One file's tags as the cache keeps them: columns of plain values (see ranking.Symbols)."""

    mtime_ns: int
    size: int
    sha: str
    language: str
    names: tuple[str, ...]  # per definition, in line order
    kinds: tuple[str, ...]
    lines: tuple[int, ...]
    signatures: tuple[str, ...]
    used: tuple[str, ...]  # each referenced name once
    counts: tuple[int, ...]  # how often each is referenced

    @classmethod
    def of(cls, info: os.stat_result, sha: str, tags: FileTags) -> Entry:
        definitions = tags.definitions
        return cls(info.st_mtime_ns, info.st_size, sha, tags.language, _interned(d.name for d in definitions),
                   _interned(d.kind for d in definitions), tuple(d.line for d in definitions),
                   tuple(d.signature for d in definitions), _interned(tags.references),
                   tuple(tags.references.values()))

    def definition(self, index: int) -> Definition:
        return Definition(self.names[index], self.kinds[index], self.lines[index], self.signatures[index])


def _interned(names: Iterable[str]) -> tuple[str, ...]:
    # Interned names are written once per shard and come back interned (one object, hash computed
    # once), which makes loading and the ranking's name lookups measurably faster.
    return tuple(map(sys.intern, names))


def cache_directory(root: Path, cache_dir: Path | None = None) -> Path:
    base = cache_dir if cache_dir is not None else app_dirs().cache / "repomap"
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return base / f"{root.name}-{key}"


def _shard(rel: str) -> int:
    return zlib.crc32(rel.encode("utf-8", "surrogateescape")) % SHARDS


def _shard_path(directory: Path, shard: int) -> Path:
    return directory / f"tags-{shard:02d}.bin"


class TagCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.entries: dict[str, Entry] = {}
        self.dirty: set[int] = set()  # shards to write
        for shard in range(SHARDS):
            self.entries.update(_read_shard(_shard_path(directory, shard)))
        self._legacy = directory.parent / f"{directory.name}.json"
        self._legacy_found = self._legacy.exists()
        if self._legacy_found and not self.entries:
            self.entries = _read_legacy(self._legacy)
            self.dirty = set(range(SHARDS))

    def fresh(self, rel: str, info: os.stat_result) -> Entry | None:
        """The entry for `rel` when its mtime and size still match."""
        entry = self.entries.get(rel)
        if entry is not None and entry.mtime_ns == info.st_mtime_ns and entry.size == info.st_size:
            return entry
        return None

    def same_content(self, rel: str, info: os.stat_result, sha: str) -> Entry | None:
        """The entry for `rel` when its content hash still matches (touched, not changed): restamped."""
        entry = self.entries.get(rel)
        if entry is None or entry.sha != sha:
            return None
        entry = self.entries[rel] = entry._replace(mtime_ns=info.st_mtime_ns, size=info.st_size)
        self.dirty.add(_shard(rel))
        return entry

    def store(self, rel: str, entry: Entry) -> None:
        self.entries[rel] = entry
        self.dirty.add(_shard(rel))

    def prune(self, keep: set[str]) -> None:
        for rel in set(self.entries) - keep:
            del self.entries[rel]
            self.dirty.add(_shard(rel))

    def save(self) -> None:
        """Rewrite the shards that changed (after one edit: one shard, ~1/32 of the cache)."""
        if self.dirty:
            shards: dict[int, dict[str, tuple[Any, ...]]] = {shard: {} for shard in self.dirty}
            for rel, entry in self.entries.items():
                rows = shards.get(_shard(rel))
                if rows is not None:
                    rows[rel] = tuple(entry)  # marshal takes plain tuples only
            for shard, rows in shards.items():
                body = marshal.dumps(rows)
                write_cache_file(_shard_path(self.directory, shard), _HEADER + hashlib.sha1(body).digest() + body)
            self.dirty.clear()
        if self._legacy_found:  # converted (or unreadable): the old file and its memo have no further use
            for legacy in (self._legacy, self._legacy.with_suffix(".last.json")):
                with contextlib.suppress(OSError):
                    legacy.unlink()
            self._legacy_found = False


def _read_shard(path: Path) -> dict[str, Entry]:
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    body = data[len(_HEADER) + _DIGEST:]
    if not data.startswith(_HEADER) or hashlib.sha1(body).digest() != data[len(_HEADER):len(_HEADER) + _DIGEST]:
        return {}
    try:
        rows = marshal.loads(body)
        return {rel: Entry._make(row) for rel, row in rows.items()}
    except (ValueError, EOFError, TypeError, AttributeError):
        return {}


def _read_legacy(path: Path) -> dict[str, Entry]:
    """The entries of a version 1 cache (one JSON file), so an upgrade does not parse everything again."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("version") != 1:
            return {}
        entries = {}
        for rel, old in data["files"].items():
            rows = old["definitions"]  # [name, kind, line, signature]
            names, kinds, lines, signatures = ([row[column] for row in rows] for column in range(4))
            references: dict[str, int] = old["references"]
            entries[rel] = Entry(int(old["mtime_ns"]), int(old["size"]), str(old["sha"]), str(old["language"]),
                                 _interned(names), _interned(kinds), tuple(lines), tuple(signatures),
                                 _interned(references), tuple(references.values()))
        return entries
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def write_cache_file(path: Path, data: bytes) -> None:
    """Replace `path` in one rename, without fileio.write_atomic's fsyncs: a shard torn by a crash fails
    its checksum and is parsed again, so durability is not worth a sync per shard (32 on a cold build)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def fingerprint(sources: list[tuple[str, str, os.stat_result]], *query: object) -> str:
    """Identifies one build: every source file's path, mtime and size, and the query (task, focus, budget)."""
    digest = hashlib.sha1(json.dumps([str(q) for q in query]).encode())
    for rel, _language, info in sources:
        digest.update(f"{rel}\0{info.st_mtime_ns}\0{info.st_size}\n".encode())
    return digest.hexdigest()


def _memo_path(directory: Path) -> Path:
    return directory / "last.json"


def load_memo(directory: Path, key: str) -> dict[str, Any] | None:
    """The last build's result when nothing it depends on has changed since."""
    try:
        data = json.loads(_memo_path(directory).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or data.get("version") != CACHE_VERSION:
        return None
    result = data.get("result")
    return result if isinstance(result, dict) else None


def save_memo(directory: Path, key: str, result: Any) -> None:
    payload = {"version": CACHE_VERSION, "key": key, "result": asdict(result)}
    with contextlib.suppress(OSError):
        write_cache_file(_memo_path(directory), json.dumps(payload).encode())
