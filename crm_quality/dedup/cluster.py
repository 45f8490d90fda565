"""Clusters from match edges, guarded against chaining.

Plain connected components let one weak link (a shared phone, a common name) glue two large
clusters into one. Here edges are taken strongest first, and two groups are joined only when
enough of the possible links between them are matches themselves (``link_density``); a single
record joins a group only if it matches at least that share of its members. A cluster's id is
its smallest record id, so it stays the same from run to run while its members do.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd


def cluster(ids: np.ndarray, left: np.ndarray, right: np.ndarray, probability: np.ndarray,
            threshold: float, link_density: float, apart: np.ndarray | None = None) -> pd.DataFrame:
    """One row per id: record_id, cluster_id, and match_probability, the strongest match the
    record has inside its cluster (NaN for a record alone). ``ids`` are in ascending order;
    pairs are given as positions in it (``left``, ``right``). No cluster holds both records of
    a pair in ``apart`` (a steward's never-merge list)."""
    keep = probability >= threshold
    left, right, strength = left[keep].astype(np.int64), right[keep].astype(np.int64), probability[keep]

    # Python lists, not arrays, in the loop: indexing an array one element at a time is slow
    parent, size = list(range(len(ids))), [1] * len(ids)
    lefts, rights = left.tolist(), right.tolist()
    links: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for a, b in zip(lefts, rights, strict=True):
        links[a][b] += 1
        links[b][a] += 1

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for n in np.argsort(-strength, kind="stable").tolist():
        a, b = root(lefts[n]), root(rights[n])
        if a == b or links[a].get(b, 0) < link_density * size[a] * size[b] or _kept_apart(apart, root, a, b):
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        _merge_links(links, a, b)

    roots = _roots(np.array(parent, dtype=np.int64))
    inside = roots[left] == roots[right]
    best = np.full(len(ids), np.nan)
    np.fmax.at(best, left[inside], strength[inside])
    np.fmax.at(best, right[inside], strength[inside])
    first = np.full(len(ids), len(ids))
    np.minimum.at(first, roots, np.arange(len(ids)))
    return pd.DataFrame({"record_id": ids, "cluster_id": ids[first[roots]], "match_probability": best})


def _roots(parent: np.ndarray) -> np.ndarray:
    """Each element's root, by pointer jumping over the whole array at once (a Python loop over a
    million records takes a second)."""
    roots = parent
    while True:
        jumped = roots[roots]
        if np.array_equal(jumped, roots):
            return roots
        roots = jumped


def _kept_apart(apart: np.ndarray | None, root, a: int, b: int) -> bool:
    if apart is None:
        return False
    return any({root(int(x)), root(int(y))} == {a, b} for x, y in apart)


def _merge_links(links: dict[int, dict[int, int]], into: int, other: int) -> None:
    """Add ``other``'s link counts to ``into``'s and repoint its neighbours to ``into``."""
    theirs = links.pop(other, {})
    ours = links[into]
    ours.pop(other, None)
    theirs.pop(into, None)
    for neighbour, count in theirs.items():
        ours[neighbour] += count
        counts = links[neighbour]
        counts[into] += counts.pop(other, 0)
