"""Author pages, category pages and filters, and charts, through the in-process client on
both backends: content, JSON twins, 400/404 with links, HEAD, hostile input, query counts."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.settings import Settings
from dailypapers.storage.schema import papers, users, votes
from dailypapers.web.app import create_app
from tests.core.helpers import raw
from tests.core.test_web import count_queries, load

JAN = ["Jan Müller", "Ada Lovelace"]


@pytest.fixture
def site(engine: Engine) -> Engine:
    """Papers over three days and two months by a few authors in cs.CL, cs.LG and hep-th."""
    load(
        engine,
        [
            raw(
                "2605.00001",
                day="2026-05-04",
                published="2026-05-04T10:00:00Z",
                authors=["Jan Müller", "Alan Turing"],
                categories=["cs.CL"],
            ),
            raw(
                "2606.00001",
                day="2026-06-01",
                published="2026-06-01T10:00:00Z",
                authors=["J. Muller", "Alan Turing"],
                categories=["cs.LG", "stat.ML"],
            ),
            raw(
                "2606.00002",
                day="2026-06-01",
                published="2026-06-01T11:00:00Z",
                authors=["Müller, Jan", "Grace Hopper"],
                categories=["cs.CL", "cs.LG"],
            ),
            raw(
                "2606.00003",
                day="2026-06-02",
                published="2026-06-02T10:00:00Z",
                authors=["Kurt Gödel"],
                categories=["hep-th"],
            ),
            raw(
                "2606.00004",
                day="2026-06-03",
                published="2026-06-03T10:00:00Z",
                authors=["Jens Mueller", "Ada Lovelace"],
                categories=["cs.CV"],
                upvotes=3,
            ),
        ],
    )
    return engine


def test_author_page_groups_spellings_newest_first(client: TestClient, site: Engine) -> None:
    page = client.get("/authors/" + quote("J. Muller"))
    assert page.status_code == 200
    ids = re.findall(r'data-paper-id="([^"]+)"', page.text)
    assert ids == ["2606.00002", "2606.00001", "2605.00001"]
    assert "<h1>Jan Müller" in page.text  # the most frequent spelling, then the fullest
    assert "Alan Turing" in page.text and "Grace Hopper" in page.text  # co-authors
    assert 'href="/c/cs.CL"' in page.text and "Computation and Language" in page.text
    assert "Jens Mueller" not in page.text.split("Other authors")[0]  # another person
    assert 'role="img"' in page.text and "<summary>Show the numbers</summary>" in page.text
    assert "<td>2026-05</td><td>1</td>" in page.text and "<td>2026-06</td><td>2</td>" in page.text


def test_author_json_twin(client: TestClient, site: Engine) -> None:
    body = client.get("/api/authors/" + quote("Müller, Jan")).json()
    assert body["name"] == "Jan Müller" and body["total"] == 3
    assert [p["id"] for p in body["papers"]] == ["2606.00002", "2606.00001", "2605.00001"]
    assert {s["name"] for s in body["spellings"]} == {"Jan Müller", "J. Muller", "Müller, Jan"}
    assert body["coauthors"][0] == {
        "name": "Alan Turing",
        "papers": 2,
        "url": body["url"].split("/authors/")[0] + "/authors/Alan%20Turing",
    }
    assert {"id": "cs.CL", "name": "Computation and Language", "papers": 2} in body["categories"]
    assert body["papersPerMonth"] == [
        {"month": "2026-05", "papers": 1},
        {"month": "2026-06", "papers": 2},
    ]
    one = client.get("/api/authors/" + quote("Jan Müller") + "?limit=1&p=2").json()
    assert [p["id"] for p in one["papers"]] == ["2605.00001"] and one["pages"] == 3


def test_unknown_and_malformed_authors(client: TestClient, site: Engine) -> None:
    missing = client.get("/authors/" + quote("Karl Müller"))
    assert missing.status_code == 404
    assert 'href="/authors/Jan%20M%C3%BCller"' in missing.text  # same surname: see them
    assert "/search?q=Karl+M%C3%BCller" in missing.text
    assert client.get("/api/authors/Nobody%20Here").status_code == 404
    assert client.get("/authors/%20%20").status_code == 400
    assert client.get("/authors/" + "x" * 500).status_code == 400
    assert client.get("/api/authors/1234").status_code == 404  # no letters: nobody's name
    for hostile in [
        "%25_%25",
        "<script>alert(1)</script>",
        "a/../../etc/passwd",
        "%00x",
        "Robert'); DROP TABLE papers;--",
        "%E2%80%AE",
        "%F0%9F%98%80",
    ]:
        response = client.get("/authors/" + hostile)
        assert response.status_code in (400, 404), hostile
        assert "<script>alert" not in response.text


def test_every_author_name_links_to_its_page(client: TestClient, site: Engine) -> None:
    assert 'href="/authors/Grace%20Hopper"' in client.get("/papers?date=2026-06-01").text
    paper = client.get("/papers/2606.00002").text
    assert '<a href="/authors/M%C3%BCller%2C%20Jan">Müller, Jan</a>' in paper
    assert '<span class="cat-name">Machine Learning</span>' in paper
    assert 'href="/authors/Grace%20Hopper"' in client.get("/trending?span=month").text


def test_category_page_views_and_archives(client: TestClient, site: Engine) -> None:
    day = client.get("/c/cs.CL")  # the latest day with a cs.CL paper
    assert day.status_code == 200 and "Computation and Language" in day.text
    assert re.findall(r'data-paper-id="([^"]+)"', day.text) == ["2606.00002"]
    assert 'rel="prev" href="/c/cs.CL?date=2026-05-04"' in day.text  # skips days without it
    month = client.get("/c/cs?month=2026-06")
    assert set(re.findall(r'data-paper-id="([^"]+)"', month.text)) == {
        "2606.00001",
        "2606.00002",
        "2606.00004",
    }
    both = client.get("/c/hep-th+cs.CV?week=2026-W23")
    assert set(re.findall(r'data-paper-id="([^"]+)"', both.text)) == {"2606.00003", "2606.00004"}
    assert "High Energy Physics - Theory + Computer Vision and Pattern Recognition" in both.text
    trending = client.get("/c/cs.LG/trending?span=month")
    assert trending.status_code == 200 and 'href="/c/cs.LG/trending?span=week"' in trending.text
    # Written in arXiv's spelling: a redirect to the canonical address.
    lower = client.get("/c/cs.cl+CS.lg?date=2026-06-01", follow_redirects=False)
    assert lower.status_code == 308
    assert lower.headers["location"] == "/c/cs.CL+cs.LG?date=2026-06-01"
    assert client.get("/c").status_code == 200 and 'href="/c/astro-ph.CO"' in client.get("/c").text


def test_category_errors(client: TestClient, site: Engine) -> None:
    unknown = client.get("/c/cs.ML")
    assert unknown.status_code == 404 and "did you mean" in unknown.text
    assert 'href="/c"' in unknown.text
    assert client.get("/c/cs.CL?date=2026-02-30").status_code == 400
    assert client.get("/c/q-fin").status_code == 404  # known, but nothing listed
    loose = client.get("/c/cs.CL+", follow_redirects=False)  # read, then written canonically
    assert loose.status_code == 308 and loose.headers["location"] == "/c/cs.CL"
    for bad in ["+" * 20, "cs.C%3CL", "cs..CL", "cs.CL" + "+cs.CL" * 12, "x" * 300]:
        assert client.get(f"/c/{bad}").status_code == 400, bad
    assert client.get("/c/cs.CL?p=99999999").status_code == 400


def test_category_filter_on_lists_and_api(client: TestClient, site: Engine) -> None:
    moved = client.get("/papers?date=2026-06-01&category=cs.CL", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "/c/cs.CL?date=2026-06-01"
    assert client.get("/?category=cs").status_code == 200
    trending = client.get("/trending?span=week&category=cs.cv", follow_redirects=False)
    assert trending.headers["location"] == "/c/cs.CV/trending?span=week"
    assert client.get("/papers?category=cs.ML").status_code == 400
    assert client.get("/trending?category=%3Cb%3E").status_code == 400
    api = client.get("/api/daily_papers?date=2026-06-01&category=cs.CL").json()
    assert [e["paper"]["id"] for e in api] == ["2606.00002"]
    archive = client.get("/api/daily_papers?month=2026-06&category=cs.CL+cs.CV").json()
    assert {e["paper"]["id"] for e in archive} == {"2606.00002", "2606.00004"}
    latest = client.get("/api/daily_papers?category=hep-th").json()
    assert [e["paper"]["id"] for e in latest] == ["2606.00003"]
    assert client.get("/api/daily_papers?category=cs.ML").status_code == 404
    assert client.get("/api/daily_papers?category=cs..CL").status_code == 422
    assert client.get("/api/daily_papers?category=" + "a" * 300).status_code == 422


def test_head_works_everywhere(client: TestClient, site: Engine) -> None:
    for path in [
        "/authors/Jan%20M%C3%BCller",
        "/api/authors/Ada%20Lovelace",
        "/c/cs",
        "/c/cs/trending",
        "/c",
    ]:
        response = client.head(path)
        assert response.status_code == 200 and response.content == b"", path


def test_charts_on_home_category_and_paper_pages(client: TestClient, site: Engine) -> None:
    home = client.get("/").text
    assert "Papers per day, last 30 days" in home and "<td>2026-06-01</td><td>2</td>" in home
    assert "<td>2026-05-31</td><td>0</td>" in home  # empty days drawn as 0
    category = client.get("/c/cs?date=2026-06-03").text
    assert (
        "<td>2026-06-01</td><td>2</td>" in category and "<td>2026-06-02</td><td>0</td>" in category
    )
    with site.begin() as conn:
        now = dt.datetime(2026, 6, 3, 12, tzinfo=dt.UTC)
        for n in (1, 2, 3):
            conn.execute(
                users.insert().values(id=n, username=f"u{n}", display_name=f"U{n}", created_at=now)
            )
        conn.execute(
            votes.insert(),
            [
                {"user_id": 1, "paper_id": "2606.00004", "created_at": now},
                {"user_id": 2, "paper_id": "2606.00004", "created_at": now + dt.timedelta(days=2)},
                {"user_id": 3, "paper_id": "2606.00004", "created_at": now + dt.timedelta(days=2)},
            ],
        )
        # Each vote also counts in papers.upvotes (community/actions.py): 3 imported + 3.
        conn.execute(papers.update().where(papers.c.id == "2606.00004").values(upvotes=6))
    paper = client.get("/papers/2606.00004").text
    assert "Upvotes over time" in paper
    # Three imported upvotes without a time, then 1 on Jun 3 and 2 on Jun 5: 3, 4, 4, 6.
    assert [int(n) for n in re.findall(r"<td>2026-06-0\d</td><td>(\d+)</td>", paper)] == [4, 4, 6]
    assert "Upvotes over time" not in client.get("/papers/2606.00003").text  # none yet


@pytest.mark.parametrize(
    "path",
    ["/authors/{author}", "/api/authors/{author}", "/c/cs.LG?date=2026-06-0{d}", "/c/cs"],
)
def test_list_pages_cost_the_same_queries_for_2_and_200_papers(
    settings: Settings, engine: Engine, path: str
) -> None:
    few = [
        raw(
            f"2606.{n:05d}",
            day="2026-06-01",
            authors=["Few Author", "Co Author"],
            categories=["cs.LG"],
        )
        for n in range(1, 3)
    ]
    many = [
        raw(
            f"2606.{n:05d}",
            day="2026-06-02",
            authors=["Many Author", f"Co Author{n}"],
            categories=["cs.LG"],
        )
        for n in range(100, 300)
    ]
    load(engine, few + many)
    counts = []
    # The response cache off (a hit costs nothing), and no index follower polling meanwhile.
    quiet = settings.model_copy(update={"cache_max_mb": 0, "index_follow_seconds": 0})
    with TestClient(create_app(quiet, engine)) as client:
        for author, d in (("Few Author", 1), ("Many Author", 2)):
            url = path.format(author=quote(author), d=d)
            with count_queries(engine) as statements:
                assert client.get(url).status_code == 200
            counts.append(len(statements))
    assert counts[0] == counts[1]
    assert counts[0] <= 9


@pytest.mark.parametrize(
    "path", ["/authors/Jan%20M%C3%BCller", "/api/authors/J.%20Muller", "/c/cs"]
)
def test_browse_pages_are_cached_until_the_site_changes(
    settings: Settings, engine: Engine, site: Engine, path: str
) -> None:
    # Freshness read on every request (interval 0): a hit costs that one read, no more.
    fresh = settings.model_copy(update={"cache_freshness": 0, "index_follow_seconds": 0})
    with TestClient(create_app(fresh, engine)) as client:
        first = client.get(path)
        with count_queries(engine) as statements:
            again = client.get(path)
        assert again.status_code == 200 and again.content == first.content
        assert len([s for s in statements if s.startswith("SELECT")]) == 1  # the revisions
        load(
            engine,
            [raw("2606.00009", day="2026-06-03", authors=["Jan Müller"], categories=["cs.CL"])],
        )
        changed = client.get(path)
        assert "2606.00009" in changed.text
