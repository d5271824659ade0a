"""Make a known-item search set in BEIR format from the shared arXiv daily feed.

The corpus is a random sample of real papers (title, abstract, with authors and categories
in ``metadata``). Each query has exactly one relevant paper and is one of four short kinds,
named by the start of its id (``bench/search_quality.py --by-kind`` reports them apart):

- ``title-N``: the exact title;
- ``rare-N``: 2 to 4 of the rarest words of the abstract (highest IDF in the corpus);
- ``author-N``: an author's full name and one word of the title;
- ``dropped-N``: the title with one (non-stopword) word left out.

    .venv/bin/python bench/make_known_item.py --out /tmp/known-1 --docs 6000 --queries 300 \\
        --seed 1

The generator uses its own simple tokenizer, not the search code's analyser, so the set does
not bend towards what the index does.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# This folder holds ``http.py``, which would shadow the standard library's ``http`` package;
# put the repository root first on sys.path instead of this folder.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import gzip
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from bench.common import FEED, load_feed, log

KINDS = ("title", "rare", "author", "dropped")
WORD = re.compile(r"[a-z]{4,}")
URL = re.compile(r"\S*(?:https?://|www\.|github\.com)\S*")
NAME_PART = re.compile(r"[^\W\d_]{2,}(?:[-'][^\W\d_]+)*")
# Function words and arXiv boilerplate: never a "remembered" rare or dropped word.
COMMON_WORDS = """a an and are as at be but by for from has have in into is it its of on or that
the their this to was were with we our via using based towards toward new study under over
between than when which while within without"""
COMMON = frozenset(COMMON_WORDS.split())


def _clean(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> list[str]:
    return [w for w in WORD.findall(URL.sub(" ", text.lower())) if w not in COMMON]


def sample_corpus(
    rows: list[dict[str, Any]], docs: int, rng: random.Random
) -> list[dict[str, Any]]:
    """``docs`` papers with a title and an abstract, no two with the same title."""
    rng.shuffle(rows)
    seen: set[str] = set()
    corpus = []
    for row in rows:
        title, abstract = _clean(row.get("title") or ""), _clean(row.get("abstract") or "")
        key = title.lower()
        if not title or not abstract or key in seen:
            continue
        seen.add(key)
        corpus.append({**row, "title": title, "abstract": abstract})
        if len(corpus) == docs:
            break
    return corpus


class QueryMaker:
    """Makes queries of each kind for a corpus; a method returns None when a paper can't."""

    def __init__(self, corpus: list[dict[str, Any]], rng: random.Random) -> None:
        self.rng = rng
        self.doc_words = [set(_words(f"{d['title']} {d['abstract']}")) for d in corpus]
        self.df = Counter(w for words in self.doc_words for w in words)
        self.idf = {w: math.log(len(corpus) / n) for w, n in self.df.items()}
        self.by_author: dict[str, list[int]] = {}
        for number, doc in enumerate(corpus):
            for name in doc.get("authors") or []:
                self.by_author.setdefault(_clean(name).lower(), []).append(number)

    def title(self, number: int, doc: dict[str, Any]) -> str | None:
        """The exact title."""
        return str(doc["title"])

    def rare(self, number: int, doc: dict[str, Any]) -> str | None:
        """2-4 words picked among the 8 rarest of the abstract, in the abstract's order.

        Words found in no other paper (often names of code repositories or typos) are left
        out: a reader remembers distinctive terms, not identifiers.
        """
        ordered = [w for w in dict.fromkeys(_words(doc["abstract"])) if self.df[w] >= 2]
        if len(ordered) < 6:
            return None
        rarest = sorted(ordered, key=lambda w: (-self.idf[w], ordered.index(w)))[:8]
        chosen = set(self.rng.sample(rarest, self.rng.randint(2, 4)))
        if sum(chosen <= other for other in self.doc_words) != 1:
            return None  # another paper holds every word: not a known item
        return " ".join(w for w in ordered if w in chosen)

    def author(self, number: int, doc: dict[str, Any]) -> str | None:
        """A full name (every part a word of 2+ letters) and one title word."""
        names = [
            _clean(n)
            for n in doc.get("authors") or []
            if len(n.split()) >= 2 and all(NAME_PART.fullmatch(p) for p in n.split())
        ]
        title_words = list(dict.fromkeys(_words(doc["title"])))
        if not names or not title_words:
            return None
        name, word = self.rng.choice(names), self.rng.choice(title_words)
        others = [n for n in self.by_author[name.lower()] if n != number]
        if any(word in self.doc_words[n] for n in others):
            return None  # the same person wrote another paper with that word
        return f"{name} {word}"

    def dropped(self, number: int, doc: dict[str, Any]) -> str | None:
        """The title without one of its content words (titles of 4+ words)."""
        parts = doc["title"].split()
        droppable = [i for i, p in enumerate(parts) if re.sub(r"\W", "", p.lower()) not in COMMON]
        if len(parts) < 4 or len(droppable) < 2:
            return None
        drop = self.rng.choice(droppable)
        return " ".join(p for i, p in enumerate(parts) if i != drop)


def make_queries(
    corpus: list[dict[str, Any]], count: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """``count`` queries as (query id, text, relevant document id), kinds in turn."""
    maker = QueryMaker(corpus, rng)
    makers: dict[str, Callable[[int, dict[str, Any]], str | None]] = {
        "title": maker.title,
        "rare": maker.rare,
        "author": maker.author,
        "dropped": maker.dropped,
    }
    order = list(range(len(corpus)))
    rng.shuffle(order)
    queries: list[tuple[str, str, str]] = []
    used: set[int] = set()
    counts = Counter[str]()
    candidates = iter(order)
    for turn in range(count):
        kind = KINDS[turn % len(KINDS)]
        for number in candidates:
            text = makers[kind](number, corpus[number])
            if text and number not in used:
                used.add(number)
                counts[kind] += 1
                queries.append((f"{kind}-{counts[kind]:03d}", text, corpus[number]["id"]))
                break
    return queries


def write_set(out: Path, corpus: list[dict[str, Any]], queries: list[tuple[str, str, str]]) -> None:
    """Write ``corpus.jsonl.gz``, ``queries.jsonl`` and ``qrels/test.tsv`` under ``out``."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with gzip.open(out / "corpus.jsonl.gz", "wb") as handle:
        for doc in corpus:
            meta = {"authors": doc.get("authors") or [], "categories": doc.get("categories") or []}
            line = {
                "_id": doc["id"],
                "title": doc["title"],
                "text": doc["abstract"],
                "metadata": meta,
            }
            handle.write(orjson.dumps(line) + b"\n")
    with (out / "queries.jsonl").open("wb") as handle:
        for qid, text, _ in queries:
            handle.write(orjson.dumps({"_id": qid, "text": text}) + b"\n")
    lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, _, d in queries)]
    (out / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")


def main() -> None:
    """Sample the corpus, make the queries, write the folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--docs", type=int, default=6000, help="papers in the corpus")
    parser.add_argument("--queries", type=int, default=300, help="queries (all kinds)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--feed", type=Path, default=FEED, help="papers.jsonl.gz to sample")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = sample_corpus(load_feed(path=args.feed), args.docs, rng)
    queries = make_queries(corpus, args.queries, rng)
    write_set(args.out, corpus, queries)
    kinds = Counter(qid.split("-")[0] for qid, _, _ in queries)
    log(f"{args.out}: {len(corpus)} papers, {len(queries)} queries {dict(kinds)}")


if __name__ == "__main__":
    main()
