"""The repo map's tag cache: a build after a change equals a cold build, only the changed file's shard
is rewritten, damaged or foreign shards are parsed again, and a version 1 cache is converted."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ornith_local.tools.repomap import RepoMap
from ornith_local.tools.repomap.cache import SHARDS, _shard, _shard_path, cache_directory
from ornith_local.tools.repomap.languages import grammar
from ornith_local.tools.repomap.tags import extract

QUERIES: list[dict[str, object]] = [
    {"tokens": 2000}, {"task": "coupon codes are rejected in apply_coupon", "tokens": 120},
    {"focus": ["tests/test_money.py", "format_money"], "tokens": 300},
]
MONEY = "invoicing/money.py"


def maps(root: Path, cache: Path) -> list[tuple[str, int]]:
    """(text, files parsed) of each query, each from a fresh RepoMap (as separate `ornith map` runs)."""
    results = [RepoMap(root, cache_dir=cache).build(**query) for query in QUERIES]  # type: ignore[arg-type]
    return [(result.text, result.files_parsed) for result in results]


def texts(root: Path, cache: Path) -> list[str]:
    return [text for text, _ in maps(root, cache)]


def shard_files(root: Path, cache: Path) -> dict[Path, tuple[int, int]]:
    directory = cache_directory(Path(os.path.realpath(root)), cache)
    return {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in directory.glob("tags-*.bin")}


def test_a_build_after_changes_is_the_cold_build(example_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    maps(example_repo, cache)
    money = example_repo / MONEY
    # New definitions, and a name that changes who links to whom.
    money.write_text(money.read_text() + "\ndef apply_coupon(code):\n    return format_money(code)\n")
    (example_repo / "invoicing" / "extra.py").write_text("from .money import Money\n\nclass Ledger(Money):\n"
                                                         "    def total(self):\n        return Money(0)\n")
    after_change = maps(example_repo, cache)
    assert [parsed for _, parsed in after_change] == [2, 0, 0]
    assert [text for text, _ in after_change] == texts(example_repo, tmp_path / "cold")
    (example_repo / "invoicing" / "extra.py").unlink()
    assert texts(example_repo, cache) == texts(example_repo, tmp_path / "cold-again")


def test_only_the_changed_files_shard_is_rewritten(example_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    RepoMap(example_repo, cache_dir=cache).build()
    before = shard_files(example_repo, cache)
    assert 1 < len(before) <= SHARDS
    money = example_repo / MONEY
    money.write_text(money.read_text() + "\ndef brand_new_helper(x):\n    return x\n")
    RepoMap(example_repo, cache_dir=cache).build()
    after = shard_files(example_repo, cache)
    rewritten = [path for path in before if after[path] != before[path]]
    assert rewritten == [_shard_path(rewritten[0].parent, _shard(MONEY))]


def test_damaged_and_foreign_shards_are_parsed_again(example_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = texts(example_repo, tmp_path / "cold")
    RepoMap(example_repo, cache_dir=cache).build()
    shards = sorted(path for path in shard_files(example_repo, cache) if path.stat().st_size > 100)
    assert len(shards) >= 3
    shards[0].write_bytes(shards[0].read_bytes()[:-7])  # torn
    data = bytearray(shards[1].read_bytes())
    data[-3] ^= 0xFF  # one flipped byte: the checksum no longer matches
    shards[1].write_bytes(bytes(data))
    shards[2].write_bytes(b'{"version": 1, "files": {}}')  # not ours
    result = RepoMap(example_repo, cache_dir=cache).build(tokens=2000)
    assert 3 <= result.files_parsed < 8
    assert result.text == expected[0]
    assert [parsed for _, parsed in maps(example_repo, cache)] == [0, 0, 0]


def write_version_1_cache(root: Path, cache: Path) -> Path:
    """The cache as ornith 0.1 wrote it: one JSON file with every file's tags."""
    root = Path(os.path.realpath(root))
    loaded = grammar("python")
    assert loaded is not None
    entries = {}
    for path in sorted(root.rglob("*.py")):
        content, info = path.read_bytes(), path.stat()
        tags = extract(content, loaded)
        entries[path.relative_to(root).as_posix()] = {
            "mtime_ns": info.st_mtime_ns, "size": info.st_size, "sha": hashlib.sha1(content).hexdigest(),
            "language": "python", "references": dict(tags.references),
            "definitions": [[d.name, d.kind, d.line, d.signature] for d in tags.definitions],
        }
    directory = cache_directory(root, cache)
    legacy = directory.parent / f"{directory.name}.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text(json.dumps({"version": 1, "files": entries}))
    legacy.with_suffix(".last.json").write_text("{}")
    return legacy


def test_a_version_1_cache_is_converted_not_reparsed(example_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    legacy = write_version_1_cache(example_repo, cache)
    assert maps(example_repo, cache) == [(text, 0) for text in texts(example_repo, tmp_path / "cold")]
    assert not legacy.exists() and not legacy.with_suffix(".last.json").exists()
    assert len(shard_files(example_repo, cache)) == SHARDS


def test_an_unreadable_version_1_cache_means_a_full_parse(example_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    legacy = write_version_1_cache(example_repo, cache)
    legacy.write_text(legacy.read_text()[:500])
    assert RepoMap(example_repo, cache_dir=cache).build().files_parsed == 8
    assert not legacy.exists()
