"""For you: picks with reasons, cold start from the first follow, "not interested" feedback,
the JSON twin, and the pure ranking function."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import Engine

from dailypapers.index.text import analyse
from dailypapers.ranking import foryou
from tests.foryou.conftest import vector

PICK = re.compile(r'<div class="pick" data-paper-id="([^"]+)"')


def _follow(member: Any, kind: str, value: str) -> None:
    data = {"csrf_token": member.csrf("/follows"), "kind": kind, "value": value}
    assert member.client.post("/follows", data=data).status_code == 303


def _picks(member: Any) -> list[str]:
    page = member.client.get("/for-you")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "private, no-store"
    return PICK.findall(page.text)


def test_cold_start_from_the_first_follow(make_member: Any, corpus: dict[str, list[str]]) -> None:
    ada = make_member("ada")
    assert _picks(ada) == []
    assert "Follow a category" in ada.client.get("/for-you").text
    _follow(ada, "category", "cs.CL")
    picks = _picks(ada)
    assert set(picks) == set(corpus["language"][:4])  # only the recent ones, nothing else
    assert "in cs.CL, which you follow" in ada.client.get("/for-you").text


def test_every_kind_of_follow_gives_its_reason(
    make_member: Any, corpus: dict[str, list[str]]
) -> None:
    ada, bob = make_member("ada"), make_member("bob")
    _follow(ada, "author", "grace hopper")
    _follow(ada, "keyword", "Graph neural networks")
    _follow(ada, "user", "bob")
    text = ada.client.get("/for-you").text
    assert "by Grace Hopper, an author you follow" in text
    assert "matches your keyword &#34;Graph neural networks&#34;" in text or (
        "matches your keyword &quot;Graph neural networks&quot;" in text
    )
    picks = _picks(ada)
    assert picks[0] == corpus["speech"][2]  # the author outranks a keyword
    assert set(corpus["graph"][:4]) <= set(picks)
    del bob


def test_upvotes_pick_similar_papers_and_not_interested_changes_the_picks(
    make_member: Any, corpus: dict[str, list[str]], api_token: Any, client: TestClient
) -> None:
    ada = make_member("ada")
    old_graph = corpus["graph"][4]
    csrf = ada.csrf("/")
    voted = ada.client.post(
        f"/papers/{old_graph}/upvote", data={"csrf_token": csrf, "action": "up", "next": "/"}
    )
    assert voted.status_code == 303
    picks = _picks(ada)
    assert picks[:4] == picks[:4] and set(picks[:4]) == set(corpus["graph"][:4])
    text = ada.client.get("/for-you").text
    assert "which you upvoted" in text and "Graph neural networks on molecules part 4" in text
    # Not interested in the first pick: it leaves, and stays gone.
    first = picks[0]
    answer = ada.client.post(
        "/for-you/not-interested", data={"csrf_token": csrf, "paper": first, "next": "/for-you"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/for-you"
    after = _picks(ada)
    assert first not in after
    # The API sees the same picks, with reasons, and can take the mark back.
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    body = client.get("/api/for-you", headers=auth).json()
    assert [item["paper"]["id"] for item in body["items"]] == after
    assert all(item["reasons"] for item in body["items"])
    assert body["coldStart"] is False and body["positives"] == 1
    undo = client.delete(f"/api/papers/{first}/not-interested", headers=auth)
    assert undo.status_code == 200 and undo.json() == {"paperId": first, "notInterested": False}
    assert first in _picks(ada)
    again = client.post(f"/api/papers/{first}/not-interested", headers=auth)
    assert again.status_code == 200 and again.json()["notInterested"] is True
    assert first not in [
        i["paper"]["id"] for i in client.get("/api/for-you", headers=auth).json()["items"]
    ]


def test_for_you_refuses_bad_input(
    make_member: Any, corpus: dict[str, list[str]], api_token: Any, client: TestClient
) -> None:
    ada = make_member("ada")
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    assert client.get("/api/for-you").status_code == 401
    for query in ("days=0", "days=100000", "days=x", "limit=0", "limit=1000"):
        assert client.get(f"/api/for-you?{query}", headers=auth).status_code == 422, query
        assert 400 <= ada.client.get(f"/for-you?{query.replace('limit', 'days')}").status_code < 500
    assert client.post("/api/papers/2999.99999/not-interested", headers=auth).status_code == 404
    assert client.post("/api/papers/..%2Fetc/not-interested", headers=auth).status_code in (
        404,
        422,
    )
    csrf = ada.csrf("/")
    for paper in ("", "not-an-id", "x" * 64, "2999.99999"):
        answer = ada.client.post(
            "/for-you/not-interested", data={"csrf_token": csrf, "paper": paper}
        )
        assert 400 <= answer.status_code < 500, paper
    no_csrf = ada.client.post("/for-you/not-interested", data={"paper": corpus["graph"][0]})
    assert no_csrf.status_code == 403


def test_for_you_rate_limit(
    make_member: Any, api_token: Any, client: TestClient, settings: Any, corpus: Any
) -> None:
    client.app.state.settings = settings.model_copy(update={"rate_limit_for_you": "1/minute"})  # type: ignore[attr-defined]
    ada = make_member("ada")
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    assert client.get("/api/for-you", headers=auth).status_code == 200
    assert client.get("/api/for-you", headers=auth).status_code == 429


# The ranking function alone (no database).


def _candidates() -> tuple[list[foryou.Candidate], np.ndarray]:
    papers, rows = [], []
    for n, (axis, cats) in enumerate(
        [(0, ("cs.LG",)), (0, ("cs.LG",)), (1, ("cs.SD",)), (2, ("cs.CL",))]
    ):
        papers.append(
            foryou.Candidate(f"p{n}", f"title {n}", "abstract", (f"Author {n}",), cats, age_days=n)
        )
        rows.append(vector(axis, n))
    return papers, np.stack(rows)


def test_ranking_prefers_what_the_member_liked() -> None:
    papers, matrix = _candidates()
    profile = foryou.Profile(
        positives=[foryou.Positive("old", "An old graph paper", "saved")],
        positive_vectors=np.stack([vector(0, 9)]),
    )
    picks = foryou.recommend(profile, papers, matrix, limit=4)
    assert [p.id for p in picks][:2] == ["p0", "p1"]
    assert picks[0].reasons[0] == 'similar to "An old graph paper", which you saved'


def test_ranking_negatives_push_similar_papers_down() -> None:
    papers, matrix = _candidates()
    liked = foryou.Profile(
        positives=[foryou.Positive("a", "A", "upvoted"), foryou.Positive("b", "B", "upvoted")],
        positive_vectors=np.stack([vector(0, 8), vector(1, 9)]),
    )
    before = {p.id: p.score for p in foryou.recommend(liked, papers, matrix)}
    liked.negative_vectors = np.stack([vector(1, 7)])
    liked.excluded = frozenset({"p2"})
    after = {p.id: p.score for p in foryou.recommend(liked, papers, matrix)}
    assert "p2" not in after and before["p2"] > min(before.values())


def test_ranking_cold_start_and_empty() -> None:
    papers, matrix = _candidates()
    assert foryou.recommend(foryou.Profile(), papers, matrix) == []
    picks = foryou.recommend(foryou.Profile(categories=["cs"]), papers, matrix)
    assert {p.id for p in picks} == {"p0", "p1", "p2", "p3"}  # an archive follows its categories
    picks = foryou.recommend(foryou.Profile(categories=["cs.CL"]), papers, matrix)
    assert [p.id for p in picks] == ["p3"] and picks[0].reasons == ["in cs.CL, which you follow"]


def test_ranking_is_bounded_for_thousands_of_positives() -> None:
    papers, matrix = _candidates()
    rng = np.random.default_rng(1)
    many = rng.normal(size=(5000, matrix.shape[1])).astype(np.float32)
    profile = foryou.Profile(
        positives=[foryou.Positive(f"x{i}", f"X{i}", "imported") for i in range(5000)],
        positive_vectors=many,
    )
    picks = foryou.recommend(profile, papers, matrix)
    assert len(picks) == 4 and all(p.reasons for p in picks)


@pytest.mark.parametrize("days", [1, 30, 90])
def test_the_window_is_configurable(
    make_member: Any, corpus: dict[str, list[str]], days: int, engine: Engine
) -> None:
    ada = make_member("ada")
    _follow(ada, "category", "cs.CL")
    page = ada.client.get(f"/for-you?days={days}")
    assert page.status_code == 200
    found = set(PICK.findall(page.text))
    assert found == (set(corpus["language"][:1]) if days == 1 else set(corpus["language"][:4]))


def test_saved_and_imported_papers_seed_for_you(
    make_member: Any, corpus: dict[str, list[str]], engine: Engine
) -> None:
    import datetime as dt

    from sqlalchemy import insert

    from dailypapers.storage import lists
    from dailypapers.storage.schema import library_entries, library_imports

    ada = make_member("ada")
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        list_id = lists.create_list(
            conn=conn, user_id=ada.id, name="Reading", token="t" * 22, visibility="private"
        )
        lists.save_paper(conn=conn, list_id=list_id, paper_id=corpus["speech"][4])
        import_id = conn.execute(
            insert(library_imports)
            .values(
                user_id=ada.id,
                filename="zotero.bib",
                status="done",
                created_at=now,
                updated_at=now,
            )
            .returning(library_imports.c.id)
        ).scalar_one()
        conn.execute(
            insert(library_entries).values(
                import_id=import_id,
                user_id=ada.id,
                position=0,
                kind="article",
                title="Language models part 4",
                abstract="",
                authors=[],
                paper_id=corpus["language"][4],
            )
        )
    text = ada.client.get("/for-you").text
    assert "which you saved" in text and "which you imported" in text
    picks = _picks(ada)
    assert set(picks[:8]) == set(corpus["speech"][:4]) | set(corpus["language"][:4])


def test_unmatched_library_entries_count_through_their_words(
    make_member: Any, corpus: dict[str, list[str]], engine: Engine
) -> None:
    import datetime as dt

    from sqlalchemy import insert

    from dailypapers.storage.schema import library_entries, library_imports

    ada = make_member("ada")
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        import_id = conn.execute(
            insert(library_imports)
            .values(
                user_id=ada.id, filename="my.bib", status="done", created_at=now, updated_at=now
            )
            .returning(library_imports.c.id)
        ).scalar_one()
        conn.execute(
            insert(library_entries),
            [
                {
                    "import_id": import_id,
                    "user_id": ada.id,
                    "position": n,
                    "kind": "article",
                    "title": title,
                    "abstract": "Robust speech recognition for noisy audio recordings.",
                    "authors": [],
                    "paper_id": None,
                }
                for n, title in enumerate(["Noisy speech", "Speech recognition in the wild"])
            ],
        )
    text = ada.client.get("/for-you").text
    assert "like papers in the library you imported" in text
    assert set(_picks(ada)) == set(corpus["speech"][:4])  # nothing about graphs or language


def test_an_upvoted_papers_words_rank_the_papers_that_share_them_first(
    make_member: Any, corpus: dict[str, list[str]], engine: Engine, api_token: Any, client: Any
) -> None:
    """Two new papers as close by embedding to an upvoted one: the one sharing its words (a
    method's name the small model blurs) comes first, though the other is newer."""
    import datetime as dt

    from dailypapers.ingest.pipeline import run_ingest
    from dailypapers.storage import embeddings
    from tests.core.helpers import raw
    from tests.foryou.conftest import MODEL

    today = dt.datetime.now(dt.UTC).date()
    papers = {  # id: (days ago, title, abstract, jitter)
        "2606.09001": (200, "Zeolite sieves for capture", "Zeolite frameworks adsorb CO2.", 20),
        "2606.09002": (3, "Porous zeolite membranes", "Zeolite frameworks separate gases.", 21),
        "2606.09003": (0, "A survey of catalysts", "Metal catalysts in industry.", 22),
    }
    records = [
        raw(
            pid,
            title=title,
            abstract=abstract,
            categories=["physics.chem-ph"],
            day=(today - dt.timedelta(days=ago)).isoformat(),
            published=f"{today - dt.timedelta(days=ago)}T01:00:00Z",
        )
        for pid, (ago, title, abstract, _) in papers.items()
    ]
    run_ingest(
        engine=engine, source="t", params={"fixture": "words"}, records=lambda _: records,
        explicit_days=True,
    )  # fmt: skip
    with engine.begin() as conn:
        embeddings.store(
            conn=conn,
            model=MODEL,
            items=[(pid, "h") for pid in papers],
            vectors=np.stack([vector(5, jitter) for *_, jitter in papers.values()]),
        )
    ada = make_member("ada")
    voted = ada.client.post(
        "/papers/2606.09001/upvote",
        data={"csrf_token": ada.csrf("/"), "action": "up", "next": "/"},
    )
    assert voted.status_code == 303
    picks = _picks(ada)
    assert picks[:2] == ["2606.09002", "2606.09003"]
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    items = client.get("/api/for-you", headers=auth).json()["items"]
    assert [item["paper"]["id"] for item in items][:2] == picks[:2]


def test_ranking_words_move_only_with_their_weight() -> None:
    from dataclasses import replace

    papers = [
        foryou.Candidate("new", "A survey of catalysts", "Metal catalysts.", (), ("cs.LG",)),
        foryou.Candidate("old", "Zeolite membranes", "Zeolite frameworks.", (), ("cs.LG",)),
    ]
    papers[1] = replace(papers[1], age_days=3.0)
    matrix = np.stack([vector(0, 1), vector(0, 2)])
    terms = foryou.term_matrix([Counter(analyse(f"{p.title} {p.abstract}")) for p in papers])
    profile = foryou.Profile(
        positives=[foryou.Positive("z", "Zeolite sieves", "saved")],
        positive_vectors=np.stack([vector(0, 3)]),
        positive_words=Counter(analyse("Zeolite sieves. Zeolite frameworks adsorb CO2.")),
    )
    ranked = foryou.recommend(profile, papers, matrix, terms=terms)
    assert [p.id for p in ranked] == ["old", "new"]
    weights = replace(foryou.WEIGHTS, words=0.0)
    ranked = foryou.recommend(profile, papers, matrix, terms=terms, weights=weights)
    assert [p.id for p in ranked] == ["new", "old"]  # equal otherwise: the newer first


@examples(max_examples=200, deadline=None)
@given(
    docs=st.lists(
        st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 5), max_size=6), max_size=8
    ),
    query=st.dictionaries(st.sampled_from("abcdefghij"), st.integers(1, 5), max_size=6),
)
def test_term_matrix_gives_the_tf_idf_cosine(
    docs: list[dict[str, int]], query: dict[str, int]
) -> None:
    """The sparse rows give what tf-idf cosine written out term by term gives: empty
    documents, terms no candidate holds and an empty query included."""
    terms = foryou.term_matrix(docs)
    n = len(docs)
    df = Counter(t for doc in docs for t in doc)
    idf = {t: math.log((n + 1) / (k + 1)) + 1 for t, k in df.items()}

    def unit(counts: dict[str, int]) -> dict[str, float]:
        weights = {t: c * idf[t] for t, c in counts.items() if t in idf}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {t: w / norm for t, w in weights.items()} if norm else {}

    wanted = unit(query)
    expected = [sum(w * wanted.get(t, 0.0) for t, w in unit(doc).items()) for doc in docs]
    got = terms.similarity(terms.unit(query))
    assert len(terms) == n and got.shape == (n,)
    np.testing.assert_allclose(got, expected, atol=1e-5)
