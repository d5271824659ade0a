"""Pure-ASGI middlewares: a response cache keyed by URL and site revision, and security headers.

Every write that changes what pages show (ingest, index, submissions, comments, moderation)
bumps the site revision, so a cached page is served only while it is still exactly what the
handler would render. Votes bump a separate vote revision: an isolated vote shows at once,
but under a stream of votes anonymous pages follow it at most every ``vote_lag`` seconds
(2 s), so a busy site keeps its cache. Logged-in visitors are never served cached pages.
Both revisions are read on every request (one indexed query), never guessed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dailypapers.storage import runs

CACHEABLE_PREFIXES = ("/papers", "/api/daily_papers", "/api/papers/")
UNCACHEABLE = ("/api/papers/search",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def _cacheable(path: str) -> bool:
    return (
        (path == "/" or path.startswith(CACHEABLE_PREFIXES))
        and not path.startswith(UNCACHEABLE)
        and not path.endswith("/similar")
    )


class ResponseCache:
    """Caches complete GET responses (200 and 404) of list, paper and API pages.

    Requests of logged-in visitors (a ``dp_session`` cookie) are never cached or served from
    the cache, and a response that sets a cookie is never stored.
    """

    def __init__(
        self, app: ASGIApp, engine: Engine, size: int = 2048, vote_lag: float = 2.0
    ) -> None:
        self.app = app
        self.engine = engine
        self.size = size
        self.vote_lag = vote_lag
        self._items: OrderedDict[tuple[str, bytes, int, int, int], list[Message]] = OrderedDict()
        self._lock = threading.Lock()
        self._votes_seen = -1
        self._votes_since = float("-inf")

    def _revisions(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return runs.revisions(conn=conn)

    def _vote_key(self, votes: int, now: float) -> int:
        """The vote revision pages are cached under: it follows the database's at once after
        a quiet spell, and at most every ``vote_lag`` seconds while votes keep coming."""
        with self._lock:
            if self._votes_seen < 0:
                self._votes_seen = votes  # first look: nothing changed yet
            elif votes != self._votes_seen and now - self._votes_since >= self.vote_lag:
                self._votes_seen, self._votes_since = votes, now
            return self._votes_seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not _cacheable(scope["path"])
            or any(
                name == b"cookie" and b"dp_session=" in value for name, value in scope["headers"]
            )
        ):
            await self.app(scope, receive, send)
            return
        # The ten-minute bucket lets time-dependent orders (trending) move without a write.
        now = time.time()
        revision, votes = await run_in_threadpool(self._revisions)
        key = (
            scope["path"],
            scope["query_string"],
            revision,
            self._vote_key(votes, now),
            int(now // 600),
        )
        with self._lock:
            cached = self._items.get(key)
            if cached is not None:
                self._items.move_to_end(key)
        if cached is not None:
            for message in cached:
                await send(message)
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        start = messages[0] if messages else {}
        sets_cookie = any(name.lower() == b"set-cookie" for name, _ in start.get("headers", []))
        if (
            start.get("status") in (200, 404)
            and not sets_cookie
            and all(
                m["type"] != "http.response.body" or not m.get("more_body") for m in messages[1:]
            )
        ):
            with self._lock:
                self._items[key] = messages
                while len(self._items) > self.size:
                    self._items.popitem(last=False)


class SecurityHeaders:
    """Adds nosniff, referrer and framing headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, add_headers)
