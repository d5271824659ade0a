"""The delta scores exactly as the base: BM25 weights from the base's statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from dailypapers.index.keyword import IndexedDoc, KeywordIndex
from dailypapers.index.text import analyse


def _docs(rows: list[dict[str, Any]]) -> list[IndexedDoc]:
    return [IndexedDoc(r["title"], r["abstract"], r["authors"], r["categories"]) for r in rows]


def test_papers_weighed_with_an_index_statistics_score_as_inside_it(
    rows: list[dict[str, Any]],
) -> None:
    docs = _docs(rows)
    base = KeywordIndex.build(docs)
    # The same papers indexed on their own, with the base's statistics: the same weights.
    again = KeywordIndex.build(docs[10:20], base.statistics())
    for query in ("language models", rows[12]["title"], "graph neural network training"):
        terms = analyse(query)
        np.testing.assert_allclose(again.scores(terms), base.scores(terms)[10:20], rtol=1e-6)


def test_avgdl_is_kept_with_the_index(tmp_path: Any, rows: list[dict[str, Any]]) -> None:
    base = KeywordIndex.build(_docs(rows))
    base.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert loaded.avgdl == base.avgdl and loaded.avgdl
