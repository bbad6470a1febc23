"""The array ranking gives exactly (bit for bit) the ranks and order of the straightforward
dict-of-sets PageRank it replaced, kept here as the reference: on random graphs and on a real package."""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import rich
from hypothesis import given, settings
from hypothesis import strategies as st

from ornith_local.tools.repomap import RepoMap
from ornith_local.tools.repomap.ranking import (
    COMMON_DEFINERS,
    DAMPING,
    FOCUS_NAME_WEIGHT,
    MAX_DEFINERS,
    MAX_ITERATIONS,
    TOLERANCE,
    SymbolIndex,
    Symbols,
)


class FileSymbols(NamedTuple):
    names: tuple[str, ...]
    lines: tuple[int, ...]
    used: tuple[str, ...]
    counts: tuple[int, ...]


def _name_weight(name: str, definers: int, focus_names: set[str]) -> float:
    weight = 1.0
    if name in focus_names:
        weight *= FOCUS_NAME_WEIGHT
    if name.startswith("_"):
        weight *= 0.1
    if definers > COMMON_DEFINERS:
        weight *= 0.1
    return weight


def reference_rank(files: Mapping[str, Symbols], focus_files: set[str],
                   focus_names: set[str]) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """The ranking as it was before the array version (ornith 0.1), unchanged but for its input type."""
    definers: dict[str, set[str]] = defaultdict(set)
    for rel, tags in files.items():
        for name in tags.names:
            definers[name].add(rel)
    edges: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for rel, tags in files.items():
        for name, count in zip(tags.used, tags.counts, strict=True):
            targets = definers.get(name)
            if not targets or (len(targets) > MAX_DEFINERS and name not in focus_names):
                continue
            weight = math.sqrt(count) * _name_weight(name, len(targets), focus_names) / len(targets)
            for target in targets:
                if target != rel:
                    edges[rel].append((target, name, weight))
    nodes = list(files)
    if not nodes:
        return {}, {}
    focus = [rel for rel in nodes if rel in focus_files]
    restart = {rel: 1.0 / len(focus) for rel in focus} if focus else {rel: 1.0 / len(nodes) for rel in nodes}
    out_weight = {rel: sum(w for _, _, w in edges[rel]) for rel in nodes}
    links: dict[str, list[tuple[str, float]]] = {}
    for rel in nodes:
        pairs: dict[str, float] = defaultdict(float)
        for target, _, weight in edges[rel]:
            pairs[target] += weight
        if pairs:
            links[rel] = [(target, weight / out_weight[rel]) for target, weight in pairs.items()]
    dangling_nodes = [rel for rel in nodes if rel not in links]
    rank = dict.fromkeys(nodes, 1.0 / len(nodes))
    for _ in range(MAX_ITERATIONS):
        dangling = sum(rank[rel] for rel in dangling_nodes)
        new = dict.fromkeys(nodes, 0.0)
        for rel, weight in restart.items():
            new[rel] = (1 - DAMPING + DAMPING * dangling) * weight
        for rel, outgoing in links.items():
            share = DAMPING * rank[rel]
            for target, fraction in outgoing:
                new[target] += share * fraction
        change = sum(abs(new[rel] - rank[rel]) for rel in nodes)
        rank = new
        if change < TOLERANCE:
            break
    definition_rank: dict[tuple[str, str], float] = defaultdict(float)
    for rel in nodes:
        total = out_weight[rel]
        for target, name, weight in edges[rel]:
            definition_rank[(target, name)] += rank[rel] * weight / total
    for rel in focus:
        for name in files[rel].names:
            definition_rank[(rel, name)] += rank[rel] / max(len(files[rel].names), 1)
    for (rel, name), value in list(definition_rank.items()):
        if name in focus_names:
            definition_rank[(rel, name)] = value + 1.0
    return rank, dict(definition_rank)


def reference_order(files: Mapping[str, Symbols], file_rank: dict[str, float],
                    definition_rank: dict[tuple[str, str], float], limit: int) -> list[tuple[str, int]]:
    entries = [(rel, index) for rel, tags in files.items() for index in range(len(tags.names))]
    return heapq.nsmallest(limit, entries, key=lambda e: (
        -definition_rank.get((e[0], files[e[0]].names[e[1]]), 0.0), -file_rank.get(e[0], 0.0), e[0],
        files[e[0]].lines[e[1]]))


def assert_same_as_reference(files: Mapping[str, Symbols], focus_files: set[str], focus_names: set[str],
                             limit: int) -> None:
    file_rank, definition_rank = reference_rank(files, focus_files, focus_names)
    ranking = SymbolIndex.build(files).rank(focus_files, focus_names)
    assert ranking.files() == file_rank  # exact: the same float operations in the same order
    assert ranking.definitions() == definition_rank
    assert ranking.top(limit) == reference_order(files, file_rank, definition_rank, limit)


NAMES = ["a", "b", "_c", "run", "get", "x", "_y", "Z"]
PATHS = [f"{letter}{number}.py" for letter in "qpm" for number in range(7)]  # 21 paths, not sorted


@st.composite
def repositories(draw: st.DrawFn) -> dict[str, FileSymbols]:
    paths = draw(st.lists(st.sampled_from(PATHS), unique=True, max_size=len(PATHS)))
    files = {}
    for path in paths:
        names = draw(st.lists(st.sampled_from(NAMES), max_size=4))
        lines = draw(st.lists(st.integers(1, 5), min_size=len(names), max_size=len(names)))
        used = draw(st.dictionaries(st.sampled_from([*NAMES, "undefined"]), st.integers(1, 9), max_size=6))
        files[path] = FileSymbols(tuple(names), tuple(lines), tuple(used), tuple(used.values()))
    return files


@settings(max_examples=300, deadline=None)
@given(repositories(), st.sets(st.sampled_from(PATHS), max_size=3), st.sets(st.sampled_from(NAMES), max_size=2),
       st.integers(1, 40))
def test_array_ranking_is_the_reference_ranking(files: dict[str, FileSymbols], focus_files: set[str],
                                                focus_names: set[str], limit: int) -> None:
    assert_same_as_reference(files, focus_files, focus_names, limit)


def test_array_ranking_is_the_reference_ranking_on_a_real_package(tmp_path: Path) -> None:
    files, _ = RepoMap(Path(rich.__file__).parent, cache_dir=tmp_path).tags()
    assert_same_as_reference(files, set(), set(), 300)
    assert_same_as_reference(files, {"console.py", "text.py"}, {"Console", "render", "__init__"}, 300)


def test_empty_repository_ranks_nothing() -> None:
    ranking = SymbolIndex.build({}).rank(set(), set())
    assert ranking.files() == {} and ranking.definitions() == {} and ranking.top(10) == []
