"""CORS as a real browser enforces it: a page on another origin (its own server on another
port) reads the API and the feeds with fetch, revalidates with If-None-Match (a preflight),
and is refused writes, credentialed requests and HTML pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine

from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.browser.live import LiveServer
from tests.openformats.feeds_site import SiteData, fill, site_settings

SCRIPT = """async (api) => {
  const out = {};
  const read = await fetch(api + "/api/daily_papers");
  out.get = read.status;
  out.etag = read.headers.get("etag");
  out.items = (await read.json()).length;
  const again = await fetch(api + "/api/daily_papers", {headers: {"If-None-Match": out.etag}});
  out.conditional = again.status;
  const feed = await fetch(api + "/feeds/daily.atom");
  out.feed = (await feed.text()).slice(0, 5);
  const attempt = async (url, init) => {
    try { await fetch(url, init); return "allowed"; } catch (e) { return "blocked"; }
  };
  out.write = await attempt(api + "/api/papers/2606.00001/upvote",
                            {method: "POST", headers: {"Authorization": "Bearer x"}});
  out.credentialed = await attempt(api + "/api/daily_papers", {credentials: "include"});
  out.page = await attempt(api + "/");
  return out;
}"""


class _Blank(BaseHTTPRequestHandler):
    """Another origin: an empty page, no CSP."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>notebook</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def other_origin() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a second server, a different origin from the site's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The feed tests' settings."""
    return site_settings(settings)


def test_a_page_on_another_origin_reads_but_cannot_write(
    browser: Browser, settings: Settings, engine: Engine, other_origin: str
) -> None:
    data: SiteData = fill(engine, settings)
    assert data.member_id
    with LiveServer(create_app(settings, engine)) as live:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(other_origin + "/")
            result = page.evaluate(SCRIPT, live.url)
        finally:
            context.close()
    assert result["get"] == 200 and result["items"] == 4
    assert result["etag"]  # exposed to the script
    assert result["conditional"] == 304  # the preflight allowed If-None-Match
    assert result["feed"] == "<?xml"
    assert result["write"] == "blocked"
    assert result["credentialed"] == "blocked"
    assert result["page"] == "blocked"
