"""BM25 checked against hand-computed values, and the analyser."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dailypapers.index.keyword import K1, TITLE_WEIGHT, B, IndexedDoc, KeywordIndex
from dailypapers.index.text import analyse, fold

DOCS = [
    IndexedDoc("Graph networks", "graph graph learning", ["Ada Lovelace"], ["cs.LG"]),
    IndexedDoc("Protein folding", "learning protein structure", ["Alan Turing"], ["q-bio.BM"]),
    IndexedDoc("Quantum error correction", "codes", ["Émile Borel"], ["quant-ph"]),
]


def test_analyser_folds_stems_and_drops_stopwords() -> None:
    assert analyse("The Networks of Müller") == ["network", "muller"]
    assert fold("Émile") == "emile"


def test_bm25_matches_a_hand_computation(tmp_path: Path) -> None:
    index = KeywordIndex.build(DOCS)
    # Document 0: title "graph network" x2, abstract "graph graph learn", author "ada lovelac".
    lengths = [2 * TITLE_WEIGHT + 3 + 2, 2 * TITLE_WEIGHT + 3 + 2, 3 * TITLE_WEIGHT + 1 + 2]
    avgdl = sum(lengths) / 3
    tf, df, n = 4, 1, 3  # "graph": twice in the title (x2), twice in the abstract
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[0] / avgdl))
    scores = index.scores(["graph"])
    assert scores[0] == pytest.approx(expected, rel=1e-5)
    assert scores[1] == scores[2] == 0
    # "learn" is in two documents: the shorter one with the same tf scores higher or equal.
    learn = index.scores(["learn"])
    assert learn[0] > 0 and learn[1] > 0 and learn[2] == 0
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert np.allclose(loaded.scores(["graph", "learn"]), index.scores(["graph", "learn"]))
    assert list(loaded.fields["category"].docs("quant-ph")) == [2]
    assert list(loaded.fields["author"].docs("emile")) == [2]
    assert list(loaded.fields["title"].docs("fold")) == [1]


def test_unknown_terms_score_nothing() -> None:
    index = KeywordIndex.build(DOCS)
    assert not index.scores(["zzzz"]).any()
    assert index.idf("zzzz") == 0.0


def test_an_empty_corpus_builds_an_empty_index(tmp_path: Path) -> None:
    index = KeywordIndex.build([])
    assert index.n_docs == 0 and not index.scores(["graph"]).size
    index.save(tmp_path)
    assert KeywordIndex.load(tmp_path).scores(["graph"]).size == 0


def test_non_ascii_text_is_folded_like_ascii() -> None:
    assert fold("ÉTUDE des Réseaux") == "etude des reseaux"
    assert fold("Graph Networks") == "graph networks"
    full_width = "\uff26\uff55\uff4c\uff4c-width \ufb01ne-tuning"  # and an "fi" ligature
    assert analyse(full_width) == analyse("Full-width fine-tuning")
