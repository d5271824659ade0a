"""RSS 2.0 and Atom feeds, read with ``feedparser`` (a real feed client) and checked against
the W3C feed validator's rules: required elements, date formats, unique ids, absolute links,
``atom:link rel="self"`` in RSS, escaping of hostile text and no control characters."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree as ET

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dailypapers.community import accounts
from dailypapers.email import subscribers
from dailypapers.feeds import tokens
from dailypapers.feeds.xml import Feed, Item, atom, rss
from dailypapers.settings import Settings
from dailypapers.storage import subscriptions
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.schema import feed_tokens
from dailypapers.web.app import create_app
from tests.openformats.feeds_site import BASE, HOSTILE, PASSWORD, SiteData, fill, site_settings

RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
    r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NS = {"atom": "http://www.w3.org/2005/Atom"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Feeds link to a configured base URL that is not the test client's host."""
    return site_settings(settings)


@pytest.fixture
def data(engine: Engine, settings: Settings) -> SiteData:
    """The small site of ``feeds_site.py``."""
    return fill(engine, settings)


@pytest.fixture
def client(settings: Settings, engine: Engine, data: SiteData) -> Iterator[TestClient]:
    """An in-process client on the filled site."""
    with TestClient(create_app(settings, engine), follow_redirects=False) as test_client:
        yield test_client


def parsed(client: TestClient, url: str) -> feedparser.FeedParserDict:
    """Fetch ``url`` and parse it with feedparser, checking what every valid feed must have."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    kind = "application/atom+xml" if ".atom" in url else "application/rss+xml"
    assert response.headers["content-type"].startswith(kind)
    check_valid(response.content, kind)
    feed = feedparser.parse(response.content)
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    assert feed.version == ("atom10" if kind.endswith("atom+xml") else "rss20")
    return feed


def check_valid(body: bytes, kind: str) -> None:
    """The W3C validator's structural rules, checked on the document itself."""
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", body)
    root = ET.fromstring(body)  # well-formed (raises otherwise)
    if kind == "application/rss+xml":
        channel = root.find("channel")
        assert root.get("version") == "2.0" and channel is not None
        for tag in ("title", "link", "description"):
            assert (channel.findtext(tag) or "").strip(), tag
        self_link = channel.find("atom:link", NS)
        assert self_link is not None and self_link.get("rel") == "self"
        assert self_link.get("href", "").startswith(BASE + "/feeds/")
        assert RFC822.match(channel.findtext("lastBuildDate") or "")
        guids = [i.findtext("guid") for i in channel.iter("item")]
        assert len(guids) == len(set(guids))
        for item in channel.iter("item"):
            assert (item.findtext("title") or "").strip()
            assert (item.findtext("link") or "").startswith(BASE + "/papers/")
            assert RFC822.match(item.findtext("pubDate") or ""), item.findtext("pubDate")
            assert parsedate_to_datetime(item.findtext("pubDate") or "").tzinfo is not None
    else:
        assert root.tag == "{http://www.w3.org/2005/Atom}feed"
        for tag in ("id", "title", "updated"):
            assert (root.findtext(f"atom:{tag}", namespaces=NS) or "").strip(), tag
        assert RFC3339.match(root.findtext("atom:updated", namespaces=NS) or "")
        rels = {link.get("rel"): link.get("href") for link in root.findall("atom:link", NS)}
        assert rels["self"].startswith(BASE + "/feeds/") and rels["alternate"].startswith(BASE)
        assert root.find("atom:author/atom:name", NS) is not None
        ids = [e.findtext("atom:id", namespaces=NS) for e in root.findall("atom:entry", NS)]
        assert len(ids) == len(set(ids))
        for entry in root.findall("atom:entry", NS):
            for tag in ("id", "title", "updated", "published"):
                assert (entry.findtext(f"atom:{tag}", namespaces=NS) or "").strip(), tag
            assert RFC3339.match(entry.findtext("atom:updated", namespaces=NS) or "")
            link = entry.find("atom:link", NS)
            assert link is not None and link.get("href", "").startswith(BASE + "/papers/")


def ids(feed: feedparser.FeedParserDict) -> list[str]:
    """The arXiv ids of a feed's entries, in order."""
    return [e.link.rsplit("/papers/", 1)[1] for e in feed.entries]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_daily_feed_is_the_latest_list_with_absolute_links(client: TestClient, fmt: str) -> None:
    feed = parsed(client, f"/feeds/daily.{fmt}")
    assert ids(feed) == ["2606.00005", "2606.00003", "2606.00002", "2606.00001"]
    assert all(e.link.startswith(BASE + "/papers/") for e in feed.entries)
    assert all(e.id == e.link for e in feed.entries)
    first = feed.entries[0]
    assert first.title == "Robots submitted"
    assert first.published_parsed is not None
    assert feed.feed.link == BASE + "/"


def test_daily_feed_of_a_chosen_day_and_bad_dates(client: TestClient, data: SiteData) -> None:
    assert "2606.00004" not in ids(parsed(client, "/feeds/daily.rss"))  # ten days back
    feed = parsed(client, f"/feeds/daily.rss?date={data.older.isoformat()}")
    assert ids(feed) == ["2606.00004"]
    assert feed.feed.link == f"{BASE}/papers?date={data.older.isoformat()}"
    assert client.get("/feeds/daily.rss?date=2026-13-45").status_code == 400
    assert client.get("/feeds/daily.xml").status_code in (400, 404, 422)


@pytest.mark.parametrize("span", ["day", "week", "month"])
def test_trending_feeds_follow_the_trending_order(client: TestClient, span: str) -> None:
    feed = parsed(client, f"/feeds/trending.atom?span={span}")
    assert ids(feed)[0] == "2606.00002"  # the only upvoted paper
    month = parsed(client, "/feeds/trending.rss?span=month")
    assert "2606.00004" in ids(month)


def test_hostile_titles_and_abstracts_are_text_in_both_formats(client: TestClient) -> None:
    for fmt in ("rss", "atom"):
        body = client.get(f"/feeds/daily.{fmt}").content
        assert b"<script>" not in body and b"<b>bold" not in body
        entry = next(e for e in feedparser.parse(body).entries if "00003" in e.link)
        assert entry.title == HOSTILE
        if entry.summary_detail.type == "text/plain":  # Atom: the abstract as text
            assert HOSTILE in entry.summary
        else:  # RSS: HTML in which the abstract is escaped text
            assert entry.summary_detail.type == "text/html"
            assert "<script>" not in entry.summary and "&lt;script&gt;" in entry.summary


def test_control_characters_never_reach_the_document() -> None:
    import datetime as dt

    when = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    item = Item(
        id=f"{BASE}/papers/1",
        title="Bell\x07 and \x00nul\x1b[31m \ufffe",
        link=f"{BASE}/papers/1",
        summary="Vertical\x0btab\x0cform feed",
        authors=["A\x01B"],
        categories=["cs.LG"],
        published=when,
        updated=when,
    )
    feed = Feed("T\x02", "D", f"{BASE}/feeds/x.rss", BASE, [item])
    for body, kind in ((rss(feed), "application/rss+xml"), (atom(feed), "application/atom+xml")):
        check_valid(body, kind)
        entry = feedparser.parse(body).entries[0]
        assert entry.title.strip() == "Bell and nul[31m"
        assert not feedparser.parse(body).bozo


def test_category_feeds_combine_like_arxiv(client: TestClient) -> None:
    assert ids(parsed(client, "/feeds/categories/cs.CL.rss")) == ["2606.00001"]
    both = parsed(client, "/feeds/categories/cs.CL+cs.LG.atom")
    assert ids(both) == ["2606.00002", "2606.00001"]
    archive = parsed(client, "/feeds/categories/cs.rss")
    assert set(ids(archive)) == {"2606.00001", "2606.00002", "2606.00003", "2606.00005"}
    stats = parsed(client, "/feeds/categories/stat.ML.rss")
    assert ids(stats) == ["2606.00002", "2606.00004"]
    encoded = parsed(client, "/feeds/categories/cs.CL%2Bcs.LG.rss")
    assert ids(encoded) == ["2606.00002", "2606.00001"]
    for bad in ("cs.LG%25", "a_b", "x" * 300, "cs.LG+%27or"):
        assert client.get(f"/feeds/categories/{bad}.rss").status_code in (404, 400, 422), bad
    assert parsed(client, "/feeds/categories/nope.rss").entries == []


def test_search_feeds_keep_the_query_and_its_filters(client: TestClient, data: SiteData) -> None:
    feed = parsed(client, "/feeds/search.rss?q=graphs&mode=keyword")
    assert ids(feed) == ["2606.00002"]
    assert feed.feed.title.startswith("Search: graphs")
    only = parsed(client, "/feeds/search.atom?category=cs.CL&mode=keyword")
    assert ids(only) == ["2606.00001"]
    dated = parsed(
        client, f"/feeds/search.rss?category=stat.ML&to={data.older.isoformat()}&mode=keyword"
    )
    assert ids(dated) == ["2606.00004"]
    by = parsed(client, "/feeds/search.rss?author=Hopper&mode=keyword")
    assert ids(by) == ["2606.00001"]
    self_link = ET.fromstring(client.get("/feeds/search.rss?q=graphs&mode=keyword").content)
    atom_link = self_link.find("channel/atom:link", NS)
    assert atom_link is not None
    assert atom_link.get("href") == f"{BASE}/feeds/search.rss?q=graphs&mode=keyword"
    assert client.get("/feeds/search.rss").status_code == 400
    assert client.get("/feeds/search.rss?q=x&sort=bogus").status_code in (400, 422)


def test_a_members_submissions_and_upvotes(client: TestClient, data: SiteData) -> None:
    assert ids(parsed(client, "/feeds/users/ada/submissions.rss")) == [data.submitted]
    assert ids(parsed(client, "/feeds/users/ada/upvotes.atom")) == [data.upvoted]
    assert client.get("/feeds/users/nobody/upvotes.rss").status_code == 404
    assert client.get("/feeds/users/ada/comments.rss").status_code in (400, 404, 422)


def login(client: TestClient) -> str:
    """Log in as the member; returns a CSRF token for the settings forms."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "email": "ada@example.org", "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    page = client.get("/settings").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_personal_feed_by_private_link_revocable(
    client: TestClient, engine: Engine, data: SiteData
) -> None:
    csrf = login(client)
    assert 'action="/settings/feed"' in client.get("/settings").text
    made = client.post("/settings/feed", data={"csrf_token": csrf})
    assert made.status_code == 200
    found = re.search(r'id="feed-rss">([^<]+)<', made.text)
    assert found
    url = found.group(1)
    assert url.startswith(f"{BASE}/feeds/personal/feed_")
    token = url.removeprefix(f"{BASE}/feeds/personal/").removesuffix(".rss")
    with engine.connect() as conn:
        stored = conn.execute(select(feed_tokens.c.token_hash)).scalars().all()
    assert len(stored) == 1 and token not in stored[0]  # only its hash is kept

    anonymous = TestClient(client.app)
    path = url.removeprefix(BASE)
    response = anonymous.get(path)
    assert response.headers["cache-control"].startswith("private")
    feed = parsed(anonymous, path)
    # Follows cs.RO (the submission) and the keyword "transformers" (the long abstract).
    assert set(ids(feed)) == {"2606.00005", "2606.00002"}
    assert parsed(anonymous, path.replace(".rss", ".atom")).entries
    # Other preferences: the next poll follows them (the held feed is keyed by them).
    with engine.connect() as conn:
        subscription = subscriptions.by_user(conn=conn, user_id=data.member_id)
    assert subscription is not None
    prefs = subscribers.preferences(categories="cs.CL")
    subscribers.save(engine, subscription_id=subscription["id"], prefs=prefs)
    assert ids(parsed(anonymous, path)) == ["2606.00001"]

    again = client.post("/settings/feed", data={"csrf_token": csrf})
    assert again.status_code == 200
    assert anonymous.get(path).status_code == 404  # a new link revokes the old one
    newer = re.search(r'id="feed-atom">([^<]+)<', again.text)
    assert newer and anonymous.get(newer.group(1).removeprefix(BASE)).status_code == 200
    revoked = client.post("/settings/feed/delete", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert anonymous.get(newer.group(1).removeprefix(BASE)).status_code == 404
    assert client.post("/settings/feed", data={"csrf_token": "forged"}).status_code in (400, 403)
    # A new password revokes the link, as it revokes API tokens.
    last = client.post("/settings/feed", data={"csrf_token": csrf})
    link = re.search(r'id="feed-rss">([^<]+)<', last.text)
    assert link and anonymous.get(link.group(1).removeprefix(BASE)).status_code == 200
    changed = client.post(
        "/settings/password",
        data={"csrf_token": csrf, "current": PASSWORD, "password": "another horse battery"},
    )
    assert changed.status_code == 303, changed.text
    assert anonymous.get(link.group(1).removeprefix(BASE)).status_code == 404
    assert anonymous.get("/feeds/personal/feed_nonsense.rss").status_code == 404


def test_private_links_stay_out_of_the_access_log(
    client: TestClient, engine: Engine, data: SiteData, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.new_link_token(engine, user_id=data.member_id)
    caplog.set_level(logging.INFO, logger="dailypapers.access")
    assert client.get(f"/feeds/personal/{token}.atom").status_code == 200
    lines = [r for r in caplog.records if r.name == "dailypapers.access"]
    assert lines and all(token not in r.getMessage() for r in lines)
    assert any("/feeds/personal/[redacted].atom" in r.getMessage() for r in lines)


def test_a_member_without_preferences_gets_an_empty_valid_feed(
    client: TestClient, engine: Engine
) -> None:
    with write_transaction(engine) as conn:
        bob = accounts.create_user(conn, email="bob@example.org", password=PASSWORD, username="bob")
    token = tokens.new_link_token(engine, user_id=bob["id"])
    for fmt in ("rss", "atom"):
        assert parsed(client, f"/feeds/personal/{token}.{fmt}").entries == []


def test_conditional_get_costs_pollers_nothing(
    client: TestClient, engine: Engine, data: SiteData
) -> None:
    first = client.get("/feeds/daily.rss")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert parsedate_to_datetime(modified).tzinfo is not None
    again = client.get("/feeds/daily.rss", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    since = client.get("/feeds/daily.rss", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    stale = client.get("/feeds/daily.rss", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    head = client.head("/feeds/daily.rss")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    # A new paper on the list: the next poll gets the new feed.
    from dailypapers.ingest.pipeline import run_ingest
    from tests.core.helpers import raw

    today = data.today.isoformat()
    run_ingest(
        engine=engine,
        source="t2",
        params={"fixture": "more"},
        records=lambda _: [raw("2606.00009", day=today, published=f"{today}T09:00:00Z")],
        explicit_days=True,
    )
    client.app.state.freshness.interval = 0  # type: ignore[attr-defined]
    fresh = client.get("/feeds/daily.rss", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert "2606.00009" in ids(feedparser.parse(fresh.content))


def test_pages_announce_their_feeds_and_canonical_urls(client: TestClient) -> None:
    def links(path: str) -> list[str]:
        html = client.get(path).text
        found = re.findall(r'<link rel="alternate" type="[^"]+" title="[^"]*" href="([^"]+)"', html)
        return [href.replace("&amp;", "&") for href in found]

    assert links("/") == [f"{BASE}/feeds/daily.rss", f"{BASE}/feeds/daily.atom"]
    footer = client.get("/").text.split('<footer class="site-footer wrap">')[1]
    assert f'<a href="{BASE}/feeds/daily.atom" type="application/atom+xml">' in footer
    assert f"{BASE}/feeds/trending.rss?span=week" in links("/trending?span=week")
    found = links("/search?q=graphs&category=cs.LG&mode=keyword")
    assert f"{BASE}/feeds/search.rss?q=graphs&mode=keyword&category=cs.LG" in found
    assert f"{BASE}/feeds/categories/cs.LG.atom" in found
    assert f"{BASE}/feeds/users/ada/upvotes.rss" in links("/users/ada")
    on_category_page = links("/c/cs.CL+cs.LG")
    assert f"{BASE}/feeds/categories/cs.CL+cs.LG.rss" in on_category_page
    found += on_category_page
    for href in links("/") + found:
        path = href.removeprefix(BASE)
        assert client.get(path).status_code == 200, href
    html = client.get("/papers/2606.00001").text
    assert f'<link rel="canonical" href="{BASE}/papers/2606.00001">' in html
    assert "testserver" not in html.split("</head>")[0]
    assert 'rel="canonical"' not in client.get("/papers/2699.99999").text


def test_author_feeds_group_spellings_like_the_author_page(client: TestClient) -> None:
    """``/feeds/authors/{name}``: the author page's papers (spellings grouped, an initial
    included when unambiguous), announced by the page; unknown names 404, names without
    letters 400."""
    assert ids(parsed(client, "/feeds/authors/Grace%20Hopper.rss")) == ["2606.00001"]
    turing = parsed(client, "/feeds/authors/A.%20Turing.atom")
    assert set(ids(turing)) == {"2606.00002", "2606.00003", "2606.00004", "2606.00005"}
    assert turing.feed.title.startswith("Papers by Alan Turing")
    assert client.get("/feeds/authors/Nobody%20Here.rss").status_code == 404
    assert client.get("/feeds/authors/1234.rss").status_code == 400
    assert client.get("/feeds/authors/" + "x" * 300 + ".rss").status_code in (400, 404, 422)
    page = client.get("/authors/Grace%20Hopper").text
    assert f'href="{BASE}/feeds/authors/Grace%20Hopper.rss"' in page
