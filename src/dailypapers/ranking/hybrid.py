"""Keyword, semantic and hybrid ranking over document numbers (pure functions, see docs/search.md).

Hybrid is a convex combination of max-normalised BM25 and floor-normalised cosine similarity.
The keyword weight grows as the query gets shorter: a few rare words, a title or a name are
known-item lookups where plain keyword search is hard to beat, while questions and claims
gain most from the embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Positions = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
CANDIDATES = 200


@dataclass(slots=True)
class Ranked:
    """Document numbers, best first, with their scores."""

    positions: Positions
    scores: Scores

    def __len__(self) -> int:
        return len(self.positions)


def top(scores: Scores, k: int, *, keep: npt.NDArray[np.bool_] | None = None) -> Ranked:
    """The ``k`` best documents with a positive score (within ``keep`` when given)."""
    candidates = np.flatnonzero(scores > 0) if keep is None else np.flatnonzero((scores > 0) & keep)
    if len(candidates) > k:
        best = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[best]
    order = np.argsort(-scores[candidates], kind="stable")
    chosen = candidates[order].astype(np.int64)
    return Ranked(chosen, scores[chosen].astype(np.float32))


def keyword_weight(n_terms: int, *, exact: bool = False) -> float:
    """Weight of the keyword score in the hybrid score, by query length.

    ``exact`` (phrases or field filters) marks an explicit lexical intent.
    """
    if exact or n_terms <= 2:
        return 0.8
    if n_terms <= 4:
        return 0.65
    if n_terms <= 8:
        return 0.5
    return 0.4


def fuse(
    keyword: Ranked,
    semantic: Ranked,
    similarity_of: npt.NDArray[np.float32],
    *,
    alpha: float,
    limit: int,
) -> Ranked:
    """Combine the keyword and semantic candidate lists.

    ``similarity_of`` gives the cosine similarity of every document in the union (aligned
    with ``np.union1d`` of both lists' positions), so a keyword hit that missed the semantic
    top list still gets its real similarity.
    """
    union = np.union1d(keyword.positions, semantic.positions)
    if not len(union):
        return Ranked(union, np.zeros(0, dtype=np.float32))
    kw = np.zeros(len(union), dtype=np.float32)
    if len(keyword):
        kw[np.searchsorted(union, keyword.positions)] = keyword.scores / float(keyword.scores[0])
    sims = similarity_of.astype(np.float32)
    if len(semantic):
        high = float(semantic.scores[0])
        floor = float(semantic.scores[-1]) if len(semantic) >= CANDIDATES // 2 else 0.0
        spread = max(high - floor, 1e-6)
        sem = np.clip((sims - floor) / spread, 0.0, 1.0)
    else:
        sem = np.zeros(len(union), dtype=np.float32)
    combined = (alpha * kw + (1 - alpha) * sem).astype(np.float32)
    order = np.argsort(-combined, kind="stable")[:limit]
    return Ranked(union[order].astype(np.int64), combined[order])
