"""HTTP conventions with real clients: CORS for the read-only API (and its preflight), gzip
and brotli chosen by Accept-Encoding, Vary, conditional GET through compression and the
response cache, HEAD wherever GET works, and a live server decoding real compressed bodies
(``httpx``, ``urllib`` and ``feedparser``, which revalidates with ``ETag``)."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Iterator

import brotli
import feedparser
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from dailypapers.web.compression import negotiate
from tests.browser.live import LiveServer
from tests.openformats.feeds_site import BASE, SiteData, fill, site_settings

READ_ONLY = ["/api/daily_papers", "/api/papers/2606.00001", "/feeds/daily.rss"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The feed tests' settings (configured base URL, no rate limits)."""
    return site_settings(settings)


@pytest.fixture
def data(engine: Engine, settings: Settings) -> SiteData:
    """The small site of ``feeds_site.py``."""
    return fill(engine, settings)


@pytest.fixture
def client(settings: Settings, engine: Engine, data: SiteData) -> Iterator[TestClient]:
    """An in-process client that shows compressed bodies as sent (no automatic decoding)."""
    with TestClient(create_app(settings, engine), follow_redirects=False) as test_client:
        yield test_client


def raw_get(client: TestClient, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """GET ``path``; the response and its body exactly as sent (still compressed)."""
    with client.stream("GET", path, headers=headers) as response:
        body = b"".join(response.iter_raw())
    return response, body


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0, gzip;q=0.1", "gzip"),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "gzip"),
        ("identity", "identity"),
        ("gzip;q=0, br;q=0", "identity"),
        ("gzip;q=bogus, br;q=2", "identity"),
        ("deflate, compress", "identity"),
    ],
)
def test_coding_follows_accept_encoding_q_values(header: str, coding: str) -> None:
    assert negotiate(header) == coding


def test_cors_opens_reads_to_any_origin_without_credentials(client: TestClient) -> None:
    origin = {"Origin": "https://notebook.example.net"}
    for path in READ_ONLY:
        response = client.get(path, headers=origin)
        assert response.status_code == 200, path
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert "ETag" in response.headers["access-control-expose-headers"]
        head = client.head(path, headers=origin)
        assert head.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/api/daily_papers",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match, authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "if-none-match"
    assert int(preflight.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in preflight.headers


def test_cors_keeps_writes_and_pages_same_origin(client: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    for method in ("POST", "DELETE", "PUT"):
        preflight = client.options(
            "/api/papers/2606.00001/upvote",
            headers={**origin, "Access-Control-Request-Method": method},
        )
        assert "access-control-allow-origin" not in preflight.headers, method
        assert preflight.status_code in (400, 404, 405)
    write = client.post("/api/papers/2606.00001/upvote", headers=origin)
    assert write.status_code == 401
    assert "access-control-allow-origin" not in write.headers
    page = client.get("/", headers=origin)
    assert "access-control-allow-origin" not in page.headers
    login = client.options("/login", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in login.headers


@pytest.mark.parametrize("path", ["/", "/api/daily_papers", "/feeds/daily.atom", "/trending"])
def test_html_json_and_feeds_are_compressed_as_asked(client: TestClient, path: str) -> None:
    plain, identity = raw_get(client, path, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in plain.headers["vary"].lower()
    for coding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        response, body = raw_get(client, path, **{"Accept-Encoding": coding})
        assert response.headers["content-encoding"] == coding, path
        assert "accept-encoding" in response.headers["vary"].lower()
        assert int(response.headers["content-length"]) == len(body) < len(identity)
        assert decode(body) == identity
    # The response cache keeps one entry per coding: asking without any gets no coding.
    again, body = raw_get(client, path, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in again.headers and body == identity


def test_small_bodies_and_compressed_types_are_sent_as_they_are(client: TestClient) -> None:
    small, body = raw_get(client, "/livez", **{"Accept-Encoding": "br, gzip"})
    assert len(body) < 1024 and "content-encoding" not in small.headers
    font = "/static/katex/fonts/KaTeX_AMS-Regular.woff2"
    woff, _ = raw_get(client, font, **{"Accept-Encoding": "br, gzip"})
    assert woff.status_code == 200 and "content-encoding" not in woff.headers
    css, css_body = raw_get(client, "/static/style.css", **{"Accept-Encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip"  # a streamed file, compressed as it streams
    _, plain_body = raw_get(client, "/static/style.css", **{"Accept-Encoding": "identity"})
    assert gzip.decompress(css_body) == plain_body


@pytest.mark.parametrize(
    ("coding", "decode"), [("br", brotli.decompress), ("gzip", gzip.decompress)]
)
def test_streamed_bodies_are_compressed_as_they_stream(
    client: TestClient, coding: str, decode: object
) -> None:
    path = "/static/katex/katex.min.js"  # sent in several chunks (more_body)
    _, plain = raw_get(client, path, **{"Accept-Encoding": "identity"})
    assert len(plain) > 3 * 65536
    with client.stream("GET", path, headers={"Accept-Encoding": coding}) as response:
        chunks = list(response.iter_raw())
    assert response.headers["content-encoding"] == coding
    assert "content-length" not in response.headers  # the length is not known in advance
    assert response.headers["etag"].startswith('W/"')
    body = b"".join(chunks)
    assert callable(decode) and decode(body) == plain and len(body) < len(plain)


def test_byte_ranges_are_never_compressed(client: TestClient) -> None:
    path = "/static/katex/katex.min.js"
    part, body = raw_get(client, path, **{"Accept-Encoding": "br, gzip", "Range": "bytes=0-99"})
    assert part.status_code == 206 and len(body) == 100
    assert "content-encoding" not in part.headers
    whole, _ = raw_get(client, path, **{"Accept-Encoding": "br"})
    assert whole.headers["content-encoding"] == "br" and "accept-ranges" not in whole.headers


def test_conditional_get_and_head_through_compression(client: TestClient) -> None:
    for path in ("/feeds/daily.rss", "/", "/api/daily_papers"):
        first, _ = raw_get(client, path, **{"Accept-Encoding": "br"})
        etag = first.headers["etag"]
        assert etag.startswith('W/"')  # a compressed variant has a weak tag
        for coding in ("br", "gzip", "identity"):
            again = client.get(path, headers={"Accept-Encoding": coding, "If-None-Match": etag})
            assert again.status_code == 304, (path, coding)
            assert again.content == b"" and "content-length" not in again.headers
            assert "accept-encoding" in again.headers["vary"].lower()
        head = client.head(path, headers={"Accept-Encoding": "br"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-encoding"] == "br"
        assert head.headers["content-length"] == first.headers["content-length"]
        assert head.headers["etag"] == etag


def test_head_wherever_get_works(client: TestClient) -> None:
    for path in (
        "/",
        "/trending",
        "/papers/2606.00001",
        "/search?q=graphs",
        "/users/ada",
        "/feeds/trending.rss?span=week",
        "/feeds/categories/cs.CL+cs.LG.atom",
        "/feeds/users/ada/upvotes.rss",
        "/api/daily_papers",
    ):
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


def test_a_live_server_serves_real_compressed_bodies(
    settings: Settings, engine: Engine, data: SiteData
) -> None:
    with LiveServer(create_app(settings, engine)) as live:
        with httpx.Client(base_url=live.url) as http:
            # httpx decodes brotli and gzip itself (brotli is installed), as browsers do.
            for coding in ("br", "gzip"):
                response = http.get("/api/daily_papers", headers={"Accept-Encoding": coding})
                assert response.headers["content-encoding"] == coding
                assert response.json()[0]["paper"]["id"]
            page = http.get("/papers/2606.00001", headers={"Accept-Encoding": "br"})
            assert page.headers["content-encoding"] == "br"
            assert f'<link rel="canonical" href="{BASE}/papers/2606.00001">' in page.text
        request = urllib.request.Request(
            live.url + "/feeds/daily.rss", headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.headers["Content-Encoding"] == "gzip"
            body = gzip.decompress(answer.read())
        assert body.startswith(b"<?xml")
        # feedparser fetches over HTTP itself (asking for gzip, deflate and br) and keeps the
        # ETag and Last-Modified; polling again with them is a 304 with no entries to parse.
        feed = feedparser.parse(live.url + "/feeds/daily.atom")
        assert not feed.bozo and feed.status == 200 and len(feed.entries) == 4
        again = feedparser.parse(live.url + "/feeds/daily.atom", etag=feed.etag)
        assert again.status == 304 and not again.entries
        since = feedparser.parse(live.url + "/feeds/daily.atom", modified=feed.modified)
        assert since.status == 304
