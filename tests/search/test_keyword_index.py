"""BM25 checked against hand-computed values, and the analyser."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from dailypapers.index.keyword import K1, TITLE_WEIGHT, B, IndexedDoc, KeywordIndex, Terms
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


def test_a_saved_term_table_finds_what_the_dict_finds(tmp_path: Path) -> None:
    """Every term (prefixes of each other, non-ASCII, a lone surrogate, the empty string)
    maps to its id; neighbours in byte order and unknown terms map to nothing."""
    terms = ["a", "ab", "abc", "b", "", "zz", "é", "ée", "naïve", "日本", "\udc80x", "Z", "a b"]
    vocabulary = {term: tid for tid, term in enumerate(reversed(terms))}
    Terms.save(vocabulary, tmp_path, "v")
    table = Terms.load(tmp_path, "v")
    assert isinstance(table, Terms) and len(table) == len(vocabulary)
    for term, tid in vocabulary.items():
        assert table.get(term) == tid and table[term] == tid and term in table
    for unknown in ["aa", "abcd", "c", "zzz", "e", "日", " ", "A"]:
        assert table.get(unknown) is None and unknown not in table
        with pytest.raises(KeyError):
            table[unknown]
    assert sorted(table) == sorted(vocabulary, key=lambda t: t.encode("utf-8", "surrogatepass"))
    assert dict(table) == vocabulary
    Terms.save(table, tmp_path, "again")  # a loaded table saves the same files
    assert (tmp_path / "again.terms.npy").read_bytes() == (tmp_path / "v.terms.npy").read_bytes()


def test_an_empty_term_table(tmp_path: Path) -> None:
    Terms.save({}, tmp_path, "v")
    table = Terms.load(tmp_path, "v")
    assert len(table) == 0 and table.get("a") is None and list(table) == []


def test_indexes_saved_with_json_vocabularies_still_load(tmp_path: Path) -> None:
    """Builds made before the term tables (``NAME.vocabulary.json``) and int32 postings open
    and score the same."""
    index = KeywordIndex.build(DOCS)
    index.save(tmp_path)
    for name in ("bm25", "title", "author", "category"):
        table = Terms.load(tmp_path, name)
        for suffix in ("terms", "term_starts", "term_ids"):
            (tmp_path / f"{name}.{suffix}.npy").unlink()
        (tmp_path / f"{name}.vocabulary.json").write_text(json.dumps(dict(table)))
        indices = tmp_path / f"{name}.indices.npy"
        assert np.load(indices).dtype == np.int32  # saved compact now, int64 before
        np.save(indices, np.load(indices).astype(np.int64))
    old = KeywordIndex.load(tmp_path)
    assert isinstance(old.vocabulary, dict) and old.indices.dtype == np.int64
    assert np.array_equal(old.scores(["graph", "learn"]), index.scores(["graph", "learn"]))
    assert list(old.fields["author"].docs("emile")) == [2]


def test_holding_tells_which_documents_contain_a_term(tmp_path: Path) -> None:
    """``holding`` (word coverage in hybrid fusion) agrees with the posting lists, on a saved
    index (int32 document numbers, memory-mapped) and on a base joined with a delta."""
    from dailypapers.index.delta import _JoinedKeyword

    index = KeywordIndex.build(DOCS)
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    every = np.arange(3, dtype=np.int64)
    for built in (index, loaded):
        assert built.holding("learn", every).tolist() == [True, True, False]
        assert built.holding("learn", np.array([2, 0])).tolist() == [False, True]
        assert not built.holding("zzzz", every).any()
        assert built.holding("graph", np.empty(0, dtype=np.int64)).size == 0
    extra = KeywordIndex.build([IndexedDoc("Learning codes", "codes", [], ["cs.IT"])])
    joined = _JoinedKeyword(loaded, extra, np.empty(0, dtype=np.int64))
    both = np.array([0, 2, 3], dtype=np.int64)
    assert joined.holding("learn", both).tolist() == [True, False, True]
    assert joined.holding("code", both).tolist() == [False, True, True]
    assert joined.holding("learn", both).tolist() == [
        int(d) in set(joined.docs_with("learn").tolist()) for d in both
    ]


_WORDS = ["graph", "learning", "protein", "codes", "quantum", "network"]


@hyp_settings(max_examples=60, deadline=None, database=None)
@given(
    base=st.lists(st.lists(st.sampled_from(_WORDS), max_size=5), min_size=1, max_size=12),
    extra=st.lists(st.lists(st.sampled_from(_WORDS), max_size=5), max_size=6),
    picks=st.lists(st.integers(min_value=0, max_value=17), max_size=20),
)
def test_holding_agrees_with_the_documents_words(
    base: list[list[str]], extra: list[list[str]], picks: list[int]
) -> None:
    """Any documents, any candidates (repeated, unsorted): ``holding`` says exactly which
    candidates' text holds the word, on one index and on a base joined with a delta."""
    from dailypapers.index.delta import _JoinedKeyword

    def docs(texts: list[list[str]]) -> list[IndexedDoc]:
        return [IndexedDoc("", " ".join(words), [], []) for words in texts]

    texts = base + extra
    alone = KeywordIndex.build(docs(texts))
    joined = _JoinedKeyword(
        KeywordIndex.build(docs(base)), KeywordIndex.build(docs(extra)), np.empty(0, np.int64)
    )
    candidates = np.array([p % len(texts) for p in picks], dtype=np.int64)
    for word in [*_WORDS, "absent"]:
        term = analyse(word)[0]
        expected = [term in analyse(" ".join(texts[c])) for c in candidates]
        assert alone.holding(term, candidates).tolist() == expected
        assert joined.holding(term, candidates).tolist() == expected
