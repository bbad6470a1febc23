"""The repo map: the most central definitions of a repository, as signatures, within a token budget.

`RepoMap(root).build(task=..., focus=..., tokens=...)` parses what changed since the last build (tags
are cached per file), ranks files and definitions over the reference graph, and renders the best
signatures grouped by file. `RepoMapTool` offers it to the model; `ornith map` prints it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ornith_local.sandbox.workspace_fs import WorkspaceFS
from ornith_local.tools.base import CallPreview, Effect, ToolResult, arg_int, plain_preview, schema
from ornith_local.tools.listing import list_files
from ornith_local.tools.repomap.cache import Entry, TagCache, cache_directory, load_memo, save_memo
from ornith_local.tools.repomap.cache import fingerprint as _fingerprint
from ornith_local.tools.repomap.languages import grammar, language_for
from ornith_local.tools.repomap.tags import Definition, extract
from ornith_local.tools.workspace import Workspace

if TYPE_CHECKING:
    from ornith_local.tools.repomap.ranking import Ranking

DEFAULT_TOKENS = 1024
MAX_FILE_BYTES = 1_000_000  # larger sources are generated or vendored
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_PATHISH = re.compile(r"[\w./-]+\.\w+")

Source = tuple[str, str, os.stat_result]  # (path, language, stat)


def estimate_tokens(text: str) -> int:
    """About four characters per token for code; callers with the model's tokenizer pass their own."""
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class RepoMapResult:
    text: str
    tokens: int
    files_total: int  # source files with a grammar
    files_parsed: int  # parsed in this build (the rest came from the cache)
    definitions_total: int
    definitions_shown: int
    elapsed_s: float
    focus_files: list[str] = field(default_factory=list)
    focus_names: list[str] = field(default_factory=list)


def focus_from_task(task: str, files: Iterable[str], names: Container[str]) -> tuple[set[str], set[str]]:
    """Files and defined names the task text mentions (paths or basenames; identifiers)."""
    words = set(_WORD.findall(task))
    paths = {p.strip("./") for p in _PATHISH.findall(task)}
    mentioned_files = {rel for rel in files if rel in paths or rel.rsplit("/", 1)[-1] in paths}
    return mentioned_files, {word for word in words if word in names}


class _Laps:
    """Seconds per phase of a build (`RepoMap.timings`, printed by the benchmark)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase], self._last = now - self._last, now


class RepoMap:
    def __init__(self, root: Path, *, cache_dir: Path | None = None,
                 count_tokens: Callable[[str], int] = estimate_tokens,
                 hidden: Callable[[str], bool] = lambda rel: False) -> None:
        self.root = Path(os.path.realpath(root))
        self.hidden = hidden  # held-back tests: left out of the map (and of its memo key)
        self.cache_dir = cache_directory(self.root, cache_dir)
        self._cache: TagCache | None = None
        self.count_tokens = count_tokens
        self.timings: dict[str, float] = {}  # seconds per phase of the last build (for benchmarks)

    @property
    def cache(self) -> TagCache:
        # Loaded on first need: a warm build whose memo matches never reads the tag cache at all.
        if self._cache is None:
            self._cache = TagCache(self.cache_dir)
        return self._cache

    def _sources(self) -> list[Source]:
        """(path, language, stat) of every source file the map covers."""
        found = []
        base = str(self.root)
        for rel in list_files(self.root):
            if self.hidden(rel):
                continue
            language = language_for(rel)
            if language is None:
                continue
            try:
                info = os.stat(f"{base}/{rel}")
            except OSError:
                continue
            if info.st_size <= MAX_FILE_BYTES and not stat.S_ISDIR(info.st_mode):
                found.append((rel, language, info))
        return found

    def tags(self, progress: Callable[[int, int], None] | None = None,
             sources: list[Source] | None = None) -> tuple[dict[str, Entry], int]:
        """Tags of every supported file (from the cache when unchanged) and how many were parsed now."""
        sources = self._sources() if sources is None else sources
        cache = self.cache
        found: dict[str, Entry] = {}
        parsed = 0
        for index, (rel, language, info) in enumerate(sources):
            entry = cache.fresh(rel, info)
            if entry is None:
                entry, was_parsed = self._read(rel, language, info)
                if entry is None:
                    continue
                if was_parsed:
                    parsed += 1
                    if progress is not None:
                        progress(index + 1, len(sources))
            found[rel] = entry
        cache.prune(set(found))
        cache.save()
        return found, parsed

    def _read(self, rel: str, language: str, info: os.stat_result) -> tuple[Entry | None, bool]:
        """The entry of a file whose stat changed: the cached one if its content did not, else parsed."""
        try:
            content = WorkspaceFS(self.root).read_bytes(rel)  # no link a command planted is followed
        except OSError:  # UnsafePath too: a link, FIFO or file over the cap is left out of the map
            return None, False
        sha = hashlib.sha1(content).hexdigest()
        entry = self.cache.same_content(rel, info, sha)
        if entry is not None:
            return entry, False
        loaded = grammar(language)
        if loaded is None:
            return None, False
        entry = Entry.of(info, sha, extract(content, loaded))
        self.cache.store(rel, entry)
        return entry, True

    def build(self, *, task: str = "", focus: Iterable[str] = (), tokens: int = DEFAULT_TOKENS,
              progress: Callable[[int, int], None] | None = None) -> RepoMapResult:
        started = time.perf_counter()
        lap = _Laps()
        self.timings = lap.seconds
        focus = list(focus)
        sources = self._sources()
        key = _fingerprint(sources, task, focus, tokens)
        memo = load_memo(self.cache_dir, key)
        lap("sources")
        if memo is not None:
            return RepoMapResult(**{**memo, "files_parsed": 0, "elapsed_s": time.perf_counter() - started})
        files, parsed = self.tags(progress, sources)
        lap("tags")
        # numpy (~0.1 s to import) only on this path: a memo hit above never needs it.
        from ornith_local.tools.repomap.ranking import SymbolIndex

        index = SymbolIndex.build(files)
        focus_files, focus_names = focus_from_task(" ".join([task, *focus]), files, index.names)
        focus_files |= {f.strip("./") for f in focus if f.strip("./") in files}
        ranking = index.rank(focus_files, focus_names)
        lap("rank")
        text = self._fit(self._ordered(files, ranking, max(tokens // 4, 1)), tokens, focus_files)
        lap("render")
        result = RepoMapResult(
            text=text, tokens=self.count_tokens(text), files_total=len(files), files_parsed=parsed,
            definitions_total=len(index.def_pair), definitions_shown=text.count("│"),
            elapsed_s=time.perf_counter() - started, focus_files=sorted(focus_files),
            focus_names=sorted(focus_names),
        )
        save_memo(self.cache_dir, key, result)
        lap("memo")
        return result

    @staticmethod
    def _ordered(files: Mapping[str, Entry], ranking: Ranking, limit: int) -> list[tuple[str, Definition]]:
        """The definitions that could fit (every shown one costs several tokens), most important first."""
        return [(rel, files[rel].definition(position)) for rel, position in ranking.top(limit)]

    def _render(self, chosen: list[tuple[str, Definition]], focus_files: set[str]) -> str:
        by_file: dict[str, list[Definition]] = {rel: [] for rel in sorted(focus_files)}
        for rel, definition in chosen:
            by_file.setdefault(rel, []).append(definition)
        blocks = []
        for rel, definitions in by_file.items():
            lines = [f"{rel}:"]
            for definition in sorted(dict.fromkeys(definitions), key=lambda d: d.line):
                first, *rest = definition.signature.split("\n")
                lines.append(f"{definition.line:>5}│{first}")
                lines += [f"     ┆{extra}" for extra in rest]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + ("\n" if blocks else "")

    def _fit(self, ranked: list[tuple[str, Definition]], budget: int, focus_files: set[str]) -> str:
        """The longest prefix of `ranked` whose rendering fits `budget` tokens (binary search)."""
        low, high, best = 0, len(ranked), self._render([], focus_files)
        if self.count_tokens(best) > budget:
            best = ""
        while low <= high:
            middle = (low + high) // 2
            text = self._render(ranked[:middle], focus_files)
            if self.count_tokens(text) <= budget:
                best, low = text, middle + 1
            else:
                high = middle - 1
        return best


@dataclass
class RepoMapTool:
    workspace: Workspace
    task: str = ""  # the runtime sets the current task so the map leans toward it
    cache_dir: Path | None = None
    name: str = "repo_map"
    description: str = (
        "Show the repository's most important definitions (classes, functions, methods with their "
        "signatures and line numbers), ranked by how central they are and by the task. Name files or "
        "symbols in focus to center the map on them."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "focus": {"type": "array", "items": {"type": "string"},
                  "description": "file paths or symbol names to center the map on"},
        "tokens": {"type": "integer", "description": f"size budget in tokens (default {DEFAULT_TOKENS})"},
    }, []))
    effect: ClassVar[Effect] = "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)


    def run(self, args: Mapping[str, Any]) -> ToolResult:
        focus = [str(item) for item in args.get("focus") or []]
        tokens = max(arg_int(args, "tokens", DEFAULT_TOKENS) or DEFAULT_TOKENS, 64)
        result = RepoMap(self.workspace.root, cache_dir=self.cache_dir,
                         hidden=self.workspace.is_hidden).build(task=self.task, focus=focus, tokens=tokens)
        title = (f"repo map: {result.definitions_shown} of {result.definitions_total} definitions from "
                 f"{result.files_total} files, ~{result.tokens} tokens")
        text = result.text or "(no source files with a supported language)"
        return ToolResult(True, text, title=title,
                          data={"files": result.files_total, "shown": result.definitions_shown,
                                "tokens": result.tokens, "focus_files": result.focus_files,
                                "focus_names": result.focus_names})
