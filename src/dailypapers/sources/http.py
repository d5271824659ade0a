"""A polite HTTP client for arXiv and friends: spacing, retries, clear errors.

arXiv asks API clients to leave about three seconds between requests and answers
bursts with HTTP 429/503 and a ``Retry-After`` header.  ``Fetcher`` keeps that
spacing, retries transient failures with exponential backoff (or the server's
``Retry-After``), and turns everything else into a one-line ``SourceError``.
A ``deadline`` bounds one ``get`` in total (connecting, reading, retries and waits), for
callers that cannot wait long, such as a submission fetching its paper inside a request.
Sleeping and the clock are injectable so tests never really wait.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from dailypapers.records import SourceError

if TYPE_CHECKING:
    import httpx

    from dailypapers.settings import Settings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_SINGLE_WAIT = 300.0  # seconds; a longer Retry-After is capped to this

Params = Mapping[str, str | int | float]


class DeadlinePassed(SourceError):
    """A ``get`` that found no answer within the fetcher's ``deadline``."""


class Fetcher:
    """GET text from a server, at most one request per ``interval`` seconds.

    ``deadline`` (seconds, None for no limit) bounds one ``get`` in total: each attempt's
    timeouts are cut to the time left, the body is read in chunks with the clock checked
    between them, and no wait or retry starts that would end past it.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        interval: float = 3.0,
        max_retries: int = 5,
        timeout: float = 30.0,
        backoff: float = 1.0,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.interval = interval
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.deadline = deadline
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        import httpx  # here, not at import: web workers rarely fetch (httpx brings rich)

        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Fetcher:
        """A fetcher configured from the ``arxiv_*`` and ``user_agent`` settings."""
        return cls(
            user_agent=settings.user_agent,
            interval=settings.arxiv_request_interval,
            max_retries=settings.arxiv_max_retries,
            timeout=settings.arxiv_timeout,
        )

    def get(self, url: str, params: Params | None = None) -> str:
        """Return the body of a successful GET, retrying transient failures."""
        import httpx

        attempt = 0
        end = None if self.deadline is None else self._clock() + self.deadline
        while True:
            self._wait_turn(end, url)
            retry_after: float | None = None
            try:
                response, text = self._attempt(url, params, end)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except httpx.HTTPError as exc:  # not transient: too many redirects, bad encoding
                raise SourceError(f"{type(exc).__name__} fetching {_short(url)}: {exc}") from None
            else:
                if response.status_code < 400:
                    return text
                failure = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    raise SourceError(
                        f"{failure} from {_short(str(response.url))}: {error_reason(text)}"
                    )
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if end is not None and self._clock() >= end:
                raise self._late(url, failure)
            if attempt >= self.max_retries:
                raise SourceError(
                    f"giving up on {_short(url)} after {attempt + 1} attempts: {failure}"
                )
            delay = min(
                retry_after if retry_after is not None else self.backoff * 2**attempt,
                MAX_SINGLE_WAIT,
            )
            if end is not None and self._clock() + delay >= end:
                raise self._late(url, failure)
            self._sleep(delay)
            attempt += 1

    def _attempt(
        self, url: str, params: Params | None, end: float | None
    ) -> tuple[httpx.Response, str]:
        """One GET: the response (status, URL and headers) and its decoded body."""
        timeout = self.timeout
        if end is not None:
            left = end - self._clock()
            if left <= 0:
                raise self._late(url)
            timeout = min(timeout, left)
        query = dict(params) if params else None
        with self._client.stream("GET", url, params=query, timeout=timeout) as response:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if end is not None and self._clock() > end:
                    raise self._late(url)
            body = b"".join(chunks)
            text = body.decode(response.encoding or "utf-8", errors="replace")
            return response, text

    def _late(self, url: str, failure: str = "") -> DeadlinePassed:
        late = f"no answer from {_short(url)} within {self.deadline:g} s"
        return DeadlinePassed(f"{late}: {failure}" if failure else late)

    def _wait_turn(self, end: float | None, url: str) -> None:
        if self._last_request is not None:
            wait = self._last_request + self.interval - self._clock()
            if wait > 0:
                if end is not None and self._clock() + wait >= end:
                    raise self._late(url)
                self._sleep(wait)
        self._last_request = self._clock()

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


_ERROR_PATTERNS = (
    re.compile(r"<summary[^>]*>(.*?)</summary>", re.S),  # arXiv API Atom error entry
    re.compile(r"<error[^>]*>(.*?)</error>", re.S),  # OAI-PMH error
    re.compile(r"<h1[^>]*>(.*?)</h1>", re.S | re.I),  # Apache/nginx error page
    re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I),
)


def error_reason(body: str) -> str:
    """A short, one-line reason extracted from an error response body."""
    for pattern in _ERROR_PATTERNS:
        match = pattern.search(body)
        if match and match.group(1).strip():
            return _one_line(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))))
    return _one_line(re.sub(r"<[^>]+>", " ", body)) or "no reason given"


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(url: str) -> str:
    return _one_line(url, 200)
