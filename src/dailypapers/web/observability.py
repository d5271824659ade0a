"""Request ids, the access log and Prometheus metrics, in one small pure-ASGI middleware.

Every request gets an id: the caller's ``X-Request-ID`` when it is short and plain
(letters, digits, ``._:-``, at most 128), otherwise a fresh random one. The response echoes it
and every log line written while answering carries it. When the response is finished, one
``dailypapers.access`` line (method, path, route, status, duration_ms, client) is logged and
the request counters and latency histograms move, labelled by the route's template
(``/papers/{arxiv_id:path}``, never the raw path, so labels stay few).

The metrics live in this process; ``/metrics`` (web/probes.py) writes them in Prometheus'
text format with the values it reads at scrape time (index, ingest runs, digests).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dailypapers.logs import access_writer, request_id

access = logging.getLogger("dailypapers.access")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Query parameters whose values never reach a log line (links in mail carry signed tokens).
_SECRET_PARAM = re.compile(r"(^|&)([^=&]*(?:token|key|password|secret|sig|code)[^=&]*)=[^&]*", re.I)
# Path segments that are secrets: a private feed link's token (feeds/tokens.py), and a
# reading list's token (an unlisted list's address is its secret: web/lists.py; its imports
# are not). Other paths skip the expression (each substitution cost about 1 us of the 26
# that a cached page's request costs with its access line).
_SECRET_PATH_STARTS = ("/feeds/personal/", "/lists/", "/api/lists/")
_SECRET_PATH = re.compile(
    "^(" + "|".join(map(re.escape, _SECRET_PATH_STARTS)) + r")(?!imports?(?:/|$))[^/.]+"
)
SEARCH_ROUTES = frozenset({"/search", "/api/papers/search"})
SEARCH_MODES = frozenset({"hybrid", "keyword", "semantic"})
Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    parts += [extra] if extra else []
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    """A Prometheus counter with labels (thread-safe)."""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_text, tuple(labelnames)
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series of ``labels``."""
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        """The current value of one series (0 when never incremented)."""
        return self._values.get(labels, 0.0)

    def render(self) -> Iterable[str]:
        """Text exposition lines."""
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            items = sorted(self._values.items())
        for labels, value in items:
            yield f"{self.name}{_labels(self.labelnames, labels)} {_number(value)}"


class Histogram:
    """A Prometheus histogram with labels and fixed buckets (thread-safe)."""

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        self.name, self.help, self.labelnames = name, help_text, tuple(labelnames)
        self.buckets = (*buckets, math.inf)
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        """Record one observation in the series of ``labels``."""
        slot = bisect.bisect_left(self.buckets, value)  # the first bound >= value
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * len(self.buckets), [0.0]))
            counts[slot] += 1  # per bucket; made cumulative when rendered
            total[0] += value

    def count(self, *labels: str) -> int:
        """Observations recorded in one series."""
        series = self._series.get(labels)
        return sum(series[0]) if series else 0

    def render(self) -> Iterable[str]:
        """Text exposition lines (cumulative buckets, sum and count)."""
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            items = sorted((k, (list(c), t[0])) for k, (c, t) in self._series.items())
        for labels, (per_bucket, total) in items:
            counts = list(itertools.accumulate(per_bucket))
            for bound, count in zip(self.buckets, counts, strict=True):
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {count}"
            yield f"{self.name}_sum{_labels(self.labelnames, labels)} {_number(total)}"
            yield f"{self.name}_count{_labels(self.labelnames, labels)} {counts[-1]}"


def gauge(name: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> str:
    """A gauge read at scrape time, as exposition text."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        lines.append(f"{name}{_labels(list(labels), list(labels.values()))} {_number(value)}")
    return "\n".join(lines)


class Metrics:
    """The request metrics of one worker process."""

    def __init__(self) -> None:
        self.requests = Counter(
            "dailypapers_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
        )
        self.latency = Histogram(
            "dailypapers_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ("route",),
        )
        self.search = Histogram(
            "dailypapers_search_duration_seconds",
            "Time to answer a search (page or API), by mode.",
            ("mode",),
        )

    def render(self) -> str:
        """Every request metric in the text exposition format."""
        lines = [*self.requests.render(), *self.latency.render(), *self.search.render()]
        return "\n".join(lines)


def flat_routes(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """The routes of an app with those of included routers spliced in, in matching order."""
    found: list[BaseRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        found.extend(flat_routes(included.routes) if included is not None else [route])
    return found


class RouteNames:
    """The route template answering a request, for labels: the router's own choice when it
    ran, otherwise (a cached page, a refused body) the first route that matches, memoised."""

    MEMO_SIZE = 4096

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._top = routes
        self._flat: list[BaseRoute] | None = None
        self._memo: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, scope: Scope) -> str:
        """``/papers/{arxiv_id:path}``, ``/static`` or ``unmatched``."""
        route = scope.get("route")
        if route is not None:
            return str(getattr(route, "path", None) or "unmatched")
        key = (scope["method"], scope["path"])
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        name = self._match(scope)
        if len(scope["path"]) <= 512:
            with self._lock:
                self._memo[key] = name
                if len(self._memo) > self.MEMO_SIZE:
                    self._memo.popitem(last=False)
        return name

    def _match(self, scope: Scope) -> str:
        if self._flat is None:
            self._flat = flat_routes(self._top)
        partial = None
        for candidate in self._flat:
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                return str(getattr(candidate, "path", None) or "unmatched")
            if match == Match.PARTIAL and partial is None:
                partial = candidate
        return str(getattr(partial, "path", None) or "unmatched")


def _search_mode(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    mode = dict(parse_qsl(query)).get("mode", "hybrid")
    return mode if mode in SEARCH_MODES else "other"


class RequestObserver:
    """Gives each request an id, logs one access line and records the request metrics."""

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, routes: Sequence[BaseRoute], access_log: bool
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.route_name = RouteNames(routes)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request through the app, timing and labelling it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        rid = given if _PLAIN_ID.match(given) else os.urandom(16).hex()  # as uuid4().hex, faster
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = self.route_name(scope)
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        self.metrics.requests.inc(method, route, str(status))
        self.metrics.latency.observe(seconds, route)
        if route in SEARCH_ROUTES and status < 400:
            self.metrics.search.observe(seconds, _search_mode(scope))
        if self.access_log and access.isEnabledFor(logging.INFO):
            client = scope.get("client")
            path = loggable(scope["path"], scope.get("query_string", b"").decode("latin-1"))
            fields = {
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client": client[0] if client else "",
            }
            message = f"{method} {path} {status} {seconds * 1000:.1f}ms"
            writer = access_writer()
            if writer is not None:  # the default set-up: the same line, without a LogRecord
                handler, formatter = writer
                rid = request_id.get()
                handler.queue_line(formatter.access_line(time.time(), message, rid, fields))
                return
            # makeRecord + handle is what ``access.info`` does, without looking up the caller's
            # file and line in the stack (nobody reads them for this line).
            record = access.makeRecord(
                access.name,
                logging.INFO,
                __file__,
                0,
                "%s",
                (message,),
                None,
                extra={**fields, "request_id": request_id.get()},
            )
            access.handle(record)


def loggable(path: str, query: str) -> str:
    """A request's path and query as the access log shows them: secrets redacted, at most
    2,000 characters."""
    if query:
        query = _SECRET_PARAM.sub(r"\1\2=[redacted]", query)
    if path.startswith(_SECRET_PATH_STARTS):
        path = _SECRET_PATH.sub(r"\1[redacted]", path)
    return (path + f"?{query}" if query else path)[:2000]


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
