"""Replay hybrid fusions offline: record each query's fusion inputs once, try many fusions.

``record`` loads a BEIR folder like ``search_quality.py`` (normal ingest and index, SQLite),
runs every query through ``Searcher.search`` in hybrid mode and keeps what ``hybrid.fuse``
was given (keyword and semantic candidates, the similarity of every merged paper, alpha, the
word coverage), with the keyword-only and live hybrid runs. ``--sentences N`` adds N
``sentence-`` queries: one sentence (not the first) of a sampled paper's abstract, a longer,
claim-like lookup.

``grid`` replays a grid of fusions (today's form, min-max, z-score, RRF) on recorded sets and
prints one JSON line per setting with nDCG@10 per query kind on one half of the queries
(``--part tune``: even query numbers, ``held``: odd, ``all``), and whether every known-item
kind stays at keyword's level (``keyword_floor``). Replaying today's fusion gives the live
top 10 exactly (checked on every run).

    .venv/bin/python bench/fusion_replay.py record --beir bench/results/known-1 \\
        --out bench/results/known-1.replay --sentences 200 --cache bench/results/cache
    .venv/bin/python bench/fusion_replay.py grid bench/results/known-1.replay --part tune
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import itertools
import pickle
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench import metrics
from bench.beir import BeirSet, CachedEmbedder, load
from bench.common import emit, log
from bench.search_quality import loaded, run_queries

from dailypapers.index.embedder import Embedder, MiniLMEmbedder
from dailypapers.index.text import analyse
from dailypapers.queries.search import Searcher
from dailypapers.ranking import hybrid
from dailypapers.ranking.query import parse_query

Record = dict[str, Any]
Fusion = Callable[[Record], npt.NDArray[np.floating[Any]]]
SENTENCE = re.compile(r"(?<=[.!?])\s+")
Ramp = tuple[float, float] | None
KNOWN_KINDS = ("title", "rare", "author", "dropped")


def add_sentences(beir: BeirSet, n: int, seed: int) -> None:
    """Add ``n`` sentence queries (8 to 35 words, not an abstract's first sentence)."""
    rng = random.Random(seed)
    docs = list(beir.corpus)
    rng.shuffle(docs)
    made = 0
    for doc in docs:
        sentences = [s for s in SENTENCE.split(doc.text) if 8 <= len(s.split()) <= 35]
        if len(sentences) < 2 or made >= n:
            continue
        beir.queries[f"sentence-{made}"] = rng.choice(sentences[1:]).strip()
        beir.qrels[f"sentence-{made}"] = {doc.doc_id: 1}
        made += 1


def record(beir: BeirSet, embedder: Embedder) -> dict[str, Any]:
    """The fusion inputs of every query, with the keyword and live hybrid runs."""
    calls: list[Record] = []
    fuse, rank = hybrid.fuse, Searcher._rank

    def recording_fuse(keyword: Any, semantic: Any, similarity_of: Any, **kw: Any) -> Any:
        calls.append({"kw": keyword, "sem": semantic, "sim": np.array(similarity_of), **kw})
        return fuse(keyword, semantic, similarity_of, **kw)

    def recording_rank(self: Searcher, conn: Any, snapshot: Any, *a: Any, **kw: Any) -> Any:
        before = len(calls)
        ranked = rank(self, conn, snapshot, *a, **kw)
        if len(calls) > before:
            calls[-1]["doc_ids"] = snapshot.doc_ids
        return ranked

    hybrid.fuse, Searcher._rank = recording_fuse, recording_rank  # type: ignore[method-assign]
    out: dict[str, Any] = {"qrels": beir.qrels, "queries": beir.queries, "q": {}}
    try:
        with loaded(beir, backend="sqlite", embedder=embedder) as data:
            out["keyword"] = run_queries(data, beir.queries, "keyword")
            with data.engine.connect() as conn:
                for qid, text in beir.queries.items():
                    before = len(calls)
                    data.searcher.search(
                        conn=conn, q=text, mode="hybrid", limit=100, highlight_hits=False
                    )
                    if len(calls) == before:
                        continue
                    call = calls[-1]
                    union = np.union1d(call["kw"].positions, call["sem"].positions)
                    out["q"][qid] = {
                        "union": [data.beir_of[str(call["doc_ids"][p])] for p in union],
                        "kw_idx": np.searchsorted(union, call["kw"].positions),
                        "kw_sc": call["kw"].scores,
                        "sem_idx": np.searchsorted(union, call["sem"].positions),
                        "sem_sc": call["sem"].scores,
                        "sim": call["sim"],
                        "alpha": call["alpha"],
                        "coverage": call.get("coverage"),
                    }
            out["hybrid"] = run_queries(data, beir.queries, "hybrid")
    finally:
        hybrid.fuse, Searcher._rank = fuse, rank  # type: ignore[method-assign]
    return out


def length_class(text: str) -> int:
    """0: exact (phrase, ``title:``) or 1-2 terms, 1: 3-4, 2: 5-8, 3: 9 or more (as searched)."""
    parsed = parse_query(text)
    n_terms = len(set(analyse(parsed.text)))
    if parsed.phrases or parsed.title or n_terms <= 2:
        return 0
    return 1 if n_terms <= 4 else 2 if n_terms <= 8 else 3


def _confidence(r: Record, ramp: Ramp) -> float:
    if ramp is None:
        return 1.0
    best = float(r["sem_sc"][0]) if len(r["sem_sc"]) else 0.0
    return min(max((best - ramp[0]) / (ramp[1] - ramp[0]), 0.0), 1.0)


def _keyword_raw(
    r: Record, coverage_power: float = 0.0, missing_a_word: float = 1.0
) -> npt.NDArray[np.float64]:
    """BM25 of the merged papers, scaled by ``hybrid.coverage_factor`` with these values (no
    scaling with the defaults, or on replays recorded before coverage)."""
    kw = np.zeros(len(r["union"]))
    kw[r["kw_idx"]] = r["kw_sc"]
    coverage = r.get("coverage")
    if coverage is None:
        return kw
    factor = hybrid.coverage_factor(
        coverage, long=r["class"] >= 2, power=coverage_power, missing_a_word=missing_a_word
    )
    return np.asarray(kw * factor)


def _scale(x: npt.NDArray[np.float64], how: str) -> npt.NDArray[np.float64]:
    if how == "max":
        return x / x.max() if x.max() > 0 else x
    if how == "minmax":
        return (x - x.min()) / (x.max() - x.min()) if x.max() > x.min() else np.ones_like(x)
    return (x - x.mean()) / x.std() if x.std() > 0 else np.zeros_like(x)  # z-score


def convex(
    how: str,
    alphas: tuple[float, ...],
    ramp: Ramp,
    long_ramp: Ramp | str = "same",
    coverage: tuple[float, float] = (0.0, 1.0),
) -> Fusion:
    """``(1 - w)·keyword + w·semantic``, w = (1 - alpha)·confidence; ``how`` scales the scores.

    ``alphas`` by length class (three: 9+ terms share the 5-8 alpha, or four); queries of 5 or
    more terms use ``long_ramp`` unless it is ``"same"``. ``coverage`` (form ``max``) is
    ``(COVERAGE_POWER, MISSING_A_WORD)`` for the word coverage of ``hybrid.fuse``.
    """

    def fusion(r: Record) -> npt.NDArray[np.float64]:
        if how == "max":  # today's: BM25 over the best, raw cosine clipped to 0..1
            kw = _scale(_keyword_raw(r, *coverage), "max")
            sem = np.clip(r["sim"].astype(np.float64), 0.0, 1.0)
        elif how == "minmax":  # over the keyword candidates; other merged papers score 0
            kw = np.zeros(len(r["union"]))
            if len(r["kw_idx"]):
                kw[r["kw_idx"]] = _scale(r["kw_sc"].astype(np.float64), how)
            sem = _scale(r["sim"].astype(np.float64), how)
        else:  # z-scores over all merged papers (BM25 0 where a paper has no keyword match)
            kw = _scale(_keyword_raw(r), how)
            sem = _scale(r["sim"].astype(np.float64), how)
        long = r["class"] >= 2 and not isinstance(long_ramp, str)
        confidence = _confidence(r, long_ramp if long and not isinstance(long_ramp, str) else ramp)
        w = (1 - alphas[min(r["class"], len(alphas) - 1)]) * confidence
        return np.asarray((1 - w) * kw + w * sem)

    return fusion


def rrf(k: int, keyword_weight: float) -> Fusion:
    """Reciprocal-rank fusion of the two candidate lists."""

    def fusion(r: Record) -> npt.NDArray[np.float64]:
        s = np.zeros(len(r["union"]))
        s[r["kw_idx"]] += keyword_weight / (k + 1 + np.arange(len(r["kw_idx"])))
        s[r["sem_idx"]] += 1 / (k + 1 + np.arange(len(r["sem_idx"])))
        return s

    return fusion


def replay(data: dict[str, Any], fusion: Fusion) -> dict[str, list[str]]:
    """The top 10 of every query under ``fusion`` (the live run where nothing was fused)."""
    run: dict[str, list[str]] = {}
    for qid in data["queries"]:
        r = data["q"].get(qid)
        if r is None:
            run[qid] = list(data["hybrid"][qid][:10])
            continue
        if not len(r["union"]):  # a phrase no paper holds: nothing to fuse
            run[qid] = []
            continue
        # Equal scores by similarity, then position, as ``hybrid.fuse`` orders them.
        order = np.lexsort((-np.clip(r["sim"], 0.0, 1.0), -fusion(r)))[:10]
        run[qid] = [r["union"][i] for i in order]
    return run


def by_kind(data: dict[str, Any], run: dict[str, list[str]], part: str) -> dict[str, float]:
    """Mean nDCG@10 per query kind (and ``all``) on one half of the queries."""
    scores = metrics.per_query(run, data["qrels"])
    kinds: dict[str, list[float]] = {}
    for qid, values in scores.items():
        number = qid.rsplit("-", 1)[-1]
        if part != "all" and number.isdigit() and (int(number) % 2 == 0) != (part == "tune"):
            continue
        kind = qid.split("-", 1)[0] if "-" in qid else "all"
        kinds.setdefault(kind, []).append(values["ndcg@10"])
        if kind != "all":
            kinds.setdefault("all", []).append(values["ndcg@10"])
    return {kind: round(float(np.mean(v)), 4) for kind, v in sorted(kinds.items())}


def settings() -> list[tuple[str, Fusion]]:
    """The grid: today's form, min-max and z-score with the same alphas, and RRF.

    Then today's form with short queries as today (alpha 0.8 and 0.7, ramp 0.4-0.6) and long
    ones (5+ terms) with their own ramp and alpha, or two alphas (5-8 and 9+ terms).
    """
    grid: list[tuple[str, Fusion]] = []
    for alphas in itertools.product(
        (0.7, 0.8, 0.9), (0.5, 0.6, 0.7, 0.8), (0.2, 0.3, 0.4, 0.5, 0.6)
    ):
        for ramp in ((0.3, 0.5), (0.35, 0.55), (0.4, 0.6), (0.45, 0.65), (0.5, 0.7)):
            grid.append((f"max alphas={alphas} ramp={ramp}", convex("max", alphas, ramp)))
        for how, ramp2 in itertools.product(("minmax", "z"), (None, (0.4, 0.6), (0.3, 0.5))):
            grid.append((f"{how} alphas={alphas} ramp={ramp2}", convex(how, alphas, ramp2)))
    for k, weight in itertools.product((10, 20, 40, 60, 100), (1, 1.5, 2, 3, 5)):
        grid.append((f"rrf k={k} keyword_weight={weight}", rrf(k, weight)))
    long_ramps: list[Ramp] = [
        (0.2, 0.3), (0.2, 0.4), (0.2, 0.5), (0.25, 0.35), (0.25, 0.45), (0.25, 0.55),
        (0.3, 0.4), (0.3, 0.5), (0.35, 0.45), (0.35, 0.55), (0.4, 0.5), (0.4, 0.6),
    ]  # fmt: skip
    # Word coverage: short queries' power, and what 5-8 term queries' papers missing a word
    # keep (today's: 0.25 and 0.75).
    for power, missing in itertools.product((0.0, 0.1, 0.25, 0.5, 1.0), (1.0, 0.84, 0.75, 0.5)):
        grid.append(
            (f"max alphas=(0.8, 0.7, 0.4) coverage={power, missing}",
             convex("max", (0.8, 0.7, 0.4), (0.4, 0.6), (0.25, 0.45), (power, missing)))
        )  # fmt: skip
    steps = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    for long_ramp, a3 in itertools.product(long_ramps, steps):
        alphas3 = (0.8, 0.7, a3)
        grid.append(
            (f"max alphas={alphas3} ramp=(0.4, 0.6) long_ramp={long_ramp}",
             convex("max", alphas3, (0.4, 0.6), long_ramp))
        )  # fmt: skip
        for a4 in steps:
            if a4 == a3:
                continue
            alphas4 = (0.8, 0.7, a3, a4)
            grid.append(
                (f"max alphas={alphas4} ramp=(0.4, 0.6) long_ramp={long_ramp}",
                 convex("max", alphas4, (0.4, 0.6), long_ramp))
            )  # fmt: skip
    return grid


def main() -> None:
    """``record`` a BEIR folder's fusion inputs, or replay the ``grid`` on recorded sets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--beir", type=Path, required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--sentences", type=int, default=0)
    rec.add_argument("--cache", type=Path)
    grid = sub.add_parser("grid")
    grid.add_argument("recorded", type=Path, nargs="+")
    grid.add_argument("--part", choices=["tune", "held", "all"], default="tune")
    args = parser.parse_args()
    if args.command == "record":
        beir = load(args.beir)
        add_sentences(beir, args.sentences, seed=7)
        embedder: Embedder = MiniLMEmbedder()
        if args.cache:
            embedder = CachedEmbedder(embedder, args.cache)
        args.out.write_bytes(pickle.dumps(record(beir, embedder)))
        log(f"recorded {len(beir.queries)} queries to {args.out}")
        return
    sets = {str(p): pickle.loads(p.read_bytes()) for p in args.recorded}
    for data in sets.values():
        for qid, r in data["q"].items():
            r["class"] = length_class(data["queries"][qid])
    alphas = tuple(hybrid.keyword_weight(n) for n in (1, 3, 5))
    today = convex(
        "max",
        alphas,
        (hybrid.UNSURE, hybrid.SURE),
        (hybrid.UNSURE_LONG, hybrid.SURE_LONG),
        (hybrid.COVERAGE_POWER, hybrid.MISSING_A_WORD),
    )
    for name, data in sets.items():
        live = {q: list(r[:10]) for q, r in data["hybrid"].items()}
        same = sum(replay(data, today)[q] == live[q] for q in live)
        log(f"{name}: today's fusion replayed gives the live top 10 for {same}/{len(live)}")
        emit({"set": name, "setting": "keyword", **by_kind(data, data["keyword"], args.part)})
    for setting, fusion in [("today", today), *settings()]:
        for name, data in sets.items():
            kinds = by_kind(data, replay(data, fusion), args.part)
            floor = by_kind(data, data["keyword"], args.part)
            keeps = all(kinds[k] >= floor[k] for k in KNOWN_KINDS if k in kinds)
            emit({"set": name, "setting": setting, **kinds, "keyword_floor": keeps})


if __name__ == "__main__":
    main()
