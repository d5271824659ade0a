"""A pure-ASGI response cache keyed by route, known query parameters and site revision.

Every write that changes what pages show (ingest, index, submissions, comments, moderation)
bumps the site revision, so a cached page is served only while it is still exactly what the
handler would render. Votes bump a separate vote revision: an isolated vote shows at once,
but under a stream of votes anonymous pages follow it at most every ``vote_lag`` seconds
(2 s), so a busy site keeps its cache. Logged-in visitors are never served cached pages.

Freshness: a worker does not read the revisions on every request. ``Freshness`` holds the
pair it last read and reads it again (one indexed query, in the thread pool) when it is older
than ``interval`` seconds (``cache_freshness``, 1 s by default), by one request at a time
while the others keep using the pair held; so a request served from the cache touches
neither the database nor the thread pool. A commit of this process that bumps a revision
(storage/runs.bump_revision: a vote, comment, submission, moderation, in-process ingest or
index build) makes the next request read again, and keep reading until the database shows
the bump: whoever wrote sees the write at once. A write by another process or node shows
within ``interval`` seconds plus one read (the staleness bound); ``interval = 0`` reads on
every request. A revision that goes back (a database restored from a backup) empties the
cache, so pages of the old timeline are never served under the new one's numbers.

The key is the path and the query in a canonical order; a response is stored only when the
route that answered reads every parameter of the query (a request with any other parameter,
or a very long query, is answered but not stored), so junk parameters cannot fill memory.
The cache holds at most ``max_bytes`` of responses, dropping the least recently used.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dailypapers.storage import runs
from dailypapers.storage.failures import UNAVAILABLE
from dailypapers.web.compression import request_coding

CACHEABLE_PREFIXES: tuple[str, ...] = ("/papers", "/api/daily_papers", "/api/papers/", "/feeds/")
# Author and category pages (web/browse.py): lists like the daily list, changed by the same writes.
CACHEABLE_PREFIXES += ("/authors/", "/api/authors/", "/c/")
# Personal feeds: a revoked link must stop at once, not when the revision next moves.
UNCACHEABLE = ("/api/papers/search", "/feeds/personal/")
MAX_QUERY = 512  # bytes of query string worth a cache entry
ENTRY_OVERHEAD = 512  # bytes counted per entry for the key, the message dicts and the list
Key = tuple[str, str, int, int, int, str]


def _cacheable(path: str) -> bool:
    return (
        (path == "/" or path.startswith(CACHEABLE_PREFIXES))
        and not path.startswith(UNCACHEABLE)
        and not path.endswith("/similar")
    )


def _query_names(route: object) -> frozenset[str]:
    """The query parameters a route reads (its own and its dependencies')."""
    if not isinstance(route, APIRoute):
        return frozenset()
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


class Freshness:
    """The site and vote revisions of one database as this process last read them, read
    again at most every ``interval`` seconds and at once after a local bump (see above).

    ``clock`` (monotonic seconds) can be replaced, so tests move time instead of sleeping.
    Used from the event loop only: the state changes between awaits, never during one.
    """

    def __init__(
        self, engine: Engine, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.clock = clock
        self._database = runs.database_key(engine=engine)
        self._value: tuple[int, int] | None = None
        self._read_at = float("-inf")
        self._reads = 0  # reads started
        self._value_read = 0  # the number of the read ``_value`` came from
        self._settled = 0  # the sequence of the newest local bump the database has shown
        self._pending_since: float | None = None
        self._refreshing = False

    def _select(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return runs.revisions(conn=conn)

    async def revisions(self) -> tuple[int, int]:
        """(site revision, vote revision), read from the database only when due."""
        now = self.clock()
        bump = runs.local_bump(database=self._database)
        pending = bump is not None and bump.sequence > self._settled
        held = self._value
        if (
            held is not None
            and not pending
            and self.interval > 0
            and (now - self._read_at < self.interval or self._refreshing)
        ):
            return held
        return await self._read(now, bump if pending else None)

    async def _read(self, now: float, bump: runs.LocalBump | None) -> tuple[int, int]:
        self._reads += 1
        number = self._reads
        refreshing = bump is None and not self._refreshing
        self._refreshing = self._refreshing or refreshing
        try:
            value = await run_in_threadpool(self._select)
        finally:
            if refreshing:
                self._refreshing = False
        if number > self._value_read or self._value is None:
            # Reads may finish out of order: keep (and answer with) the one started last.
            self._value, self._read_at, self._value_read = value, now, number
        if bump is not None:
            # Settled once the database shows the bump; a bump it never shows (a commit that
            # failed after the event) stops forcing reads after one interval.
            if self._pending_since is None:
                self._pending_since = now
            shown = value[0] >= bump.revisions[0] and value[1] >= bump.revisions[1]
            if shown or now - self._pending_since >= self.interval:
                self._settled = max(self._settled, bump.sequence)
                self._pending_since = None
        return self._value or value


def _size(messages: list[Message]) -> int:
    size = ENTRY_OVERHEAD
    for message in messages:
        size += len(message.get("body", b""))
        size += sum(len(k) + len(v) + 64 for k, v in message.get("headers", []))
    return size


class ResponseCache:
    """Caches complete GET responses (200 and 404) of list, paper and API pages.

    Requests of logged-in visitors (a ``dp_session`` cookie) are never cached or served from
    the cache, and a response that sets a cookie is never stored. A response is stored only
    when its query names nothing but parameters of the route that answered it.
    """

    def __init__(
        self,
        app: ASGIApp,
        freshness: Freshness,
        max_bytes: int = 64 << 20,
        vote_lag: float = 2.0,
    ) -> None:
        self.app = app
        self.freshness = freshness
        self.max_bytes = max_bytes
        self.vote_lag = vote_lag
        # key -> (messages, size, the route that answered: hits put it back in the scope,
        # so the request metrics need not match the path against every route again)
        self._items: OrderedDict[Key, tuple[list[Message], int, object]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._votes_seen = -1
        self._votes_since = float("-inf")
        self._names: dict[int, frozenset[str]] = {}
        self._highest = (0, 0)  # the highest revisions seen, to notice one going back

    @property
    def bytes(self) -> int:
        """Bytes of responses held now."""
        return self._bytes

    def _went_back(self, revisions: tuple[int, int]) -> None:
        """Empty the cache when a revision is lower than one seen before (a restore)."""
        high = self._highest
        if revisions[0] < high[0] or revisions[1] < high[1]:
            with self._lock:
                self._items.clear()
                self._bytes = 0
                self._votes_seen = -1
            self._highest = revisions
        elif revisions != high:
            self._highest = (max(revisions[0], high[0]), max(revisions[1], high[1]))

    def _vote_key(self, votes: int, now: float) -> int:
        """The vote revision pages are cached under: it follows the database's at once after
        a quiet spell, and at most every ``vote_lag`` seconds while votes keep coming."""
        with self._lock:
            if self._votes_seen < 0:
                self._votes_seen = votes  # first look: nothing changed yet
            elif votes != self._votes_seen and now - self._votes_since >= self.vote_lag:
                self._votes_seen, self._votes_since = votes, now
            return self._votes_seen

    def _route_reads(self, scope: Scope, names: set[str]) -> bool:
        """Whether the route that answered (``scope["route"]``, set by the router) reads every
        one of the query's ``names``; no route (a 404 for an unknown path) reads none."""
        route = scope.get("route")
        if route is None:
            return not names
        if id(route) not in self._names:
            self._names[id(route)] = _query_names(route)
        return names <= self._names[id(route)]

    def _store(self, key: Key, messages: list[Message], route: object) -> None:
        size = _size(messages)
        if size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (messages, size, route)
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped, _) = self._items.popitem(last=False)
                self._bytes -= dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or self.max_bytes <= 0
            or not _cacheable(scope["path"])
            or any(
                name == b"cookie" and b"dp_session=" in value for name, value in scope["headers"]
            )
        ):
            await self.app(scope, receive, send)
            return
        raw: bytes = scope["query_string"]
        if len(raw) > MAX_QUERY:
            await self.app(scope, receive, send)
            return
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if raw else []
        query = urlencode(sorted(pairs, key=lambda pair: pair[0])) if pairs else ""
        # The ten-minute bucket lets time-dependent orders (trending) move without a write.
        now = time.time()
        try:
            revision, votes = await self.freshness.revisions()
        except UNAVAILABLE:  # the database is not answering: the app answers 503 uncached
            await self.app(scope, receive, send)
            return
        self._went_back((revision, votes))
        # The coding too: each is stored compressed by web/compression.py, inside the cache.
        coding = request_coding(scope)
        key = (scope["path"], query, revision, self._vote_key(votes, now), int(now // 600), coding)
        with self._lock:
            cached = self._items.get(key)
            if cached is not None:
                self._items.move_to_end(key)
        if cached is not None:
            if cached[2] is not None:
                scope["route"] = cached[2]
            for message in cached[0]:
                await send({**message})  # a copy: outer layers set headers on what they get
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        # Only the response itself is kept (test clients also see template debug messages).
        messages = [
            m for m in messages if m["type"] in ("http.response.start", "http.response.body")
        ]
        start = messages[0] if messages else {}
        sets_cookie = any(name.lower() == b"set-cookie" for name, _ in start.get("headers", []))
        if (
            start.get("status") in (200, 404)
            and not sets_cookie
            and all(
                m["type"] != "http.response.body" or not m.get("more_body") for m in messages[1:]
            )
            # Junk parameters never make entries: a key only ever holds what the route reads.
            and self._route_reads(scope, {name for name, _ in pairs})
        ):
            self._store(key, messages, scope.get("route"))
