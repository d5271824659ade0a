"""Short topical queries with human judgements: SciFact claims cut to their rarest words.

The known-item sets (``make_known_item.py``) hold lookups, whose one paper holds every word
of the query; short *topical* queries, whose relevant papers often lack a word, have no
judged set here. This makes a stand-in from a BEIR folder: each claim becomes its ``--words``
rarest content words (document frequency over the corpus, at least 3 letters, a small stop
list; kept in the claim's order), judged by the claim's own relevance judgements. It is a
proxy (people type other words than a claim's rarest), used to check that hybrid search's
word coverage (``ranking/hybrid.py``) does not cost topical short queries.

    .venv/bin/python bench/short_claims.py --beir bench/results/scifact-train \\
        --out /tmp/short3 --words 3
    .venv/bin/python bench/search_quality.py --beir /tmp/short3 --mode all \\
        --cache bench/results/cache

The output folder links to the source's corpus and copies its judgements. Claims with fewer
than two content words are left out.
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
import re
import shutil
from collections import Counter
from pathlib import Path

import orjson
from bench.beir import corpus_path, load
from bench.common import log

WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
STOP_WORDS = """the and for are with that this from was were have has had not but its into than
their they them these those which while when where what who whom been being also can may might
our out over under more most less such each other some any all one two three per via between
among both does did doing only very much many few lack"""
STOP = frozenset(STOP_WORDS.split())


def shorten(text: str, df: Counter[str], words: int) -> str | None:
    """``text``'s ``words`` rarest content words in their order, or None for fewer than 2."""
    found = [w for w in dict.fromkeys(WORD.findall(text.lower())) if w not in STOP and df[w]]
    if len(found) < 2:
        return None
    rarest = set(sorted(found, key=lambda w: (df[w], w))[:words])
    return " ".join(w for w in found if w in rarest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beir", type=Path, required=True, help="BEIR folder with claims")
    parser.add_argument("--out", type=Path, required=True, help="new BEIR folder")
    parser.add_argument("--words", type=int, default=3, help="words kept per claim")
    args = parser.parse_args()
    source = load(args.beir)
    df: Counter[str] = Counter()
    for doc in source.corpus:
        df.update(set(WORD.findall(f"{doc.title} {doc.text}".lower())))
    (args.out / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = corpus_path(args.beir).resolve()
    link = args.out / corpus.name
    if not link.exists():
        link.symlink_to(corpus)
    shutil.copyfile(args.beir / "qrels" / "test.tsv", args.out / "qrels" / "test.tsv")
    kept = 0
    with open(args.out / "queries.jsonl", "wb") as out:
        for qid, claim in source.queries.items():
            short = shorten(claim, df, args.words)
            if short is not None:
                out.write(orjson.dumps({"_id": qid, "text": short}) + b"\n")
                kept += 1
    log(f"{args.out}: {kept} of {len(source.queries)} claims, {args.words} words each")


if __name__ == "__main__":
    main()
