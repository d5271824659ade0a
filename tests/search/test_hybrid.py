"""The hybrid fusion's length classes and confidence ramps (pure functions, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from dailypapers.ranking import hybrid
from dailypapers.ranking.hybrid import Ranked


def test_keyword_weight_by_length() -> None:
    assert [hybrid.keyword_weight(n) for n in (1, 2, 3, 4, 5, 12)] == [0.8, 0.8, 0.7, 0.7, 0.4, 0.4]
    assert hybrid.keyword_weight(9, exact=True) == 0.8


def test_long_queries_trust_the_embeddings_from_a_lower_similarity() -> None:
    # A claim's typical best similarity (0.5) is trusted fully; a short query's only in part.
    assert hybrid.semantic_confidence(0.5, long=True) == 1.0
    assert 0 < hybrid.semantic_confidence(0.5) < 1
    # Below either ramp: not at all (names, rare words the model does not know).
    assert hybrid.semantic_confidence(0.2) == hybrid.semantic_confidence(0.2, long=True) == 0.0
    assert hybrid.semantic_confidence(0.7) == hybrid.semantic_confidence(0.7, long=True) == 1.0


def test_fuse_uses_the_long_ramp_for_long_queries() -> None:
    # Paper 0 leads on keywords, paper 1 on similarity; the best similarity is 0.45.
    keyword = Ranked(np.array([0, 1]), np.array([10.0, 8.0], dtype=np.float32))
    semantic = Ranked(np.array([1, 0]), np.array([0.45, 0.1], dtype=np.float32))
    similarity = np.array([0.1, 0.45], dtype=np.float32)

    def first(alpha: float) -> int:
        return int(hybrid.fuse(keyword, semantic, similarity, alpha=alpha, limit=2).positions[0])

    # Short queries barely trust a 0.45 similarity: the keyword order stands.
    assert first(hybrid.keyword_weight(3)) == 0
    # A long query trusts it fully, and the similarity reorders the two.
    assert first(hybrid.keyword_weight(6)) == 1


def test_equal_scores_go_by_similarity() -> None:
    # A name the model does not know (best similarity 0.3: no weight on the embeddings):
    # papers 7 and 9 match the keywords equally, 2, 4 and 8 are semantic candidates only.
    keyword = Ranked(np.array([9, 7]), np.array([5.0, 5.0], dtype=np.float32))
    semantic = Ranked(np.array([8, 2, 9, 4]), np.array([0.3, 0.2, 0.1, 0.05], dtype=np.float32))
    union = np.union1d(keyword.positions, semantic.positions)  # 2, 4, 7, 8, 9
    similarity = np.array([0.2, 0.05, 0.0, 0.3, 0.1], dtype=np.float32)
    fused = hybrid.fuse(keyword, semantic, similarity, alpha=0.8, limit=5)
    # The keyword hits first (the more similar of the tie first), then the semantic
    # candidates by similarity, not by document number.
    assert union.tolist() == [2, 4, 7, 8, 9]
    assert fused.positions.tolist() == [9, 7, 8, 2, 4]
    assert fused.scores.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]


def _best(scores: np.ndarray, k: int, keep: np.ndarray | None) -> list[int]:
    """What ``top`` must return, the slow way: positive (and kept) documents by score, then
    by document number."""
    allowed = [i for i in range(len(scores)) if scores[i] > 0 and (keep is None or keep[i])]
    return sorted(allowed, key=lambda i: (-scores[i], i))[:k]


def test_top_is_the_exact_best_whatever_the_size_and_ties() -> None:
    rng = np.random.default_rng(7)
    for n, k in [(0, 5), (10, 0), (10, 20), (500, 30), (40_000, 1000), (200_000, 1000)]:
        for kind in ("spread", "ties", "sparse", "sorted"):
            if kind == "spread":
                scores = rng.random(n).astype(np.float32)
            elif kind == "ties":  # few distinct values: ties meet the k-th everywhere
                scores = rng.integers(0, 4, n).astype(np.float32)
            elif kind == "sparse":  # mostly zero, as BM25 of rare words
                scores = np.where(rng.random(n) < 0.002, rng.random(n), 0).astype(np.float32)
            else:  # rising with the document number: a strided sample is not representative
                scores = np.linspace(0, 1, n, dtype=np.float32) ** 8
            scores[rng.random(n) < 0.1] *= -1  # some negative: never returned
            for keep in (None, rng.random(n) < 0.3):
                got = hybrid.top(scores, k, keep=keep)
                expected = _best(scores, k, keep)
                assert got.positions.tolist() == expected, (n, k, kind)
                assert got.scores.tolist() == scores[expected].tolist()


def test_word_coverage_keeps_the_paper_holding_every_word_first() -> None:
    """Two lookups of the known-item sets in numbers: the paper holding every word (0) leads
    BM25; the other (1) holds fewer and is closer by embedding."""

    def first(
        keyword: list[float], similarity: list[float], coverage: list[float] | None, alpha: float
    ) -> int:
        fused = hybrid.fuse(
            Ranked(np.array([0, 1]), np.array(keyword, dtype=np.float32)),
            Ranked(np.array([1, 0]), np.array(sorted(similarity)[::-1], dtype=np.float32)),
            np.array(similarity, dtype=np.float32),
            alpha=alpha,
            limit=2,
            coverage=None if coverage is None else np.array(coverage, dtype=np.float32),
        )
        return int(fused.positions[0])

    # "cellular automaton" (2 terms): 1 holds one of the two words.
    rare = ([1.0, 0.9666], [0.29, 0.62])
    assert first(*rare, None, hybrid.keyword_weight(2)) == 1
    assert first(*rare, [1.0, 0.5], hybrid.keyword_weight(2)) == 0
    # A title with a word left out (6 terms): 1 holds five of the six.
    title = ([1.0, 0.889], [0.49, 0.65])
    assert first(*title, None, hybrid.keyword_weight(6)) == 1
    assert first(*title, [1.0, 5 / 6], hybrid.keyword_weight(6)) == 0
    assert [hybrid.uses_coverage(n) for n in (1, 4, 8, 9, 20)] == [True] * 3 + [False] * 2
    assert hybrid.uses_coverage(20, exact=True)
    # Short queries: the share held, gently; long ones: every word or not.
    shares = np.array([1.0, 0.75, 0.5, 0.0], dtype=np.float32)
    assert hybrid.coverage_factor(shares, long=False).tolist() == pytest.approx(
        [1.0, 0.75**0.25, 0.5**0.25, 0.0]
    )
    assert hybrid.coverage_factor(shares, long=True).tolist() == [1.0] + [0.75] * 3


def test_full_coverage_everywhere_changes_nothing() -> None:
    """Scores are divided by the best after scaling: the same order and scores as without."""
    keyword = Ranked(np.array([0, 1, 2]), np.array([2.0, 1.5, 0.5], dtype=np.float32))
    semantic = Ranked(np.array([2, 0]), np.array([0.7, 0.5], dtype=np.float32))
    similarity = np.array([0.5, 0.3, 0.7], dtype=np.float32)
    for alpha in (0.8, 0.7, 0.4):
        plain = hybrid.fuse(keyword, semantic, similarity, alpha=alpha, limit=3)
        full = hybrid.fuse(
            keyword, semantic, similarity, alpha=alpha, limit=3, coverage=np.ones(3, np.float32)
        )
        assert plain.positions.tolist() == full.positions.tolist()
        assert np.array_equal(plain.scores, full.scores)
