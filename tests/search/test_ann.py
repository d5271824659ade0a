"""The HNSW graph used for large snapshots finds the same neighbours as the exact scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dailypapers.index import ann


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_small_snapshots_use_the_exact_scan(tmp_path: Path) -> None:
    matrix = unit(np.random.default_rng(0).normal(size=(100, 8)))
    assert ann.build(matrix, tmp_path) is False
    assert ann.load(tmp_path) is None


def test_graph_recall_against_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    rng = np.random.default_rng(1)
    matrix = unit(rng.normal(size=(5000, 32)))
    matrix[17] = 0  # a paper without an embedding is never returned
    assert ann.build(matrix, tmp_path)
    index = ann.load(tmp_path)
    assert index is not None
    recalls = []
    for query in unit(rng.normal(size=(20, 32))):
        exact = np.argsort(-(matrix @ query))[:50]
        positions, sims = ann.nearest(index, query, 50, matrix)
        assert 17 not in positions
        assert np.allclose(sims, matrix[positions] @ query, rtol=0, atol=1e-6)
        assert list(sims) == sorted(sims, reverse=True)
        recalls.append(len(set(exact) & set(positions)) / 50)
    assert np.mean(recalls) >= 0.95


def test_a_search_explores_at_least_what_it_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hybrid's nearest (hybrid.NEAREST) explore EXPANSION_SEARCH; semantic mode's 400 rely
    on the graph exploring max(EXPANSION_SEARCH, k), not EXPANSION_SEARCH alone."""
    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    rng = np.random.default_rng(5)
    matrix = unit(rng.normal(size=(6000, 32)))
    assert ann.build(matrix, tmp_path)
    index = ann.load(tmp_path)
    assert index is not None and index.expansion_search == ann.EXPANSION_SEARCH < 400
    recalls = []
    for query in unit(rng.normal(size=(10, 32))):
        exact = np.argsort(-(matrix @ query))[:400]
        positions, _ = ann.nearest(index, query, 400, matrix)
        assert len(positions) == 400
        recalls.append(len(set(exact) & set(positions)) / 400)
    assert np.mean(recalls) >= 0.9


def test_graphs_of_older_snapshots_still_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A float32 graph (snapshots built before the int8 one) answers the same way."""
    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    monkeypatch.setattr(ann, "DTYPE", "f32")
    monkeypatch.setattr(ann, "METRIC", "ip")
    rng = np.random.default_rng(3)
    matrix = unit(rng.normal(size=(2000, 16)))
    assert ann.build(matrix, tmp_path)
    index = ann.load(tmp_path)
    query = matrix[5]
    positions, sims = ann.nearest(index, query, 10, matrix)
    assert positions[0] == 5 and sims[0] == pytest.approx(1.0, abs=1e-5)
    assert list(positions) == list(np.argsort(-(matrix @ query), kind="stable")[:10])


def test_rerank_orders_by_exact_similarity_keeping_ties_in_order() -> None:
    vectors = np.asarray([[1, 0], [0, 1], [0.6, 0.8], [0.6, 0.8], [-1, 0]], dtype=np.float32)
    positions = np.asarray([4, 3, 1, 0, 2], dtype=np.int64)
    ordered, sims = ann.rerank(positions, np.asarray([0.6, 0.8], dtype=np.float32), vectors)
    assert list(ordered) == [3, 2, 1, 0, 4]  # 3 and 2 tie: given order kept
    assert np.allclose(sims, [1.0, 1.0, 0.8, 0.6, -0.6])
    empty, none = ann.rerank(np.empty(0, dtype=np.int64), vectors[0], vectors)
    assert not len(empty) and none.dtype == np.float32


@pytest.mark.parametrize("rows", ["file", "graph"])
def test_filtered_searches_agree_with_the_exact_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: str
) -> None:
    """Through the searcher's semantic step: graph with oversampling, subset scan, full scan;
    with rows read from the float32 file or (as snapshots with a graph do) from the graph."""
    from dailypapers.queries import search

    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    rng = np.random.default_rng(2)
    matrix = unit(rng.normal(size=(6000, 32)))
    assert ann.build(matrix, tmp_path)
    stand_in = matrix if rows == "file" else ann.GraphRows(ann.load(tmp_path), matrix.shape)

    class FakeSnapshot:
        vectors = stand_in
        n_docs = len(matrix)
        model = "m"
        ann_index = ann.load(tmp_path)

    snapshot = FakeSnapshot()
    snapshot.ann = snapshot.ann_index  # type: ignore[attr-defined]

    class Conn:
        class dialect:  # noqa: N801 - mimics SQLAlchemy's attribute
            name = "sqlite"

    searcher = search.Searcher.__new__(search.Searcher)
    query = unit(rng.normal(size=(1, 32)))[0]
    # GRAPH_TO_SCAN: 10**9 makes every filtered step a scan of the kept rows, 0 the graph's.
    for share, ratio in [(0.5, 10**9), (0.5, 0), (0.02, 0), (1.0, 0)]:
        monkeypatch.setattr(search, "GRAPH_TO_SCAN", ratio)
        keep = rng.random(len(matrix)) < share
        got = searcher._semantic(Conn(), snapshot, query, keep, 20)  # type: ignore[arg-type]
        exact = np.flatnonzero(keep)[np.argsort(-(matrix[keep] @ query))[:20]]
        assert keep[got.positions].all()
        assert len(set(got.positions) & set(exact)) >= 18, (share, ratio)


def test_rows_are_scored_in_blocks_as_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "ROW_BLOCK", 7)
    rng = np.random.default_rng(4)
    vectors = unit(rng.normal(size=(100, 16)))
    query = vectors[3]
    for count in (0, 1, 7, 8, 50):
        rows = np.sort(rng.choice(100, count, replace=False)).astype(np.int64)
        got = ann.dot_rows(vectors, rows, query)
        assert got.dtype == np.float32 and len(got) == count
        # BLAS may round the last bit differently for another number of rows.
        assert np.allclose(got, vectors[rows] @ query, rtol=0, atol=1e-6)


def test_rows_read_from_the_graph_stand_in_for_the_vectors_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a snapshot has a graph, searches read rows from its float16 copy: within
    float16's rounding of the float32 rows, zeros for a paper without a vector, indexed as
    the array was (int, negative int, array, mask, slice) and multiplied with ``@``."""
    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    rng = np.random.default_rng(4)
    matrix = unit(rng.normal(size=(1500, 32))).astype(np.float32)
    matrix[[3, 1499]] = 0  # papers without an embedding are not in the graph
    assert ann.build(matrix, tmp_path)
    rows = ann.GraphRows(ann.load(tmp_path), matrix.shape)
    assert len(rows) == 1500 and rows.shape == (1500, 32) and rows.dtype == np.float32
    picked = np.array([0, 3, 700, 1499, 700])
    assert rows[picked].dtype == np.float32
    assert np.allclose(rows[picked], matrix[picked], rtol=0, atol=1e-3)
    assert not rows[3].any() and not rows[-1].any() and not rows[picked][1].any()
    assert np.allclose(rows[-2], matrix[-2], atol=1e-3)
    assert np.allclose(rows[10:20], matrix[10:20], atol=1e-3)
    mask = np.zeros(1500, dtype=bool)
    mask[[5, 6, 3]] = True
    assert np.allclose(rows[mask], matrix[mask], atol=1e-3)
    query = unit(rng.normal(size=(1, 32)))[0].astype(np.float32)
    assert np.abs((rows @ query) - (matrix @ query)).max() < 1e-3
    assert len(rows[np.array([], dtype=np.int64)]) == 0
    with pytest.raises(IndexError):
        rows[1500]
    with pytest.raises(IndexError):
        rows[np.array([0, 1500])]


def test_a_live_delta_over_graph_rows_scores_rows_as_its_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a base with a graph followed by a live delta's rows: scored the base's way
    (float16 with SIMD) and the delta's way, the same products as reading the rows."""
    from dailypapers.index.delta import _Joined

    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    rng = np.random.default_rng(6)
    matrix = unit(rng.normal(size=(1200, 16))).astype(np.float32)
    assert ann.build(matrix, tmp_path)
    extra = unit(rng.normal(size=(30, 16))).astype(np.float32)
    joined = _Joined(
        ann.GraphRows(ann.load(tmp_path), matrix.shape), extra, np.array([], dtype=np.int64)
    )
    query = unit(rng.normal(size=(1, 16)))[0].astype(np.float32)
    positions = np.array([5, 1210, 0, 1229, 1199, 700])
    got = ann.dot_rows(joined, positions, query)
    assert got.dtype == np.float32
    assert np.abs(got - joined[positions] @ query).max() < 1e-3
    assert np.allclose(got[[1, 3]], extra[[10, 29]] @ query, atol=1e-6)


def test_the_graphs_own_similarities_are_those_of_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the graph's own rows (as snapshots read them, alone or under a live delta),
    ``nearest`` takes the graph's similarities instead of computing them again: the same
    neighbours in the same order, the products its rows give, and ties kept in order."""
    from dailypapers.index.delta import _Joined

    monkeypatch.setattr(ann, "MIN_DOCS", 1000)
    rng = np.random.default_rng(8)
    matrix = unit(rng.normal(size=(3000, 32))).astype(np.float32)
    matrix[11] = matrix[10]  # a duplicate: equal similarities
    assert ann.build(matrix, tmp_path)
    index = ann.load(tmp_path)
    own = ann.GraphRows(index, matrix.shape)
    joined = _Joined(own, unit(rng.normal(size=(5, 32))), np.array([], dtype=np.int64))
    other = ann.GraphRows(ann.load(tmp_path), matrix.shape)  # another graph: computed again
    for query in [matrix[10], *unit(rng.normal(size=(10, 32)))]:
        computed, computed_sims = ann.rerank(
            np.asarray(index.search(query, 100, threads=1).keys, dtype=np.int64), query, other
        )
        for rows in (own, joined):
            positions, sims = ann.nearest(index, query, 100, rows)
            assert sims.dtype == np.float32
            assert list(positions) == list(computed)
            assert np.abs(sims - computed_sims).max() < 1e-6
            assert np.abs(sims - ann.dot_rows(own, positions, query)).max() < 1e-6
    positions, _ = ann.nearest(index, matrix[10], 2, own)
    assert sorted(positions) == [10, 11]


def test_hybrid_similarities_reuse_the_semantic_steps(tmp_path: Path) -> None:
    """The union of keyword and semantic candidates gets every paper's similarity: taken
    from the semantic step where it ranked the paper (above its 1e-6 floor), read from the
    rows for the others, as reading all of them would give."""
    from dailypapers.queries.search import _similarities
    from dailypapers.ranking.hybrid import Ranked

    rng = np.random.default_rng(9)
    vectors = unit(rng.normal(size=(500, 16))).astype(np.float32)
    query = vectors[0]

    class Snap:
        pass

    snap = Snap()
    snap.vectors = vectors  # type: ignore[attr-defined]
    semantic_at = np.array([0, 7, 30, 99, 250], dtype=np.int64)
    sims = (vectors[semantic_at] @ query).astype(np.float32)
    floored = np.where(sims > 0, sims, 1e-6).astype(np.float32)
    floored[2] = 1e-6  # a paper the semantic step floored is read again
    semantic = Ranked(semantic_at, floored)
    union = np.union1d(np.array([3, 7, 400, 499], dtype=np.int64), semantic_at)
    got = _similarities(snap, union, semantic, query)  # type: ignore[arg-type]
    assert got.dtype == np.float32 and len(got) == len(union)
    assert np.allclose(got, vectors[union] @ query, atol=1e-6)
    only = _similarities(snap, semantic_at, semantic, query)  # type: ignore[arg-type]
    assert np.allclose(only, vectors[semantic_at] @ query, atol=1e-6)
