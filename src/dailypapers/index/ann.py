"""Approximate nearest neighbours for large snapshots: a usearch HNSW graph over the vectors.

Below ``MIN_DOCS`` papers an exact scan of the memory-mapped vectors is fast enough (about
14 ms at 75,000 papers on one core) and is used instead; above it the scan grows linearly
(about 0.4 s at 1M) while the graph answers in about a millisecond (``EXPANSION_SEARCH``).
The graph is built with the snapshot and memory-mapped (``view``) by every worker.

The graph keeps its own copy of the vectors as float16 (58 MB instead of 115 MB at 75,000
papers: pages every worker that searches ends up holding). Where a snapshot has a graph,
every row a search reads (the graph's candidates to rank, a filter's scan, a keyword hit's
similarity) comes from that copy (``GraphRows``), its inner products taken in float16 with
SIMD: the snapshot's float32 ``vectors.npy`` is then never read by a web worker, which held
both copies (110 MB more resident at 75k papers, 1.5 GB at 1M). A similarity differs from
the float32 rows' by at most 1e-4 (6e-5 measured on real vectors at 75k); a filter's scan
of 20,000 rows takes ~10 ms against ~5 from the file (looking rows up by key). At 75k
papers (bench/search_latency.py's corpus, 200 papers' vectors with noise as queries, a
breadth of 400), recall against the exact scan was the float32 graph's: @20 1.0 / 0.9995,
@200 0.988 / 0.988, @1000 0.972 / 0.972 (float32 / float16), each search ~10% slower. int8
(29 MB) lost recall (0.934 @200); asking it for twice the candidates won the recall back
(0.988) but made semantic searches (1,000 neighbours) twice as slow. Graphs of older
snapshots (float32) are read the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MIN_DOCS = 50_000
FILE = "vectors.usearch"
CONNECTIVITY = 16
EXPANSION_ADD = 128
# A search explores max(EXPANSION_SEARCH, k) candidates and costs about that many: hybrid's
# 100 nearest (hybrid.NEAREST) explore 100, semantic mode's 400 nearest explore 400.
# At 75k papers (bench/graph_breadth.py): 200 nearest in 0.96 ms against 1.38 with a breadth
# of 400, recall@10 1.0 either way; then 100 nearest in 0.35 ms against 200 in 0.66 (recall@10
# 1.0, recall@100 0.928 as recall@200 was 0.927): hybrid's first ten were the same for 1,986
# of 2,000 bench requests, SciFact train and the five known-item sets scored the same, and a
# search in one process went p50 2.46 -> 2.08 ms.
EXPANSION_SEARCH = 100
DTYPE = "f16"
METRIC = "ip"
# usearch's concurrent inserts can leave a few nodes unreachable (measured: 7 of 20,000, and
# some of 60 in a quarter of tiny builds); graphs this small are built on one thread.
SERIAL_BELOW = 50_000
# Rows copied at a time when scoring chosen rows (see ``dot_rows``).
ROW_BLOCK = 1024
GRAPH_BLOCK = 8192  # the same, read from the graph's float16 copy (12 MiB at 384 dimensions)


def build(matrix: npt.NDArray[np.float32], directory: Path) -> bool:
    """Build and save the graph for the non-zero rows of ``matrix`` (keys = row numbers).

    Returns False (nothing written) for small snapshots.
    """
    if len(matrix) < MIN_DOCS:
        return False
    from usearch.index import Index

    keys = np.flatnonzero(np.any(matrix != 0, axis=1)).astype(np.uint64)
    index = Index(
        ndim=matrix.shape[1],
        metric=METRIC,
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )
    threads = 1 if len(keys) < SERIAL_BELOW else (os.cpu_count() or 1)
    index.add(keys, np.ascontiguousarray(matrix[keys]), threads=threads)
    index.save(str(directory / FILE))
    return True


def load(directory: Path) -> Any | None:
    """The saved graph of a snapshot, memory-mapped, or None when it has none."""
    path = directory / FILE
    if not path.exists():
        return None
    from usearch.index import Index

    return Index.restore(str(path), view=True, expansion_search=EXPANSION_SEARCH)


def nearest(
    index: Any, vector: npt.NDArray[np.float32], k: int, vectors: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Row numbers and cosine similarities of the ``k`` nearest rows, best first: the
    graph's ``k`` candidates ranked by their similarity computed from ``vectors``' rows.

    Where ``vectors`` are the graph's own rows (``GraphRows``, as every snapshot with a graph
    reads them), the graph has already computed those similarities, the same float16
    products, and returned them in that order: they are taken as they are (1 - distance,
    within 3e-8 of computing them again, which took 0.16 ms of a 200-neighbour search at
    75k papers)."""
    query = np.asarray(vector, dtype=np.float32)
    matches = index.search(query, k, threads=1)
    positions = np.asarray(matches.keys, dtype=np.int64)
    if getattr(vectors, "graph", None) is index:
        return positions, (1 - np.asarray(matches.distances, dtype=np.float32))
    return rerank(positions, query, vectors)


def rerank(
    positions: npt.NDArray[np.int64], query: npt.NDArray[np.float32], vectors: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """``positions`` ordered by the inner product of their rows of ``vectors`` with ``query``,
    best first (ties in the order given), with those products."""
    if not len(positions):
        return positions, np.empty(0, dtype=np.float32)
    similarities = dot_rows(vectors, positions, query)
    order = np.argsort(-similarities, kind="stable")
    return positions[order], similarities[order]


def dot_rows(
    vectors: Any, rows: npt.NDArray[np.int64], query: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``vectors[rows] @ query``, ``ROW_BLOCK`` rows at a time. A filter's scan copied up to
    20,000 rows (30 MB) at once, and malloc kept such blocks for each thread that had one:
    400 scans on 8 threads left 392 MiB more resident, 30 MiB in blocks (and half the time,
    as the copies fit in the caches)."""
    own = getattr(vectors, "dot_rows", None)  # GraphRows, or a live delta over a base's rows
    if own is not None:
        return np.asarray(own(rows, query), dtype=np.float32)
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), ROW_BLOCK):
        part = rows[start : start + ROW_BLOCK]
        out[start : start + len(part)] = vectors[part] @ query
    return out


class GraphRows:
    """A snapshot's vectors read from its graph's float16 copy, as float32 rows.

    Stands in for the memory-mapped ``vectors.npy`` (same shape, float32 results): rows are
    indexed by document number (an int, an array of them, a boolean mask or a slice); a
    document without a vector (not in the graph) reads as zeros, as its row of the file.
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index = index
        self.shape = (int(shape[0]), int(shape[1]))

    @property
    def graph(self) -> Any:
        """The graph whose copy these rows are (``nearest`` takes its similarities)."""
        return self.index

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> npt.NDArray[np.float32]:
        if isinstance(index, int | np.integer):
            position = int(index) + (self.shape[0] if int(index) < 0 else 0)
            if not 0 <= position < self.shape[0]:
                raise IndexError(f"row {int(index)} of {self.shape[0]}")
            row: npt.NDArray[np.float32] = self.rows(np.array([position], dtype=np.int64))[0]
            return row
        if isinstance(index, slice):
            return self.rows(np.arange(self.shape[0])[index])
        positions = np.asarray(index)
        if positions.dtype == np.bool_:
            positions = np.flatnonzero(positions)
        return self.rows(positions.astype(np.int64, copy=False))

    def rows(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The rows at ``positions`` (zeros for documents without a vector)."""
        out = np.zeros((len(positions), self.shape[1]), dtype=np.float32)
        found, stored = self._stored(positions)
        if stored is not None:
            out[found] = stored
        return out

    def dot_rows(
        self, positions: npt.NDArray[np.int64], query: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """``self[positions] @ query``, in float16 with SIMD (simsimd, which usearch uses):
        numpy converts float16 to float32 at ~2 ns an element, 4x the whole scan's time.
        Within 1e-4 of the float32 rows' products (the query is rounded to float16 too)."""
        out = np.zeros(len(positions), dtype=np.float32)
        query16 = np.asarray(query, dtype=np.float16)[None, :]
        for start in range(0, len(positions), GRAPH_BLOCK):
            block = positions[start : start + GRAPH_BLOCK]
            found, stored = self._stored(block)
            if stored is not None:
                out[start : start + len(block)][found] = _dot16(query16, stored)
        return out

    def _stored(
        self, positions: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float16] | None]:
        """Which of ``positions`` the graph holds, and their float16 rows (None: none)."""
        found = np.zeros(len(positions), dtype=bool)
        if not len(positions):
            return found, None
        if positions.min() < 0 or positions.max() >= self.shape[0]:
            raise IndexError(f"rows outside 0..{self.shape[0] - 1}")
        keys = np.asarray(positions).astype(np.uint64)
        found = np.asarray(self.index.contains(keys), dtype=bool)
        if not found.any():
            return found, None
        stored = self.index.get(keys if found.all() else keys[found])
        return found, np.asarray(stored, dtype=np.float16)

    def __matmul__(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return self.dot_rows(np.arange(self.shape[0], dtype=np.int64), vector)

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        whole = self.rows(np.arange(self.shape[0], dtype=np.int64))
        return whole if dtype is None else whole.astype(dtype)


def _dot16(
    query: npt.NDArray[np.float16], rows: npt.NDArray[np.float16]
) -> npt.NDArray[np.float32]:
    """Inner products of float16 ``rows`` with a float16 ``query`` (1 x dim)."""
    try:
        import simsimd
    except ImportError:  # a usearch without it: numpy, slower
        return np.asarray(rows.astype(np.float32) @ query[0].astype(np.float32))
    products = simsimd.cdist(query, rows, metric="dot", threads=1)
    first: npt.NDArray[np.float32] = np.asarray(products, dtype=np.float32)[0]
    return first
