"""Approximate nearest neighbours for large snapshots: a usearch HNSW graph over the vectors.

Below ``MIN_DOCS`` papers an exact scan of the memory-mapped vectors is fast enough (about
14 ms at 75,000 papers on one core) and is used instead; above it the scan grows linearly
(about 0.4 s at 1M) while the graph answers in about a millisecond at ~97% recall@200.
The graph is built with the snapshot and memory-mapped (``view``) by every worker.

The graph keeps its own copy of the vectors as float16 (58 MB instead of 115 MB at 75,000
papers: pages every worker that searches ends up holding); its candidates are then ranked
exactly with the snapshot's float32 vectors, of which only their rows are read. At 75k
papers (bench/search_latency.py's corpus, 200 papers' vectors with noise as queries),
recall against the exact scan was the float32 graph's: @20 1.0 / 0.9995, @200 0.988 /
0.988, @1000 0.972 / 0.972 (float32 / float16), each search ~10% slower. int8 (29 MB)
lost recall (0.934 @200); asking it for twice the candidates won the recall back (0.988)
but made semantic searches (1,000 neighbours) twice as slow. Graphs of older snapshots
(float32) are read the same way.
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
EXPANSION_SEARCH = 400
DTYPE = "f16"
METRIC = "ip"
# usearch's concurrent inserts can leave a few nodes unreachable (measured: 7 of 20,000, and
# some of 60 in a quarter of tiny builds); graphs this small are built on one thread.
SERIAL_BELOW = 50_000
# Rows copied at a time when scoring chosen rows (see ``dot_rows``).
ROW_BLOCK = 1024


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
    graph's ``k`` candidates ranked by their exact similarity (rows of ``vectors``)."""
    query = np.asarray(vector, dtype=np.float32)
    matches = index.search(query, k, threads=1)
    return rerank(np.asarray(matches.keys, dtype=np.int64), query, vectors)


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
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), ROW_BLOCK):
        part = rows[start : start + ROW_BLOCK]
        out[start : start + len(part)] = vectors[part] @ query
    return out
