"""The delta scores exactly as the base: BM25 weights from the base's statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from dailypapers.index.delta import LiveView
from dailypapers.index.keyword import IndexedDoc, KeywordIndex
from dailypapers.index.text import analyse
from dailypapers.queries.search import _with_delta, stable_top
from dailypapers.ranking.hybrid import Ranked


def _docs(rows: list[dict[str, Any]]) -> list[IndexedDoc]:
    return [IndexedDoc(r["title"], r["abstract"], r["authors"], r["categories"]) for r in rows]


def test_papers_weighed_with_an_index_statistics_score_as_inside_it(
    rows: list[dict[str, Any]],
) -> None:
    docs = _docs(rows)
    base = KeywordIndex.build(docs)
    # The same papers indexed on their own, with the base's statistics: the same weights.
    again = KeywordIndex.build(docs[10:20], base.statistics())
    for query in ("language models", rows[12]["title"], "graph neural network training"):
        terms = analyse(query)
        np.testing.assert_allclose(again.scores(terms), base.scores(terms)[10:20], rtol=1e-6)


def test_avgdl_is_kept_with_the_index(tmp_path: Any, rows: list[dict[str, Any]]) -> None:
    base = KeywordIndex.build(_docs(rows))
    base.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert loaded.avgdl == base.avgdl and loaded.avgdl


class _Base:
    """What ``LiveView`` reads of a base snapshot: ``n`` papers ``b0``… with vectors."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.n_docs = len(vectors)
        self.doc_ids = np.asarray([f"b{i}" for i in range(self.n_docs)])
        self.published = np.zeros(self.n_docs, dtype=np.int32)
        self.keyword = KeywordIndex.build([])
        self.keyword.n_docs = self.n_docs
        self.vectors = vectors
        self.directory, self.meta, self.model, self.ann = None, {}, "model", None

    def positions(self, ids: list[str]) -> np.ndarray:
        return np.asarray([int(i[1:]) if i[0] == "b" else -1 for i in ids], dtype=np.int64)


class _Docs:
    """What ``LiveView`` reads of the delta's papers."""

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.ids = np.asarray(ids)
        self.number = {pid: i for i, pid in enumerate(ids)}
        self.published = np.zeros(len(ids), dtype=np.int32)
        self.keyword = KeywordIndex.build([])
        self.vectors = vectors

    def __len__(self) -> int:
        return len(self.ids)


def _reference(view: Any, ranked: Ranked, vector: np.ndarray, keep: Any, depth: int) -> Ranked:
    """The merge as first written: every delta paper sorted with the graph's neighbours."""
    sims = view.delta_similarities(vector)
    positions = np.arange(view.base_docs, view.n_docs, dtype=np.int64)
    if keep is not None:
        positions, sims = positions[keep[positions]], sims[keep[positions]]
    alive = ~np.isin(ranked.positions, view.dead)
    merged_positions = np.concatenate([ranked.positions[alive], positions])
    merged = np.concatenate([ranked.scores[alive], np.where(sims > 0, sims, 1e-6)])
    order = np.argsort(-merged.astype(np.float32), kind="stable")[:depth]
    return Ranked(merged_positions[order], merged[order].astype(np.float32))


def test_stable_top_is_the_head_of_a_stable_sort() -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 5, 200, 3000):
        # Few distinct values: ties everywhere, also across the k-th place.
        scores = (rng.integers(0, 7, size) / 7).astype(np.float32)
        for k in (1, 3, 200, 5000):
            expected = np.argsort(-scores, kind="stable")[:k]
            np.testing.assert_array_equal(stable_top(scores, k), expected)


def test_graph_neighbours_merge_with_the_delta_as_if_all_were_sorted() -> None:
    """Only the delta's best ``depth`` are sorted with the neighbours: the same result, ties
    and base copies masked by the delta included."""
    rng = np.random.default_rng(1)
    dim, n, m = 8, 400, 300
    # Coarse vectors: many equal similarities; a few negative ones (clipped to 1e-6).
    base_vectors = (rng.integers(-2, 5, (n, dim)) / 4).astype(np.float32)
    delta_vectors = (rng.integers(-2, 5, (m, dim)) / 4).astype(np.float32)
    # Half of the delta are new versions of base papers: their base copies are masked.
    ids = [f"b{i}" for i in rng.choice(n, m // 2, replace=False)] + [f"d{i}" for i in range(m // 2)]
    view = LiveView(_Base(base_vectors), _Docs(ids, delta_vectors))  # type: ignore[arg-type]
    assert int(view.dead_mask.sum()) == m // 2 and view.dead_mask[view.dead].all()
    for trial in range(20):
        vector = (rng.integers(-2, 5, dim) / 4).astype(np.float32)
        sims = base_vectors @ vector
        neighbours = np.argsort(-sims, kind="stable")[: rng.integers(1, 150)]
        ranked = Ranked(neighbours.astype(np.int64), np.maximum(sims[neighbours], 1e-6))
        keep = rng.random(view.n_docs) < 0.6 if trial % 2 else None
        for depth in (1, 10, 100, 1000):
            got = _with_delta(view, ranked, vector, keep, depth)
            expected = _reference(view, ranked, vector, keep, depth)
            np.testing.assert_array_equal(got.positions, expected.positions)
            np.testing.assert_array_equal(got.scores, expected.scores)
