"""Issue 11, item 17: submissions must not hold request threads while arXiv is slow.

A submission of a paper the site does not have fetches it from arXiv inside the request: one
attempt, a total deadline (``submit_fetch_timeout``), and at most ``submit_fetch_slots`` such
fetches at once; the others are told at once that the site is busy. The arXiv stand-ins are
loopback servers that accept connections and never answer, or answer a byte at a time.
"""

# Fixtures imported from the community tests are parameters of the same name below.
# ruff: noqa: F811

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.settings import Settings
from dailypapers.sources.http import DeadlinePassed, Fetcher
from dailypapers.web.app import create_app
from tests.community.conftest import (  # noqa: F401 - fixtures used by the tests below
    Member,
    api_token,
    client,
    make_member,
    settings,
    smtp,
)

Make = Any


class SilentServer:
    """Accepts TCP connections and never answers until ``release``; counts connections."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.connections: list[socket.socket] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The arXiv API URL that points here."""
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/api/query"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self.connections.append(conn)
                self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        """Block until ``count`` connections have arrived (fails after a generous 15 s)."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.connections) >= count, 15)

    def release(self) -> None:
        """Close every connection: the waiting clients see the server hang up."""
        with self._changed:
            for conn in self.connections:
                conn.close()

    def close(self) -> None:
        """Stop accepting and hang up."""
        self._stop.set()
        self._thread.join()
        self._sock.close()
        self.release()


@pytest.fixture
def silent_arxiv() -> Iterator[SilentServer]:
    """An arXiv that accepts connections and never answers."""
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def settings(settings: Settings, silent_arxiv: SilentServer) -> Settings:
    """Submissions fetch from the silent arXiv, waiting at most half a second, two at once."""
    return settings.model_copy(
        update={
            "arxiv_api_url": silent_arxiv.url,
            "submit_fetch_timeout": 0.5,
            "submit_fetch_slots": 2,
        }
    )


def test_a_silent_arxiv_gets_one_attempt_and_a_clear_answer(
    make_member: Make, silent_arxiv: SilentServer, api_token: Any
) -> None:
    ada: Member = make_member("ada")
    page = ada.client.post("/submit", data={"csrf_token": ada.csrf("/submit"), "ref": "2606.04242"})
    assert page.status_code == 504
    assert "arXiv did not answer within 0.5 seconds. Try again in a few minutes." in page.text
    assert len(silent_arxiv.connections) == 1  # one attempt: no retries inside a request
    token = api_token(ada.id)
    api = ada.client.post(
        "/api/papers/2606.04243/submit", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 504 and "did not answer" in api.json()["error"]
    assert len(silent_arxiv.connections) == 2


def test_health_answers_while_submissions_wait_on_arxiv(
    settings: Settings,
    engine: Engine,
    make_member: Make,
    silent_arxiv: SilentServer,
    api_token: Any,
) -> None:
    # Long enough that the fetches are still waiting when /health is asked.
    patient = settings.model_copy(update={"submit_fetch_timeout": 60.0})
    ada: Member = make_member("ada")
    token = api_token(ada.id)
    with TestClient(create_app(patient, engine)) as site:
        results: dict[str, int] = {}
        retry_after: dict[str, str | None] = {}
        answered = threading.Condition()

        def submit(paper: str) -> None:
            reply = site.post(
                f"/api/papers/{paper}/submit", headers={"Authorization": f"Bearer {token}"}
            )
            with answered:
                results[paper] = reply.status_code
                retry_after[paper] = reply.headers.get("retry-after")
                answered.notify_all()

        papers = [f"2606.0{n:04d}" for n in range(100, 108)]
        threads = [threading.Thread(target=submit, args=(p,)) for p in papers]
        for thread in threads:
            thread.start()
        silent_arxiv.wait_for(2)  # both slots are now waiting on arXiv
        with answered:  # the others are refused at once
            assert answered.wait_for(lambda: len(results) >= len(papers) - 2, 15)
        assert sorted(results.values()) == [503] * (len(papers) - 2)
        assert {retry_after[p] for p, status in results.items() if status == 503} == {"60"}
        health = site.get("/health")
        assert health.status_code == 200 and health.json()["database"] == "ok"
        assert len(results) == len(papers) - 2  # the two fetches are still in flight
        silent_arxiv.release()
        for thread in threads:
            thread.join()
    assert sorted(results.values()) == [502, 502] + [503] * (len(papers) - 2)
    assert len(silent_arxiv.connections) == 2


class _Trickle(BaseHTTPRequestHandler):
    """A server that answers one byte every 50 ms, for ever; counts the requests."""

    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            return

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_a_trickling_answer_is_cut_at_the_deadline() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Each read gets a byte well within the timeout: only the total deadline stops it,
        # and no retry starts after it.
        with (
            Fetcher(user_agent="t", interval=0, max_retries=5, deadline=0.3) as fetcher,
            pytest.raises(DeadlinePassed, match=r"within 0\.3 s"),
        ):
            fetcher.get(f"http://127.0.0.1:{server.server_address[1]}/slow")
    finally:
        server.shutdown()
        server.server_close()
    assert _Trickle.requests == 1
