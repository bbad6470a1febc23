"""Rank files and definitions by how central they are: PageRank over the reference graph.

File A links to file B for each name A uses that B defines. Names the task mentions weigh more,
private and ubiquitous names less, and the walk restarts at the files the task mentions, so the map
leans toward what the task is about while still showing the repository's backbone.

The graph is rebuilt from every file's names on each build (no state to keep in step with the cache),
so it has to be cheap: names become integer ids once, and edges, sums and the walk are numpy arrays.
Every sum adds the same floats in the same order as the plain loops it replaced (`np.bincount` and
Python's `sum` both add left to right), so ranks are bit-for-bit those of the straightforward
dict-of-sets implementation kept in the tests as the reference.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Protocol

import numpy as np
import numpy.typing as npt

DAMPING = 0.85
MAX_ITERATIONS = 30
TOLERANCE = 1e-4  # ranks only order definitions; more digits change nothing shown
FOCUS_NAME_WEIGHT = 10.0
COMMON_DEFINERS = 5  # a name defined in more files than this is generic (`run`, `get`): weighs less
MAX_DEFINERS = 12  # defined in more files than this (`__init__`, `setUp`): says nothing about who uses whom

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class Symbols(Protocol):
    """What ranking needs of one file: its definitions' names and lines, and the names it uses."""

    @property
    def names(self) -> Sequence[str]: ...  # one per definition, in line order (repeats kept)
    @property
    def lines(self) -> Sequence[int]: ...
    @property
    def used(self) -> Sequence[str]: ...  # each referenced name once ...
    @property
    def counts(self) -> Sequence[int]: ...  # ... and how often


def _sums(index: Ints, weights: Floats, length: int) -> Floats:
    """Per slot 0..length-1, the weights of the entries that `index` sends there, added in array order."""
    return np.bincount(index, weights, minlength=length).astype(np.float64, copy=False)


def _ints(values: object, count: int) -> Ints:
    return np.fromiter(values, dtype=np.int64, count=count)  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True)
class SymbolIndex:
    """Who defines and who uses each name, as arrays; depends on the files only, not on the task.

    A "pair" is one (name, defining file), sorted by name then file: the definers of name n are
    pairs[name_start[n] : name_start[n] + definers[n]]. Definitions and references are flattened in
    file order, so every array below lists files in the order of `paths`.
    """

    paths: list[str]
    names: dict[str, int]  # every defined name -> its id
    def_offsets: Ints  # file i's definitions are def_pair[def_offsets[i] : def_offsets[i + 1]]
    def_pair: Ints  # per definition: its (name, file) pair
    def_line: Ints
    pair_name: Ints
    pair_file: Ints
    name_start: Ints
    definers: Ints  # per name id: how many files define it
    private: Bools  # per name id: starts with "_"
    ref_file: Ints  # per (file, used name that something defines), in file order then use order
    ref_name: Ints
    ref_count: Ints

    @classmethod
    def build(cls, files: Mapping[str, Symbols]) -> SymbolIndex:
        paths, tables = list(files), list(files.values())
        count, file_ids = len(paths), np.arange(len(paths), dtype=np.int64)

        defined = list(chain.from_iterable(t.names for t in tables))
        names = dict(zip(dict.fromkeys(defined), itertools.count()))
        def_name = _ints(map(names.__getitem__, defined), len(defined))
        def_line = _ints(chain.from_iterable(t.lines for t in tables), len(defined))
        per_file = _ints((len(t.names) for t in tables), count)
        def_file = np.repeat(file_ids, per_file)
        # A file defining a name twice is one definer: pairs are the distinct (name, file), sorted.
        pairs, def_pair = np.unique(def_name * max(count, 1) + def_file, return_inverse=True)
        pair_name, pair_file = np.divmod(pairs, max(count, 1))
        definers = np.bincount(pair_name, minlength=len(names)).astype(np.int64)

        used = list(chain.from_iterable(t.used for t in tables))
        ref_name = _ints(map(names.get, used, repeat(-1)), len(used))
        ref_count = _ints(chain.from_iterable(t.counts for t in tables), len(used))
        ref_file = np.repeat(file_ids, _ints((len(t.used) for t in tables), count))
        known = ref_name >= 0  # a name nothing here defines links nowhere
        return cls(
            paths=paths, names=names, def_offsets=np.concatenate([[0], np.cumsum(per_file)]).astype(np.int64),
            def_pair=def_pair.astype(np.int64).reshape(-1), def_line=def_line, pair_name=pair_name,
            pair_file=pair_file, name_start=np.cumsum(definers) - definers, definers=definers,
            private=np.fromiter(map(str.startswith, names, repeat("_")), dtype=np.bool_, count=len(names)),
            ref_file=ref_file[known], ref_name=ref_name[known], ref_count=ref_count[known],
        )

    def rank(self, focus_files: set[str], focus_names: set[str]) -> Ranking:
        focus_name = np.zeros(len(self.names), dtype=np.bool_)
        focus_name[[self.names[n] for n in focus_names if n in self.names]] = True
        edges = self._edges(focus_name)
        focus = [index for index, rel in enumerate(self.paths) if rel in focus_files]
        file_rank = _pagerank(len(self.paths), edges, focus)

        # A definition's rank is the rank flowing into its file through its name.
        source_rank = file_rank[edges.source]
        pair_rank = _sums(edges.pair, source_rank * edges.weight / edges.out_weight[edges.source],
                          len(self.pair_name))
        present = np.bincount(edges.pair, minlength=len(self.pair_name)) > 0
        for index in focus:
            start, end = self.def_offsets[index], self.def_offsets[index + 1]
            share = file_rank[index] / max(end - start, 1)
            for pair in self.def_pair[start:end]:
                pair_rank[pair] += share
                present[pair] = True
        pair_rank[present & focus_name[self.pair_name]] += 1.0
        return Ranking(self, file_rank, pair_rank, present)

    def _edges(self, focus_name: Bools) -> _Edges:
        """One edge per (file, used name, defining file other than itself), in file then use order."""
        definers = self.definers[self.ref_name]
        keep = (definers <= MAX_DEFINERS) | focus_name[self.ref_name]
        ref_file, ref_name, definers = self.ref_file[keep], self.ref_name[keep], definers[keep]
        # The same multiplications, in the same order, as weight *= ... one rule at a time.
        name_weight = np.ones(len(self.names))
        name_weight[focus_name] *= FOCUS_NAME_WEIGHT
        name_weight[self.private] *= 0.1
        name_weight[self.definers > COMMON_DEFINERS] *= 0.1
        weight = np.sqrt(self.ref_count[keep].astype(np.float64)) * name_weight[ref_name] / definers

        # Expand each use to every definer of its name: pair = name_start + 0, 1, ... definers - 1.
        use = np.repeat(np.arange(len(ref_name)), definers)
        first = np.cumsum(definers) - definers
        pair = self.name_start[ref_name][use] + np.arange(len(use)) - first[use]
        source, target = ref_file[use], self.pair_file[pair]
        own = source != target
        source, target, pair, weight = source[own], target[own], pair[own], weight[use][own]
        return _Edges(source, target, pair, weight, _sums(source, weight, len(self.paths)))


@dataclass(frozen=True)
class _Edges:
    source: Ints
    target: Ints
    pair: Ints
    weight: Floats
    out_weight: Floats  # per file: the sum of its edges' weights


def _pagerank(count: int, edges: _Edges, focus: list[int]) -> Floats:
    if not count:
        return np.zeros(0)
    # The walk only needs file-to-file weights: sum the per-name edges once, outside the iterations.
    links, link_of_edge = np.unique(edges.source * count + edges.target, return_inverse=True)
    link_source, link_target = np.divmod(links, count)
    fraction = _sums(link_of_edge.reshape(-1), edges.weight, len(links)) / edges.out_weight[link_source]
    has_links = np.zeros(count, dtype=np.bool_)
    has_links[link_source] = True
    dangling_nodes = np.flatnonzero(~has_links)
    restart_nodes = np.array(focus, dtype=np.int64) if focus else np.arange(count, dtype=np.int64)
    restart_weight = 1.0 / len(restart_nodes)
    # Restart mass first, then the links in source order: the order the reference adds them in.
    into = np.concatenate([restart_nodes, link_target])
    rank = np.full(count, 1.0 / count)
    for _ in range(MAX_ITERATIONS):
        dangling = sum(rank[dangling_nodes].tolist())
        restart = np.full(len(restart_nodes), (1 - DAMPING + DAMPING * dangling) * restart_weight)
        flow = (DAMPING * rank)[link_source] * fraction
        new = _sums(into, np.concatenate([restart, flow]), count)
        change = sum(np.abs(new - rank).tolist())
        rank = new
        if change < TOLERANCE:
            break
    return rank


@dataclass(frozen=True)
class Ranking:
    index: SymbolIndex
    file_rank: Floats  # per file, in the order of index.paths; sums to about 1
    pair_rank: Floats  # per (name, defining file)
    present: Bools  # pairs that received any rank (the rest rank 0)

    def files(self) -> dict[str, float]:
        return dict(zip(self.index.paths, self.file_rank.tolist(), strict=True))

    def definitions(self) -> dict[tuple[str, str], float]:
        """Rank per (file, definition name), for every pair that received any."""
        names = list(self.index.names)
        return {(self.index.paths[file], names[name]): value for file, name, value in zip(
            self.index.pair_file[self.present].tolist(), self.index.pair_name[self.present].tolist(),
            self.pair_rank[self.present].tolist(), strict=True)}

    def top(self, limit: int) -> list[tuple[str, int]]:
        """(file, index of the definition in that file) of the `limit` best definitions, best first.

        Order: definition rank, then file rank, then path and line, then position (a stable sort).
        """
        index = self.index
        rank = self.pair_rank[index.def_pair]
        if limit <= 0 or not len(rank):
            return []
        # Only definitions ranked at least as high as the limit-th best can make it: sort just those.
        cutoff = np.partition(rank, len(rank) - min(limit, len(rank)))[len(rank) - min(limit, len(rank))]
        candidates = np.flatnonzero(rank >= cutoff)
        file_of = np.repeat(np.arange(len(index.paths)), np.diff(index.def_offsets))[candidates]
        path_order = np.empty(len(index.paths), dtype=np.int64)
        path_order[sorted(range(len(index.paths)), key=index.paths.__getitem__)] = np.arange(len(index.paths))
        order = np.lexsort((candidates, index.def_line[candidates], path_order[file_of],
                            -self.file_rank[file_of], -rank[candidates]))[:limit]
        return [(index.paths[file], position - int(index.def_offsets[file]))
                for file, position in zip(file_of[order].tolist(), candidates[order].tolist(), strict=True)]
