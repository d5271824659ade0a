"""A realistic mix of search requests for ``bench/search_latency.py``, all distinct.

Kinds: a few rare words from a real abstract, a title, an author's name, a natural-language
question (templates over topics of the feed: computer vision, language, AI), a SciFact
claim, each of those with a category, date range or author filter, and explicit
``mode=keyword`` and ``mode=semantic`` searches.  Every request path is different, so the
server embeds each query once (it caches query vectors per worker).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from bench.common import SHARED_DATA

SCIFACT = SHARED_DATA / "beir-scifact" / "queries.jsonl"
PATH = "/api/papers/search"
# kind -> share of the requests
MIX = {
    "keywords": 0.20,
    "title": 0.12,
    "author_name": 0.08,
    "question": 0.15,
    "claim": 0.07,
    "filter_category": 0.08,
    "filter_dates": 0.08,
    "filter_author": 0.06,
    "mode_keyword": 0.08,
    "mode_semantic": 0.08,
}
WORD = re.compile(r"[A-Za-z][a-z]{5,}")

TEMPLATES = [
    "how do {topic} handle {problem}",
    "how can {topic} be made robust to {problem}",
    "what are the limitations of {topic} for {problem}",
    "why do {topic} fail on {problem}",
    "can {topic} reduce {problem}",
    "which methods improve {topic} under {problem}",
    "does scaling {topic} help with {problem}",
    "what is the state of the art in {topic} for {problem}",
    "are {topic} better than classical methods for {problem}",
    "how to evaluate {topic} with respect to {problem}",
    "survey of {topic} addressing {problem}",
    "recent advances in {topic} and {problem}",
    "is it possible to train {topic} without {problem}",
    "how much data do {topic} need to overcome {problem}",
    "what causes {problem} in {topic}",
    "benchmarks measuring {problem} of {topic}",
    "efficient {topic} that avoid {problem}",
    "how do researchers mitigate {problem} in {topic}",
    "when should I use {topic} given {problem}",
    "theoretical analysis of {problem} in {topic}",
]
TOPICS = [
    "diffusion models",
    "large language models",
    "vision transformers",
    "graph neural networks",
    "reinforcement learning agents",
    "text-to-image generators",
    "speech recognition systems",
    "neural radiance fields",
    "3D gaussian splatting",
    "object detectors",
    "semantic segmentation networks",
    "multimodal language models",
    "retrieval augmented generation",
    "video generation models",
    "mixture of experts models",
    "small language models",
    "autonomous driving perception",
    "medical image segmentation models",
    "point cloud networks",
    "code generation models",
    "machine translation systems",
    "recommender systems",
    "contrastive learning methods",
    "knowledge distillation",
    "federated learning systems",
    "spiking neural networks",
    "vision language action models",
    "image super-resolution networks",
    "optical flow estimators",
    "pose estimation models",
    "chain of thought prompting",
    "reward models",
    "sparse autoencoders",
    "state space models",
    "tokenizers",
    "embodied agents",
    "question answering systems",
    "dialogue systems",
    "anomaly detection models",
    "depth estimation networks",
]
PROBLEMS = [
    "hallucination",
    "catastrophic forgetting",
    "distribution shift",
    "adversarial attacks",
    "long context",
    "low-resource languages",
    "class imbalance",
    "label noise",
    "occlusion",
    "small objects",
    "inference latency",
    "memory footprint",
    "privacy leakage",
    "bias and fairness",
    "data contamination",
    "reward hacking",
    "multi-step reasoning",
    "out-of-distribution inputs",
    "temporal consistency",
    "domain adaptation",
    "limited annotations",
    "quantization error",
    "overfitting",
    "prompt injection",
    "calibration",
    "compositional generalization",
    "motion blur",
    "low light images",
    "sparse rewards",
    "energy consumption",
]
CATEGORIES = ["cs.CV", "cs.CL", "cs.AI", "cs.LG", "cs.RO", "cs.IR", "eess.IV", "cs"]


def _rare_words(rows: list[dict[str, Any]]) -> tuple[Counter[str], int]:
    df: Counter[str] = Counter()
    for row in rows:
        df.update({w.lower() for w in WORD.findall(row["abstract"])})
    return df, max(5, len(rows) // 1000)


def _path(params: dict[str, str]) -> str:
    return f"{PATH}?{urlencode(params)}"


class QueryMaker:
    """Makes queries of each kind from the real papers (deterministic for a seed)."""

    def __init__(self, rows: list[dict[str, Any]], seed: int) -> None:
        self.rows = rows
        self.rng = random.Random(seed)
        self.df, self.max_df = _rare_words(rows)
        claims = [orjson.loads(line)["text"] for line in SCIFACT.read_bytes().splitlines()]
        self.rng.shuffle(claims)
        self.claims = claims
        days = sorted({row["first_seen"] for row in rows})
        self.first, self.last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
        self.makers: dict[str, Callable[[], dict[str, str]]] = {
            "keywords": lambda: {"q": self.keywords()},
            "title": lambda: {"q": self.title()},
            "author_name": lambda: {"q": self.author()},
            "question": lambda: {"q": self.question()},
            "claim": lambda: {"q": self.claim()},
            "filter_category": lambda: {"q": self.any_text(), "category": self.category()},
            "filter_dates": lambda: {"q": self.any_text(), **self.dates()},
            "filter_author": lambda: {"q": self.keywords(), "author": self.author()},
            "mode_keyword": lambda: {"q": self.keywords(), "mode": "keyword"},
            "mode_semantic": lambda: {"q": self.question(), "mode": "semantic"},
        }

    def _row(self) -> dict[str, Any]:
        return self.rows[self.rng.randrange(len(self.rows))]

    def keywords(self) -> str:
        """Two or three rare words of one real abstract (the paper should come first)."""
        for _ in range(50):
            rare = sorted(
                {
                    w.lower()
                    for w in WORD.findall(self._row()["abstract"])
                    if 2 <= self.df[w.lower()] <= self.max_df
                }
            )
            if len(rare) >= 2:
                return " ".join(self.rng.sample(rare, min(len(rare), self.rng.choice((2, 3)))))
        return self.title()

    def title(self) -> str:
        """A real title, sometimes lower-cased as people type it."""
        title = " ".join(self._row()["title"].split())
        return title.lower() if self.rng.random() < 0.3 else title

    def author(self) -> str:
        """A real author's name."""
        for _ in range(20):
            authors = self._row()["authors"] or []
            if authors:
                return str(self.rng.choice(authors))
        return "Smith"

    def question(self) -> str:
        """A natural-language question from a template."""
        template = self.rng.choice(TEMPLATES)
        return template.format(topic=self.rng.choice(TOPICS), problem=self.rng.choice(PROBLEMS))

    def claim(self) -> str:
        """A SciFact claim (biomedical: few close matches in an arXiv CS corpus)."""
        return self.rng.choice(self.claims)

    def any_text(self) -> str:
        """Keywords, a title or a question."""
        return self.rng.choice((self.keywords, self.title, self.question))()

    def category(self) -> str:
        """A category filter (``cs`` is the whole archive)."""
        return self.rng.choice(CATEGORIES)

    def dates(self) -> dict[str, str]:
        """A from/to range of 1 to 90 days within the corpus, or only a start."""
        span = (self.last - self.first).days
        start = self.first + dt.timedelta(days=self.rng.randrange(max(1, span)))
        if self.rng.random() < 0.3:
            return {"from": start.isoformat()}
        end = start + dt.timedelta(days=self.rng.randint(1, 90))
        return {"from": start.isoformat(), "to": end.isoformat()}

    def requests(self, count: int) -> list[tuple[str, str]]:
        """``count`` distinct (kind, path) pairs in a random order, kinds in ``MIX`` shares."""
        kinds = list(MIX)
        weights = [MIX[k] for k in kinds]
        seen: set[str] = set()
        made: list[tuple[str, str]] = []
        attempts = 0
        while len(made) < count and attempts < count * 20:
            attempts += 1
            kind = self.rng.choices(kinds, weights)[0]
            path = _path(self.makers[kind]())
            if path not in seen:
                seen.add(path)
                made.append((kind, path))
        return made


def write_paths(requests: list[tuple[str, str]], target: Path) -> None:
    """One ``kind<TAB>path`` per line (for inspection and re-use)."""
    target.write_text("".join(f"{kind}\t{path}\n" for kind, path in requests))


def read_paths(source: Path) -> list[tuple[str, str]]:
    """The ``(kind, path)`` requests ``write_paths`` wrote."""
    return [
        (kind, path)
        for kind, path in (line.split("\t", 1) for line in source.read_text().splitlines())
    ]
