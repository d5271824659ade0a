"""For you, measured: a leave-later-out evaluation on the real daily feed.

Simulated members are authors of the feed: an author with at least ``--min-library`` papers
before ``--split`` and at least one in the ``--days`` after it. Their papers before the split
are their library (positives: what they would have saved or imported), they follow the two
categories most common in it, and their papers in the window are the targets: what a good
ranking puts in the top 20 of the window's papers. Nobody follows the author themself (that
would find the targets by name). Candidates are every paper first seen in the window.

Compared (same candidates, same top 20):
  * ``recent``: the newest papers in the followed categories;
  * ``bm25``: BM25 of the candidates' titles and abstracts against the library's titles;
  * ``follows_only``: For you with follows and no library (cold start);
  * ``for_you``: ``ranking.foryou.recommend`` with the library and the follows;
  * ``ablation_*``: For you with only the linear model, only the nearest positive,
    without the category follows, or without the positives' words (each keeps the words
    unless named).

Vectors: the model the site uses, through ``bench/beir.py``'s ``CachedEmbedder`` and the
shared cache in ``bench/results/cache`` (embedded once; a first run embeds what it lacks).
Cost: milliseconds per member for the window's candidates, and per member with 75,000
candidates (the vectors tiled), projected to a daily precomputation for 10,000 members.

    .venv/bin/python bench/recommend.py --users 300 [--cached-only] [--max-tokens 128]
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import ast
import datetime as dt
import hashlib
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from bench.beir import CachedEmbedder
from bench.common import BENCH, add_common_arguments, emit, load_feed, log, machine_info

from dailypapers.index import embedder as embedder_module
from dailypapers.index.embedder import MiniLMEmbedder, paper_text
from dailypapers.index.text import analyse
from dailypapers.ingest.normalize import clean_abstract, clean_line
from dailypapers.queries.foryou import MAX_POSITIVE_TEXTS
from dailypapers.ranking import foryou

K = 20
ABLATIONS = {
    "ablation_model_only": replace(foryou.WEIGHTS, similar=0.0, category=0.0),
    "ablation_nearest_only": replace(foryou.WEIGHTS, model=0.0, category=0.0),
    "ablation_no_follows": replace(foryou.WEIGHTS, category=0.0),
    "ablation_no_words": replace(foryou.WEIGHTS, words=0.0),
}


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in parsed] if isinstance(parsed, list) else []


def prepare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feed rows with parsed authors, categories, day and the embedded text."""
    papers = []
    for row in rows:
        title, abstract = clean_line(row["title"]), clean_abstract(row["abstract"])
        papers.append(
            {
                "id": row["id"],
                "title": title,
                "abstract": abstract,
                "authors": _list(row["authors"]),
                "categories": _list(row["categories"]) or [row["primary_category"]],
                "day": dt.date.fromisoformat(row["first_seen"][:10]),
                "text": paper_text(title, abstract),
            }
        )
    return papers


def cached(embedder: CachedEmbedder, papers: list[dict[str, Any]], key: str) -> set[int]:
    """Numbers of the papers whose vector is in the cache under the model ``key``."""
    have = {
        digest
        for (digest,) in embedder._db.execute("SELECT digest FROM vectors WHERE model = ?", [key])
    }
    return {
        i
        for i, paper in enumerate(papers)
        if hashlib.sha256(paper["text"].encode()).hexdigest() in have
    }


def members(
    papers: list[dict[str, Any]],
    split: dt.date,
    end: dt.date,
    min_library: int,
    n: int,
    seed: int,
    available: set[int] | None = None,
) -> list[tuple[str, list[int], set[str]]]:
    """(author, library paper numbers, target ids) of ``n`` sampled authors (libraries only
    of ``available`` papers when given: those with a cached vector)."""
    by_author: dict[str, list[int]] = defaultdict(list)
    for i, paper in enumerate(papers):
        for name in paper["authors"]:
            by_author[foryou.fold_name(name)].append(i)
    found = []
    for name, idx in by_author.items():
        library = [
            i for i in idx if papers[i]["day"] < split and (available is None or i in available)
        ]
        targets = {papers[i]["id"] for i in idx if split <= papers[i]["day"] < end}
        if len(library) >= min_library and targets:
            found.append((name, library[-200:], targets))
    found.sort()
    random.Random(seed).shuffle(found)
    return found[:n]


class BM25:
    """Okapi BM25 (k1 1.2, b 0.75) over the candidates, with the site's analyser."""

    def __init__(self, counts: list[Counter[str]]) -> None:
        """``counts``: each candidate's analysed terms."""
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = []
        for i, terms in enumerate(counts):
            lengths.append(sum(terms.values()))
            for term, tf in terms.items():
                self.postings[term].append((i, tf))
        self.lengths = np.array(lengths, dtype=np.float64)
        self.avg = float(self.lengths.mean()) if len(counts) else 1.0
        self.n = len(counts)

    def scores(self, query: str) -> np.ndarray:
        """BM25 scores of every candidate for ``query`` (query term counts weigh terms)."""
        out = np.zeros(self.n)
        for term, qtf in Counter(analyse(query)).items():
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (self.n - len(posting) + 0.5) / (len(posting) + 0.5))
            docs = np.array([d for d, _ in posting])
            tf = np.array([t for _, t in posting], dtype=np.float64)
            norm = tf + 1.2 * (0.25 + 0.75 * self.lengths[docs] / self.avg)
            out[docs] += qtf * idf * tf * 2.2 / norm
        return out


def metrics(ranked: list[str], targets: set[str]) -> tuple[float, float]:
    """(recall@K, nDCG@K) of one ranking."""
    top = ranked[:K]
    hits = [1.0 if pid in targets else 0.0 for pid in top]
    dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
    ideal = sum(1 / math.log2(r + 2) for r in range(min(K, len(targets))))
    return sum(hits) / len(targets), dcg / ideal


def main() -> None:
    """Run the evaluation and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--split", default="2026-05-01", help="first day of the target window")
    parser.add_argument("--days", type=int, default=30, help="length of the window (days)")
    parser.add_argument("--users", type=int, default=300, help="simulated members")
    parser.add_argument("--min-library", type=int, default=3, help="papers before the split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=BENCH / "results" / "cache")
    parser.add_argument("--cost-members", type=int, default=5, help="members timed at 75k")
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="libraries only of papers whose vector is cached already (the window's papers "
        "are always embedded): no embedding beyond the window on a busy machine",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        help="embed papers cut to N tokens (default: MAX_TOKENS, 256); with --cached-only the "
        "members stay those of the default window's cache, so runs compare the same people",
    )
    args = parser.parse_args()

    split = dt.date.fromisoformat(args.split)
    end = split + dt.timedelta(days=args.days)
    papers = prepare(load_feed(path=args.feed))
    default_key = MiniLMEmbedder().key  # the key at the default window, read before --max-tokens
    if args.max_tokens:
        embedder_module.MAX_TOKENS = args.max_tokens
    embedder = CachedEmbedder(MiniLMEmbedder(), args.cache)
    available = cached(embedder, papers, default_key) if args.cached_only else None
    chosen = members(papers, split, end, args.min_library, args.users, args.seed, available)
    window = [i for i, p in enumerate(papers) if split <= p["day"] < end]
    needed = sorted(set(window) | {i for _, lib, _ in chosen for i in lib})
    log(f"{len(chosen)} members, {len(window)} candidates, {len(needed)} papers to embed")
    started = time.perf_counter()
    vectors: dict[int, np.ndarray] = {}
    for start in range(0, len(needed), 512):
        part = needed[start : start + 512]
        block = embedder.embed([papers[i]["text"] for i in part])
        vectors.update(zip(part, block, strict=True))
        log(f"vectors {start + len(part)}/{len(needed)} (cache hits {embedder.hits})")
    embed_seconds = time.perf_counter() - started

    candidates = [
        foryou.Candidate(
            id=papers[i]["id"],
            title=papers[i]["title"],
            abstract=papers[i]["abstract"],
            authors=tuple(papers[i]["authors"]),
            categories=tuple(papers[i]["categories"]),
            age_days=float((end - papers[i]["day"]).days),
        )
        for i in window
    ]
    matrix = np.stack([vectors[i] for i in window]).astype(np.float32)
    matrix /= np.maximum(
        np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9
    )  # held unit, as the site
    counts = [Counter(analyse(f"{c.title} {c.abstract}")) for c in candidates]
    bm25 = BM25(counts)
    terms = foryou.term_matrix(counts)
    newest = sorted(
        range(len(window)),
        key=lambda j: (papers[window[j]]["day"], papers[window[j]]["id"]),
        reverse=True,
    )

    # As the site reads them (queries/foryou.py): the words of the newest positives.
    words = {
        member: Counter(
            t for i in library[-MAX_POSITIVE_TEXTS:] for t in analyse(papers[i]["text"])
        )
        for member, library, _ in chosen
    }
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    costs: list[float] = []
    for member, library, targets in chosen:
        cats = Counter(c for i in library for c in papers[i]["categories"])
        followed = [c for c, _ in cats.most_common(2)]
        lib_ids = frozenset(papers[i]["id"] for i in library)
        recent = [
            candidates[j].id
            for j in newest
            if any(foryou.category_matches(f, candidates[j].categories) for f in followed)
        ]
        scores["recent"].append(metrics(recent, targets))
        b = bm25.scores(" ".join(papers[i]["title"] for i in library))
        scores["bm25"].append(metrics([candidates[j].id for j in np.argsort(-b)[:K]], targets))
        cold = foryou.Profile(categories=followed, excluded=lib_ids)
        picks = foryou.recommend(cold, candidates, matrix, limit=K, unit=True, terms=terms)
        scores["follows_only"].append(metrics([p.id for p in picks], targets))
        profile = foryou.Profile(
            categories=followed,
            positives=[
                foryou.Positive(papers[i]["id"], papers[i]["title"], "saved") for i in library
            ],
            positive_vectors=np.stack([vectors[i] for i in library]),
            excluded=lib_ids,
            positive_words=words[member],
        )
        t0 = time.perf_counter()
        picks = foryou.recommend(profile, candidates, matrix, limit=K, unit=True, terms=terms)
        costs.append((time.perf_counter() - t0) * 1000)
        scores["for_you"].append(metrics([p.id for p in picks], targets))
        # Ablations: each part of the score alone (same profile).
        for name, weights in ABLATIONS.items():
            picks = foryou.recommend(
                profile, candidates, matrix, limit=K, unit=True, weights=weights, terms=terms
            )
            scores[name].append(metrics([p.id for p in picks], targets))

    # Cost at 75,000 candidates: the window tiled (every paper of the feed would be a candidate).
    reps = math.ceil(75_000 / len(candidates))
    big = (candidates * reps)[:75_000]
    big_matrix = np.tile(matrix, (reps, 1))[:75_000]
    big_terms = foryou.term_matrix((counts * reps)[:75_000])
    big_costs = []
    for member, library, _ in chosen[: args.cost_members]:
        profile = foryou.Profile(
            categories=["cs.CL", "cs.LG"],
            positives=[
                foryou.Positive(papers[i]["id"], papers[i]["title"], "saved") for i in library
            ],
            positive_vectors=np.stack([vectors[i] for i in library]),
            positive_words=words[member],
        )
        t0 = time.perf_counter()
        foryou.recommend(profile, big, big_matrix, limit=K, unit=True, terms=big_terms)
        big_costs.append((time.perf_counter() - t0) * 1000)

    figures = {
        name: {
            f"recall@{K}": round(float(np.mean([r for r, _ in values])), 4),
            f"ndcg@{K}": round(float(np.mean([n for _, n in values])), 4),
        }
        for name, values in scores.items()
    }
    per_member = float(np.median(costs))
    at_75k = float(np.median(big_costs)) if big_costs else None
    emit(
        {
            "benchmark": "recommend",
            "machine": machine_info(),
            "corpus": {
                "feed_papers": len(papers),
                "split": args.split,
                "window_days": args.days,
                "candidates": len(candidates),
                "members": len(chosen),
                "min_library": args.min_library,
                "libraries": "cached papers only" if args.cached_only else "every paper",
                "mean_library": round(float(np.mean([len(lib) for _, lib, _ in chosen])), 1),
                "mean_targets": round(float(np.mean([len(t) for _, _, t in chosen])), 2),
                "vectors": len(needed),
                "embed_seconds": round(embed_seconds, 1),
                "cache_hits": embedder.hits,
                "model": embedder.key,
            },
            "quality": figures,
            "beats_baselines": all(
                figures["for_you"][m] > max(figures["recent"][m], figures["bm25"][m])
                for m in (f"recall@{K}", f"ndcg@{K}")
            ),
            "cost_ms_per_member": {
                "window_median": round(per_member, 2),
                "window_p95": round(float(np.percentile(costs, 95)), 2),
                "at_75k_candidates_median": round(at_75k, 1) if at_75k else None,
            },
            "daily_precompute_10k_members_minutes": {
                "window": round(per_member * 10_000 / 60_000, 1),
                "at_75k_candidates": round(at_75k * 10_000 / 60_000, 1) if at_75k else None,
                "note": "one core, sequential; the members are independent (parallel by cores)",
            },
        }
    )


if __name__ == "__main__":
    main()
