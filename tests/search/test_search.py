"""Search through the page, the JSON API and the CLI, on both backends, with the real model."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.cli import cli
from dailypapers.index.build import build, run_index
from dailypapers.index.snapshot import SnapshotStore
from dailypapers.queries.search import Filters, Searcher
from dailypapers.ranking import hybrid
from dailypapers.settings import Settings
from tests.search.conftest import CORPUS_SIZE, Corpus, Memoised, ingest_rows, sample_records


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [item["paper"]["id"] for item in response.json()]


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_a_title_finds_its_paper_first(client: TestClient, corpus: Corpus, mode: str) -> None:
    for paper in corpus.papers[:3]:
        found = ids(client.get("/api/papers/search", params={"q": paper["title"], "mode": mode}))
        assert found[0] == paper["id"], (mode, paper["title"])


def test_api_shape_and_paging(client: TestClient, corpus: Corpus) -> None:
    response = client.get("/api/papers/search", params={"q": "language models", "limit": 5})
    items = response.json()
    assert len(items) == 5
    first = items[0]
    assert {"paper", "title", "summary", "publishedAt", "score"} <= set(first)
    assert first["paper"]["authors"] and "upvotes" in first["paper"]
    page2 = ids(
        client.get("/api/papers/search", params={"q": "language models", "limit": 5, "p": 1})
    )
    assert not set(page2) & {i["paper"]["id"] for i in items}


def test_filters(client: TestClient, corpus: Corpus) -> None:
    category = corpus.papers[0]["primary_category"]
    found = ids(client.get("/api/papers/search", params={"q": "learning", "category": category}))
    assert found and all(category in corpus.by_id(i)["categories"] for i in found)
    in_query = ids(client.get("/api/papers/search", params={"q": f"learning cat:{category}"}))
    assert set(in_query) == set(found)
    # Category names match whatever their case; an archive holds its categories.
    folded = ids(client.get("/api/papers/search", params={"q": f"learning cat:{category.lower()}"}))
    assert set(folded) == set(found)
    archive = category.split(".")[0]
    in_archive = ids(client.get("/api/papers/search", params={"q": f"learning cat:{archive}"}))
    assert in_archive and all(
        any(c.startswith(f"{archive}.") for c in corpus.by_id(i)["categories"]) for i in in_archive
    )
    upper = ids(client.get("/api/papers/search", params={"q": f"learning cat:{archive.upper()}"}))
    assert upper == in_archive
    author = corpus.papers[1]["authors"][0]
    by_author = ids(client.get("/api/papers/search", params={"q": "", "author": author}))
    assert corpus.papers[1]["id"] in by_author
    assert all(
        any(author.lower() in a.lower() for a in corpus.by_id(i)["authors"]) for i in by_author
    )
    # Every word of an author filter must belong to the same person.
    paper = next(p for p in corpus.papers if len(p["authors"]) >= 2)
    first, second = paper["authors"][0].split()[0], paper["authors"][1].split()[-1]
    mixed = ids(client.get("/api/papers/search", params={"q": "", "author": f"{first} {second}"}))
    assert paper["id"] not in mixed
    last_day = corpus.papers[0]["day"]
    recent = ids(client.get("/api/papers/search", params={"q": "model", "from": last_day}))
    assert recent and all(corpus.by_id(i)["day"] >= last_day for i in recent)
    old = ids(client.get("/api/papers/search", params={"q": "model", "to": "2026-05-01"}))
    assert old and all(corpus.by_id(i)["day"] <= "2026-05-01" for i in old)
    nothing = client.get("/api/papers/search", params={"q": "model", "category": "nope.XX"})
    assert nothing.json() == []


def test_an_author_filter_finds_the_papers_past_the_nearest_fused(
    client: TestClient, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Author names are checked after ranking, among papers that only hold their words; with
    words the papers lack, only the embeddings bring them, so hybrid fuses more of the
    nearest there (at 1M papers 100 left three of 361 bench author searches empty)."""
    monkeypatch.setattr(hybrid, "NEAREST", 1)  # one nearest, where authors are not checked
    theirs = {p["id"] for p in corpus.papers if "Olivier Gevaert" in p["authors"]}
    assert len(theirs) == 2
    params = {"q": "lattice chromodynamics", "author": "Olivier Gevaert"}
    assert set(ids(client.get("/api/papers/search", params=params))) == theirs


def test_phrases_and_exclusions(client: TestClient, corpus: Corpus) -> None:
    paper = corpus.papers[4]
    words = paper["abstract"].split()[3:7]
    phrase = " ".join(w.strip(".,;:()") for w in words)
    found = ids(client.get("/api/papers/search", params={"q": f'"{phrase}"', "mode": "keyword"}))
    assert paper["id"] in found
    reversed_phrase = " ".join(reversed(phrase.split()))
    swapped = ids(
        client.get("/api/papers/search", params={"q": f'"{reversed_phrase}"', "mode": "keyword"})
    )
    assert paper["id"] not in swapped
    with_word = ids(client.get("/api/papers/search", params={"q": "language"}))
    without = ids(client.get("/api/papers/search", params={"q": "language -model"}))
    assert without and len(without) < len(with_word)
    for pid in without:
        text = (corpus.by_id(pid)["title"] + " " + corpus.by_id(pid)["abstract"]).lower()
        assert "model" not in text.replace("models", "model").split()


def test_sorting(client: TestClient, corpus: Corpus) -> None:
    by_date = ids(client.get("/api/papers/search", params={"q": "learning", "sort": "date"}))
    days = [corpus.by_id(i)["day"] for i in by_date]
    assert days == sorted(days, reverse=True)
    assert ids(client.get("/api/papers/search", params={"q": "learning", "sort": "upvotes"}))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "the of and",
        "!!! ??? ...",
        'unbalanced "quote',
        "NEAR(a b) * ^ : OR",
        "x* AND y^2",
        "'; DROP TABLE papers; --",
        "🙂🚀 ünïcødé 数学",
        "a" * 10_000,
        "author:",
        "cat:",
        "::",
        "cat:unknown.XX",
        "-everything",
    ],
)
def test_odd_queries_never_fail(client: TestClient, corpus: Corpus, query: str) -> None:
    api = client.get("/api/papers/search", params={"q": query})
    assert api.status_code == 200 and isinstance(api.json(), list)
    page = client.get("/search", params={"q": query})
    assert page.status_code == 200 and "Search papers" in page.text


@pytest.mark.parametrize(
    "params", [{"mode": "fuzzy"}, {"sort": "random"}, {"limit": 0}, {"p": -1}, {"from": "June"}]
)
def test_invalid_api_parameters_are_422(client: TestClient, corpus: Corpus, params: dict) -> None:  # type: ignore[type-arg]
    response = client.get("/api/papers/search", params={"q": "x", **params})
    assert response.status_code == 422 and response.json()["error"]


def test_search_page_highlights_and_filters(client: TestClient, corpus: Corpus) -> None:
    page = client.get("/search", params={"q": "language", "sort": "date", "from": "2026-01-01"})
    assert page.status_code == 200
    assert "<mark>" in page.text and "results" in page.text
    assert 'value="language"' in page.text
    escaped = client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in escaped.text


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("from", "bad-date", "from must look like YYYY-MM-DD, got &#39;bad-date&#39;"),
        ("to", "2026-13-01", "to must look like YYYY-MM-DD, got &#39;2026-13-01&#39;"),
        ("from", "1800-01-01", "from: dates must lie between 1900-01-01 and 2999-12-31"),
    ],
)
def test_a_bad_date_is_a_400_that_says_which(
    client: TestClient, corpus: Corpus, name: str, value: str, said: str
) -> None:
    """Not silently left out: the page keeps the form filled in and names the date, the
    search's feeds refuse it, and the API answers 422 (above)."""
    page = client.get("/search", params={"q": "language", name: value})
    assert page.status_code == 400
    assert said in page.text and 'value="language"' in page.text
    assert f'value="{value}"' in page.text and "<mark>" not in page.text
    feed = client.get("/feeds/search.atom", params={"q": "language", name: value})
    assert feed.status_code == 400 and said.replace("&#39;", "'") in feed.text


def test_without_an_index_search_says_how_to_build_it(client: TestClient, engine: Engine) -> None:
    api = client.get("/api/papers/search", params={"q": "anything"})
    assert api.status_code == 503 and "dailypapers index" in api.json()["error"]
    assert "dailypapers index" in client.get("/search", params={"q": "anything"}).text


def test_related_papers(client: TestClient, corpus: Corpus) -> None:
    paper = corpus.papers[0]
    related = client.get(f"/api/papers/{paper['id']}/similar", params={"limit": 4}).json()
    assert len(related) == 4 and paper["id"] not in [r["id"] for r in related]
    assert "Related papers" in client.get(f"/papers/{paper['id']}").text
    assert client.get("/api/papers/2101.99999/similar").status_code == 404
    assert client.get("/api/papers/nonsense/similar").status_code == 422


def test_cli_index_and_search(cli_env: dict[str, str], engine: Engine, corpus: Corpus) -> None:
    runner = CliRunner()
    again = runner.invoke(cli, ["index", "--no-progress"])
    assert again.exit_code == 0 and "embedded 0 papers" in again.output
    title = corpus.papers[2]["title"]
    result = runner.invoke(cli, ["search", title, "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert '"id": "' + corpus.papers[2]["id"] in result.stdout
    plain = runner.invoke(cli, ["search", title, "--mode", "keyword"])
    assert plain.exit_code == 0 and corpus.papers[2]["id"] in plain.stdout


def test_cli_indexes_and_searches_on_the_openvino_engine(
    cli_env: dict[str, str], engine: Engine, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILYPAPERS_EMBEDDING_ENGINE", "openvino")
    known = {paper["id"] for paper in corpus.papers}
    new = [row for row in sample_records(CORPUS_SIZE + 3) if row["id"] not in known]
    ingest_rows(engine, new, key="more")
    runner = CliRunner()
    indexed = runner.invoke(cli, ["index", "--no-progress"])
    assert indexed.exit_code == 0 and f"embedded {len(new)} papers" in indexed.output
    # Papers embedded by OpenVINO, queries too, beside the corpus's ONNX Runtime vectors.
    for paper in [new[0], corpus.papers[2]]:
        found = runner.invoke(cli, ["search", paper["title"], "--mode", "semantic", "--json"])
        assert found.exit_code == 0, found.output
        assert json.loads(found.stdout)[0]["paper"]["id"] == paper["id"]


def test_cli_refuses_an_engine_it_cannot_run(
    cli_env: dict[str, str],
    corpus: Corpus,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("DAILYPAPERS_EMBEDDING_ENGINE", "tensorflow")
    result = CliRunner().invoke(cli, ["search", "graph neural networks"])
    assert result.exit_code == 1 and "invalid setting embedding_engine" in result.output
    monkeypatch.setenv("DAILYPAPERS_EMBEDDING_ENGINE", "openvino")
    request.getfixturevalue("without_openvino")
    result = CliRunner().invoke(cli, ["search", "graph neural networks"])
    assert result.exit_code == 1, result.output
    assert "pip install 'dailypapers[openvino]'" in result.output
    assert "Traceback" not in result.output


def test_cli_search_without_index(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["search", "anything", "--mode", "keyword"])
    assert result.exit_code == 1 and "dailypapers index" in result.output


def test_searching_while_the_index_is_rebuilt(
    engine: Engine, settings: Settings, corpus: Corpus, embedder: Memoised
) -> None:
    searcher = Searcher(SnapshotStore(settings.index_dir), embedder)
    errors: list[BaseException] = []
    done = threading.Event()

    def rebuild() -> None:
        try:
            for _ in range(3):
                build(engine=engine, root=settings.index_dir, model=embedder.key)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=rebuild)
    thread.start()
    searches = 0
    while not done.is_set() or searches < 5:
        with engine.connect() as conn:
            result = searcher.search(
                conn=conn, q="language model", filters=Filters(date_from=dt.date(2026, 1, 1))
            )
        assert result.hits, result.message
        searches += 1
    thread.join()
    assert not errors


@pytest.mark.parametrize("vector_search", ["auto", "pgvector"])
def test_where_semantic_candidates_come_from(
    engine: Engine,
    settings: Settings,
    corpus: Corpus,
    embedder: Memoised,
    monkeypatch: pytest.MonkeyPatch,
    vector_search: str,
) -> None:
    """With a graph in the snapshot, ``auto`` never asks pgvector; ``pgvector`` asks it for
    unfiltered searches on PostgreSQL; both find the same papers."""
    from dailypapers.index import ann
    from dailypapers.storage import embeddings

    monkeypatch.setattr(ann, "MIN_DOCS", 10)
    build(engine=engine, root=settings.index_dir, model=embedder.key)
    asked: list[int] = []
    original = embeddings.pg_nearest

    def counting(**kwargs: Any) -> list[tuple[str, float]]:
        asked.append(kwargs["limit"])
        return original(**kwargs)

    monkeypatch.setattr(embeddings, "pg_nearest", counting)
    store = SnapshotStore(settings.index_dir)
    snapshot = store.current()
    assert snapshot is not None and snapshot.ann is not None
    # Rows come from the graph's own float16 copy; vectors.npy stays unread (ann.GraphRows).
    assert isinstance(snapshot.vectors, ann.GraphRows)
    searcher = Searcher(store, embedder, vector_search)  # type: ignore[arg-type]
    exact = Searcher(store, embedder)
    exact_snapshot_ann = snapshot.ann
    question = "How well do large language models reason about mathematics?"
    with engine.connect() as conn:
        got = searcher.search(conn=conn, q=question, mode="semantic", limit=10)
        snapshot.ann = None  # the same search by exact scan (or pgvector, on PostgreSQL)
        monkeypatch.setattr(embeddings, "pg_nearest", original)
        reference = exact.search(conn=conn, q=question, mode="semantic", limit=10)
        snapshot.ann = exact_snapshot_ann
    on_postgres = engine.dialect.name == "postgresql"
    assert bool(asked) == (on_postgres and vector_search == "pgvector")
    assert [h.row["id"] for h in got.hits][:5] == [h.row["id"] for h in reference.hits][:5]


def test_semantic_pages_rank_only_what_they_show(
    engine: Engine,
    settings: Settings,
    corpus: Corpus,
    embedder: Memoised,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A semantic page within the first ``SEMANTIC_SHALLOW`` papers ranks only those, deeper
    pages rank ``MAX_RESULTS``; the pages join up and all report the same total."""
    from dailypapers.queries import search as module

    monkeypatch.setattr(module, "SEMANTIC_SHALLOW", 10)
    depths: list[int] = []
    original = Searcher._semantic

    def recording(self: Searcher, *args: Any) -> Any:
        depths.append(args[-1])
        return original(self, *args)

    monkeypatch.setattr(Searcher, "_semantic", recording)
    searcher = Searcher(SnapshotStore(settings.index_dir), embedder)  # type: ignore[arg-type]
    question = "How well do large language models reason about mathematics?"
    with engine.connect() as conn:
        every = searcher.search(conn=conn, q=question, mode="semantic", limit=60)
        pages = [
            searcher.search(conn=conn, q=question, mode="semantic", limit=5, page=page)
            for page in range(4)
        ]
        dated = searcher.search(conn=conn, q=question, mode="semantic", limit=5, sort="date")
        in_category = searcher.search(
            conn=conn,
            q=question,
            mode="semantic",
            limit=5,
            filters=Filters(category=corpus.papers[0]["primary_category"]),
        )
    deep = module.MAX_RESULTS
    # All 60 at once, pages 0 and 1 (within 10), pages 2 and 3, by date, in a category.
    assert depths == [deep, 10, 10, deep, deep, deep, 10]
    shown = [hit.row["id"] for page in pages for hit in page.hits]
    assert shown == [hit.row["id"] for hit in every.hits][:20]
    assert every.total == len(corpus.papers)
    assert {page.total for page in pages} == {every.total} == {dated.total}
    expected = sum(
        corpus.papers[0]["primary_category"] in paper["categories"] for paper in corpus.papers
    )
    assert in_category.total == expected


def test_an_author_filter_needs_all_its_words_in_one_name() -> None:
    """The check behind ``author:`` (folded words, not substrings; one person), also in the
    author lists of large collaborations, which it passes over without splitting each name."""
    from dailypapers.queries.search import _one_author_has

    assert _one_author_has(["Yann LeCun", "Léon Bottou"], ["leon", "bottou"])
    assert not _one_author_has(["Yann Bottou", "Léon LeCun"], ["leon", "bottou"])
    assert not _one_author_has(["Dina Zhuang"], ["di", "zhu"])  # substrings are not words
    assert _one_author_has(["Zhū Dí"], ["di", "zhu"])  # accents folded, any order
    collaboration = [f"Author{i} Member" for i in range(3000)]
    assert _one_author_has([*collaboration, "Di Zhu"], ["di", "zhu"])
    assert not _one_author_has([*collaboration, "Di Zhuang", "Zhu Wei"], ["di", "zhu"])
    assert not _one_author_has([*collaboration, "Dí Zhuang"], ["di", "zhu"])


def test_a_semantic_page_without_a_vector_counts_its_keyword_results(
    engine: Engine,
    settings: Settings,
    corpus: Corpus,
    embedder: Memoised,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the node's model unavailable, semantic mode answers with keyword results, and
    their total is theirs (not the total that ranking every paper by similarity gives)."""
    from dailypapers.index.embed_service import EmbeddingUnavailable
    from dailypapers.queries import search as module

    class Unavailable:
        key, dim = embedder.key, embedder.dim

        def embed(self, texts: list[str]) -> Any:
            raise EmbeddingUnavailable("the embedding service is restarting")

    store = SnapshotStore(settings.index_dir)
    question = "language models reasoning"
    with engine.connect() as conn:
        keyword = Searcher(store, embedder).search(conn=conn, q=question, mode="keyword")  # type: ignore[arg-type]
        assert 0 < keyword.total < len(corpus.papers)
        monkeypatch.setattr(module, "SEMANTIC_SHALLOW", keyword.total)
        fallback = Searcher(store, Unavailable()).search(  # type: ignore[arg-type]
            conn=conn, q=question, mode="semantic", limit=5
        )
    assert [h.row["id"] for h in fallback.hits] == [h.row["id"] for h in keyword.hits][:5]
    assert fallback.total == keyword.total


# Real papers of the arXiv daily feed (tests/fixtures/arxiv-daily-feed-lookup): two lookups
# of the known-item sets (bench/README.md, "Word coverage"), each with the paper that came
# first in hybrid search before word coverage: the only paper holding both words of
# "cellular automaton" names one in passing, and a review of neural cellular automata holds
# one of them; a title remembered without "Split-Text", and a paper on the same topic whose
# title lacks one of its words.
LOOKUPS = Path(__file__).parents[1] / "fixtures" / "arxiv-daily-feed-lookup" / "papers.jsonl"
TITLE_PAIR = ("2505.19261", "2602.09268")


def _lookup_papers() -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in LOOKUPS.read_text().splitlines()]
    return {
        row["id"]: {
            **row,
            "published": f"{row['first_seen']}T00:00:00+00:00",
            "day": row["first_seen"],
        }
        for row in rows
    }


@pytest.mark.parametrize(
    ("query", "target", "rival"),
    [
        ("cellular automaton", "2603.05071", "2604.24990"),
        ("Enhancing Text-to-Image Diffusion Transformer via Conditioning", *TITLE_PAIR),
    ],
)
def test_a_lookup_keeps_the_paper_holding_every_word_first(
    engine: Engine,
    settings: Settings,
    corpus: Corpus,
    embedder: Memoised,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    target: str,
    rival: str,
) -> None:
    """BM25 is scaled by which of the query's words each paper holds, so hybrid does not lose
    a lookup that keyword search wins (issue 10); without it, the other paper came first."""
    papers = _lookup_papers()
    ingest_rows(engine, [papers[target], papers[rival]], key="lookup")
    run_index(engine=engine, root=settings.index_dir, embedder=embedder)
    searcher = Searcher(SnapshotStore(settings.index_dir), embedder)

    def first(mode: str) -> str:
        with engine.connect() as conn:
            found = searcher.search(conn=conn, q=query, mode=mode, limit=3)  # type: ignore[arg-type]
        return str(found.hits[0].row["id"])

    assert first("keyword") == target
    assert first("hybrid") == target
    monkeypatch.setattr(hybrid, "COVERAGE_POWER", 0.0)
    monkeypatch.setattr(hybrid, "MISSING_A_WORD", 1.0)
    assert first("hybrid") == rival
