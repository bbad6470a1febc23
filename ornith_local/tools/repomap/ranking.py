"""Rank files and definitions by how central they are: PageRank over the reference graph.

File A links to file B for each name A uses that B defines. Names the task mentions weigh more,
private and ubiquitous names less, and the walk restarts at the files the task mentions, so the map
leans toward what the task is about while still showing the repository's backbone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

from ornith_local.tools.repomap.tags import FileTags

DAMPING = 0.85
MAX_ITERATIONS = 30
TOLERANCE = 1e-4  # ranks only order definitions; more digits change nothing shown
FOCUS_NAME_WEIGHT = 10.0
COMMON_DEFINERS = 5  # a name defined in more files than this is generic (`run`, `get`): weighs less
MAX_DEFINERS = 12  # defined in more files than this (`__init__`, `setUp`): says nothing about who uses whom


def _name_weight(name: str, definers: int, focus_names: set[str]) -> float:
    weight = 1.0
    if name in focus_names:
        weight *= FOCUS_NAME_WEIGHT
    if name.startswith("_"):
        weight *= 0.1
    if definers > COMMON_DEFINERS:
        weight *= 0.1
    return weight


def rank_definitions(files: Mapping[str, FileTags], focus_files: set[str],
                     focus_names: set[str]) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """(rank per file, rank per (file, definition name)); both sum to about 1."""
    definers: dict[str, set[str]] = defaultdict(set)
    for rel, tags in files.items():
        for definition in tags.definitions:
            definers[definition.name].add(rel)

    # edges[a] = [(b, name, weight)]
    edges: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for rel, tags in files.items():
        for name, count in tags.references.items():
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
    # The walk only needs file-to-file weights: sum the per-name edges once, outside the iterations.
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

    # A definition's rank is the rank flowing into its file through its name.
    definition_rank: dict[tuple[str, str], float] = defaultdict(float)
    for rel in nodes:
        total = out_weight[rel]
        for target, name, weight in edges[rel]:
            definition_rank[(target, name)] += rank[rel] * weight / total
    for rel in focus:
        for definition in files[rel].definitions:
            definition_rank[(rel, definition.name)] += rank[rel] / max(len(files[rel].definitions), 1)
    for (rel, name), value in list(definition_rank.items()):
        if name in focus_names:
            definition_rank[(rel, name)] = value + 1.0
    return rank, dict(definition_rank)
