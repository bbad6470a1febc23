"""The repo map: the most central definitions of a repository, as signatures, within a token budget.

`RepoMap(root).build(task=..., focus=..., tokens=...)` parses what changed since the last build (tags
are cached per file), ranks files and definitions over the reference graph, and renders the best
signatures grouped by file. `RepoMapTool` offers it to the model; `ornith map` prints it.
"""

from __future__ import annotations

import heapq
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.tools.base import ToolResult, arg_int, schema
from ornith_local.tools.listing import list_files
from ornith_local.tools.repomap.cache import TagCache, cache_file, load_memo, save_memo
from ornith_local.tools.repomap.cache import fingerprint as _fingerprint
from ornith_local.tools.repomap.languages import grammar, language_for
from ornith_local.tools.repomap.ranking import rank_definitions
from ornith_local.tools.repomap.tags import Definition, FileTags, extract
from ornith_local.tools.workspace import Workspace

DEFAULT_TOKENS = 1024
MAX_FILE_BYTES = 1_000_000  # larger sources are generated or vendored
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_PATHISH = re.compile(r"[\w./-]+\.\w+")


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


def focus_from_task(task: str, files: Iterable[str], names: set[str]) -> tuple[set[str], set[str]]:
    """Files and defined names the task text mentions (paths or basenames; identifiers)."""
    words = set(_WORD.findall(task))
    paths = {p.strip("./") for p in _PATHISH.findall(task)}
    mentioned_files = {rel for rel in files if rel in paths or rel.rsplit("/", 1)[-1] in paths}
    return mentioned_files, words & names


class RepoMap:
    def __init__(self, root: Path, *, cache_dir: Path | None = None,
                 count_tokens: Callable[[str], int] = estimate_tokens) -> None:
        self.root = Path(os.path.realpath(root))
        self.cache_path = cache_file(self.root, cache_dir)
        self._cache: TagCache | None = None
        self.count_tokens = count_tokens

    @property
    def cache(self) -> TagCache:
        # Loaded on first need: a warm build whose memo matches never reads the tag cache at all.
        if self._cache is None:
            self._cache = TagCache(self.cache_path)
        return self._cache

    def _sources(self) -> list[tuple[str, str, os.stat_result]]:
        """(path, language, stat) of every source file the map covers."""
        found = []
        for rel in list_files(self.root):
            language = language_for(rel)
            if language is None:
                continue
            try:
                info = (self.root / rel).stat()
            except OSError:
                continue
            if info.st_size <= MAX_FILE_BYTES and not os.path.isdir(self.root / rel):
                found.append((rel, language, info))
        return found

    def tags(self, progress: Callable[[int, int], None] | None = None,
             sources: list[tuple[str, str, os.stat_result]] | None = None) -> tuple[dict[str, FileTags], int]:
        """Tags of every supported file (from the cache when unchanged) and how many were parsed now."""
        sources = self._sources() if sources is None else sources
        found: dict[str, FileTags] = {}
        parsed = 0
        for index, (rel, language, info) in enumerate(sources):
            path = self.root / rel
            try:
                cached, content, sha = self.cache.lookup(rel, info, path.read_bytes)
            except OSError:
                continue
            if cached is None:
                loaded = grammar(language)
                if loaded is None or content is None:
                    continue
                cached = extract(content, loaded)
                self.cache.store(rel, info, sha, cached)
                parsed += 1
                if progress is not None:
                    progress(index + 1, len(sources))
            found[rel] = cached
        self.cache.prune(set(found))
        self.cache.save()
        return found, parsed

    def build(self, *, task: str = "", focus: Iterable[str] = (), tokens: int = DEFAULT_TOKENS,
              progress: Callable[[int, int], None] | None = None) -> RepoMapResult:
        started = time.perf_counter()
        focus = list(focus)
        sources = self._sources()
        key = _fingerprint(sources, task, focus, tokens)
        memo = load_memo(self.cache_path, key)
        if memo is not None:
            return RepoMapResult(**{**memo, "files_parsed": 0, "elapsed_s": time.perf_counter() - started})
        files, parsed = self.tags(progress, sources)
        names = {d.name for tags in files.values() for d in tags.definitions}
        focus_files, focus_names = focus_from_task(" ".join([task, *focus]), files, names)
        focus_files |= {f.strip("./") for f in focus if f.strip("./") in files}
        file_rank, definition_rank = rank_definitions(files, focus_files, focus_names)
        # Every shown definition costs several tokens: more than tokens / 4 of them can never fit.
        ranked = self._ordered(files, file_rank, definition_rank, max(tokens // 4, 1))
        text = self._fit(ranked, tokens, focus_files)
        result = RepoMapResult(
            text=text, tokens=self.count_tokens(text), files_total=len(files), files_parsed=parsed,
            definitions_total=sum(len(t.definitions) for t in files.values()), definitions_shown=text.count("│"),
            elapsed_s=time.perf_counter() - started, focus_files=sorted(focus_files),
            focus_names=sorted(focus_names),
        )
        save_memo(self.cache_path, key, result)
        return result

    @staticmethod
    def _ordered(files: Mapping[str, FileTags], file_rank: Mapping[str, float],
                 definition_rank: Mapping[tuple[str, str], float], limit: int) -> list[tuple[str, Definition]]:
        """The definitions that could fit, most important first; ties follow their file's rank."""
        entries = [(rel, d) for rel, tags in files.items() for d in tags.definitions]
        return heapq.nsmallest(limit, entries, key=lambda e: (-definition_rank.get((e[0], e[1].name), 0.0),
                                                              -file_rank.get(e[0], 0.0), e[0], e[1].line))

    def _render(self, chosen: list[tuple[str, Definition]], focus_files: set[str]) -> str:
        by_file: dict[str, list[Definition]] = {rel: [] for rel in sorted(focus_files)}
        for rel, definition in chosen:
            by_file.setdefault(rel, []).append(definition)
        blocks = []
        for rel, definitions in by_file.items():
            lines = [f"{rel}:"]
            for definition in sorted(set(definitions), key=lambda d: d.line):
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

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        focus = [str(item) for item in args.get("focus") or []]
        tokens = max(arg_int(args, "tokens", DEFAULT_TOKENS) or DEFAULT_TOKENS, 64)
        result = RepoMap(self.workspace.root, cache_dir=self.cache_dir).build(task=self.task, focus=focus,
                                                                              tokens=tokens)
        title = (f"repo map: {result.definitions_shown} of {result.definitions_total} definitions from "
                 f"{result.files_total} files, ~{result.tokens} tokens")
        text = result.text or "(no source files with a supported language)"
        return ToolResult(True, text, title=title,
                          data={"files": result.files_total, "shown": result.definitions_shown,
                                "tokens": result.tokens, "focus_files": result.focus_files,
                                "focus_names": result.focus_names})
