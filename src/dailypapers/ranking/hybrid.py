"""Keyword, semantic and hybrid ranking over document numbers (pure functions, see docs/search.md).

Hybrid is a convex combination of max-normalised BM25 and the raw cosine similarity. The
keyword weight grows as the query gets shorter: a few rare words, a title or a name are
known-item lookups where plain keyword search is hard to beat, while questions and claims
gain most from the embeddings. It also grows when the embeddings find nothing close to the
query (names, rare terms the model does not know), so their noise cannot reorder keyword
hits; long queries (claims, questions) trust the embeddings from a lower similarity than
short ones. A paper's BM25 score is also scaled by the share of the query's words it holds
(``coverage_factor``), so that the one paper holding every word of a lookup is not overtaken
by a paper about some of them. ``bench/search_quality.py`` measures the choices
(bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Positions = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
CANDIDATES = 200  # BM25's best, fused
NEAREST = 100  # the embeddings' nearest, fused with them (index/ann.py: EXPANSION_SEARCH)
LONG = 0.4  # the keyword weight of long queries (5 or more terms)


@dataclass(slots=True)
class Ranked:
    """Document numbers, best first, with their scores."""

    positions: Positions
    scores: Scores

    def __len__(self) -> int:
        return len(self.positions)


# Above this many documents per wanted one, ``top`` first finds a score that about twice the
# wanted number reach, from an evenly spaced sample of SAMPLE_PER_WANTED per wanted document,
# and only partitions what reaches it: at 1M papers a question's words give about 650,000
# documents a BM25 score, and partitioning all of them for the best 1,000 took 8.7 ms.
SAMPLE_ABOVE = 32
SAMPLE_PER_WANTED = 16


def top(scores: Scores, k: int, *, keep: npt.NDArray[np.bool_] | None = None) -> Ranked:
    """The ``k`` best documents with a positive score (within ``keep`` when given), best
    first; equal scores in document order (also where they meet the ``k``-th)."""
    if k <= 0:
        return Ranked(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
    if keep is not None:
        scores = np.where(keep, scores, np.float32(0))
    candidates: Positions | None = None
    if len(scores) > SAMPLE_ABOVE * k:
        sample = scores[:: len(scores) // (SAMPLE_PER_WANTED * k)]
        rank = min(len(sample), -(-2 * k * len(sample) // len(scores)))
        bound = _largest(sample, rank)
        if bound > 0:
            reaching = np.flatnonzero(scores >= bound)
            if len(reaching) >= k:  # then the k best all reach it
                candidates = reaching
    if candidates is None:
        candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        values = scores[candidates]
        kth = _largest(values, k)
        above = np.flatnonzero(values > kth)
        tied = np.flatnonzero(values == kth)[: k - len(above)]
        candidates = candidates[np.sort(np.concatenate([above, tied]))]
    order = np.argsort(-scores[candidates], kind="stable")
    chosen = candidates[order].astype(np.int64)
    return Ranked(chosen, scores[chosen].astype(np.float32))


def _largest(values: Scores, rank: int) -> np.float32:
    """The ``rank``-th largest of ``values`` (1: the largest). Partitioned negated: numpy's
    partition took 20x longer for a rank near the end of an array of mostly equal values
    (the zeros of a sparse score array)."""
    return np.float32(-np.partition(-values, rank - 1)[rank - 1])


def keyword_weight(n_terms: int, *, exact: bool = False) -> float:
    """Weight of the keyword score in the hybrid score, by query length.

    ``exact`` (phrases or field filters) marks an explicit lexical intent.
    """
    if exact or n_terms <= 2:
        return 0.8
    if n_terms <= 4:
        return 0.7
    return LONG


# The embeddings are trusted fully when the best similarity reaches SURE, not at all below
# UNSURE, linearly in between. Titles and close paraphrases score 0.6-0.9 with
# all-MiniLM-L6-v2, claims and questions about 0.45-0.75, author names and rare words the
# model does not know about 0.2-0.5 (bench/README.md, "Search quality"). Long queries use
# UNSURE_LONG..SURE_LONG: a claim's best similarity is mostly 0.45-0.75 and nearly always
# worth trusting in full (tuned on SciFact's train claims, bench/README.md), while names and
# rare words, where a flat similarity list must not reorder keyword hits, are short queries.
UNSURE = 0.4
SURE = 0.6
UNSURE_LONG = 0.25
SURE_LONG = 0.45


# Word coverage. In short queries (one to four terms, phrases, ``title:``) each paper's BM25
# score is multiplied by (the share of the query's words it holds) ** COVERAGE_POWER before the
# keyword scores are divided by their best: two-word lookups lost their paper, the only one
# holding both words, to a paper holding one of them often and close to the query by
# embedding (known-item sets, `rare`), and a gentle power keeps topical short queries, whose
# relevant papers often lack a word, about as they were. In queries of five to
# COVERAGE_TERMS terms a paper missing any word keeps MISSING_A_WORD of its BM25: a title
# remembered with a word left out lost its paper, the one holding every word, to a paper on
# the same topic lacking one; claims' relevant papers rarely hold all their words, so this
# moved 3 of 351 such SciFact train claims. Longer queries are fused without it (it cost
# SciFact's claims). bench/README.md, "Word coverage".
COVERAGE_POWER = 0.25
COVERAGE_TERMS = 8
MISSING_A_WORD = 0.75


def uses_coverage(n_terms: int, *, exact: bool = False) -> bool:
    """Whether hybrid fusion weighs which query words each paper holds (``fuse``'s
    ``coverage``), by the query's distinct terms, as ``keyword_weight`` reads them."""
    return exact or n_terms <= COVERAGE_TERMS


def coverage_factor(
    coverage: Scores,
    *,
    long: bool,
    power: float | None = None,
    missing_a_word: float | None = None,
) -> Scores:
    """What each paper keeps of its BM25 score for the share of the query's words it holds:
    that share ** ``power`` (COVERAGE_POWER) in short queries; in long ones 1 for every word,
    else ``missing_a_word`` (MISSING_A_WORD). bench/fusion_replay.py tries other values."""
    if long:
        missing = MISSING_A_WORD if missing_a_word is None else missing_a_word
        return np.where(coverage >= 1, np.float32(1), np.float32(missing))
    return np.power(coverage, COVERAGE_POWER if power is None else power, dtype=np.float32)


def semantic_confidence(best_similarity: float, *, long: bool = False) -> float:
    """How far to trust the embeddings for a query (0..1), from its best cosine similarity."""
    unsure, sure = (UNSURE_LONG, SURE_LONG) if long else (UNSURE, SURE)
    return min(max((best_similarity - unsure) / (sure - unsure), 0.0), 1.0)


def fuse(
    keyword: Ranked,
    semantic: Ranked,
    similarity_of: npt.NDArray[np.float32],
    *,
    alpha: float,
    limit: int,
    union: Positions | None = None,
    coverage: Scores | None = None,
) -> Ranked:
    """Combine the keyword and semantic candidate lists.

    ``similarity_of`` gives the cosine similarity of every document in the union (aligned
    with ``np.union1d`` of both lists' positions), so a keyword hit that missed the semantic
    top list still gets its real similarity. The similarity is used as it is, not stretched
    over the candidates: when the model cannot tell the candidates apart (a flat list of
    similarities) it barely moves the keyword order. The weight of the similarity is
    ``(1 - alpha)`` scaled by ``semantic_confidence`` of the best one; an ``alpha`` of
    ``LONG`` or less marks a long query. Equal scores go by similarity, then by position.
    ``union`` is that ``np.union1d``, when the caller has it already. ``coverage`` (aligned
    with it; given where ``uses_coverage``) is the share of the query's words each paper
    holds, which scales its BM25 score by ``coverage_factor``.
    """
    if union is None:
        union = np.union1d(keyword.positions, semantic.positions)
    if not len(union):
        return Ranked(union, np.zeros(0, dtype=np.float32))
    kw = np.zeros(len(union), dtype=np.float32)
    if len(keyword):
        kw[np.searchsorted(union, keyword.positions)] = keyword.scores
        if coverage is not None:
            kw *= coverage_factor(coverage, long=alpha <= LONG)
        best_keyword = float(kw.max())
        if best_keyword > 0:
            kw /= np.float32(best_keyword)
    sem = np.clip(similarity_of.astype(np.float32), 0.0, 1.0)
    best = float(semantic.scores[0]) if len(semantic) else 0.0
    weight = (1 - alpha) * semantic_confidence(best, long=alpha <= LONG)
    combined = ((1 - weight) * kw + weight * sem).astype(np.float32)
    # Equal scores go by similarity: where the embeddings get no weight (an author's name,
    # rare words), the papers after the keyword hits are the most similar of the semantic
    # candidates rather than the first by document number (which moved with the graph's
    # breadth), and equal BM25 scores are told apart by the one signal left.
    order = np.lexsort((-sem, -combined))[:limit]
    return Ranked(union[order].astype(np.int64), combined[order])
