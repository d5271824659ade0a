"""Retrieval metrics for the search-quality benchmark: nDCG@k, recall@k and MRR@k.

Definitions follow trec_eval / pytrec_eval as BEIR uses them: graded relevance from the
qrels (a score of 0 or less is not relevant), linear gain, ``log2(rank + 1)`` discount, the
ideal ranking built from the qrels alone. A query with no relevant document is skipped; a
query with no results scores 0. ``self_check`` compares them with hand-computed values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]  # query id -> document id -> relevance
Run = Mapping[str, Sequence[str]]  # query id -> ranked document ids, best first


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain of the first ``k`` results."""
    gains = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))
    if ideal <= 0:
        return 0.0
    dcg = sum(
        max(relevant.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k])
    )
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the first ``k`` results."""
    wanted = {doc for doc, g in relevant.items() if g > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant result within the first ``k`` (0 when none)."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def per_query(run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
    """nDCG@10, recall@100 and MRR@10 of every judged query (missing runs score 0)."""
    scores: dict[str, dict[str, float]] = {}
    for qid, relevant in qrels.items():
        if not any(g > 0 for g in relevant.values()):
            continue
        ranked = run.get(qid, ())
        scores[qid] = {
            "ndcg@10": ndcg_at_k(ranked, relevant, 10),
            "recall@100": recall_at_k(ranked, relevant, 100),
            "mrr@10": mrr_at_k(ranked, relevant, 10),
        }
    return scores


def mean(scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Average each metric over queries (rounded to 4 places, as figures are reported)."""
    if not scores:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    names = next(iter(scores.values())).keys()
    return {name: round(sum(s[name] for s in scores.values()) / len(scores), 4) for name in names}


def _close(got: float, want: float, what: str) -> None:
    if abs(got - want) > 1e-9:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def self_check() -> None:
    """Compare every metric with values worked out by hand; raises AssertionError."""
    rel = {"a": 1, "b": 1}
    # Relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3).
    ranked = ["x", "a", "y", "b"]
    _close(
        ndcg_at_k(ranked, rel, 10),
        (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)),
        "ndcg two relevant",
    )
    _close(ndcg_at_k(["a", "b"], rel, 10), 1.0, "ndcg perfect")
    _close(ndcg_at_k(["x", "y"], rel, 10), 0.0, "ndcg none")
    _close(ndcg_at_k(ranked, rel, 2), (1 / math.log2(3)) / (1 + 1 / math.log2(3)), "ndcg@2")
    # Graded: gains 2 and 1; ranked b(1), a(2) -> (1 + 2/log2 3) / (2 + 1/log2 3).
    graded = {"a": 2, "b": 1, "z": 0}
    _close(
        ndcg_at_k(["b", "a"], graded, 10),
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)),
        "ndcg graded",
    )
    # One relevant at rank 3: 1/log2(4) = 0.5.
    _close(ndcg_at_k(["x", "y", "a"], {"a": 1}, 10), 0.5, "ndcg rank 3")
    # More relevant than k: the ideal is cut at k too.
    many = {str(i): 1 for i in range(20)}
    _close(ndcg_at_k([str(i) for i in range(10)], many, 10), 1.0, "ndcg ideal cut at k")
    _close(recall_at_k(ranked, rel, 100), 1.0, "recall all")
    _close(recall_at_k(ranked, rel, 3), 0.5, "recall@3")
    _close(recall_at_k(["z"], graded, 100), 0.0, "recall zero-graded is not relevant")
    _close(mrr_at_k(ranked, rel, 10), 0.5, "mrr rank 2")
    _close(mrr_at_k(["x", "y", "z", "a"], rel, 3), 0.0, "mrr beyond k")
    _close(mrr_at_k(["b"], rel, 10), 1.0, "mrr rank 1")
    run = {"q1": ["a"], "q2": ["x", "y", "b"]}
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}, "q4": {"d": 0}}
    scores = per_query(run, qrels)
    if sorted(scores) != ["q1", "q2", "q3"]:
        raise AssertionError(f"judged queries: {sorted(scores)}")
    averaged = mean(scores)
    _close(averaged["ndcg@10"], round((1 + 0.5 + 0) / 3, 4), "mean ndcg")
    _close(averaged["mrr@10"], round((1 + 1 / 3 + 0) / 3, 4), "mean mrr")
    _close(averaged["recall@100"], round(2 / 3, 4), "mean recall")
