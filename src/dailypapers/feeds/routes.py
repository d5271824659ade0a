"""Feed routes: ``/feeds/...`` in RSS 2.0 (``.rss``) and Atom (``.atom``).

Every feed is a plain GET (HEAD too, see ``web/methods.py``) with a strong ``ETag`` (the
hash of its body), ``Last-Modified`` (its newest entry) and ``Cache-Control``; public feeds
are kept by the response cache under the site revision (``web/cache.py``) and answered 304
by ``web/conditional.py``, so a reader polling every few minutes costs neither a query nor a
byte of body. Links are absolute, from the configured ``base_url``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response

from dailypapers.feeds import build
from dailypapers.feeds.personal import HELD
from dailypapers.feeds.tokens import token_hash
from dailypapers.feeds.xml import MEDIA_TYPES, Feed, Format, render, rfc822
from dailypapers.queries.authors import BadName
from dailypapers.queries.periods import PeriodError, parse_period
from dailypapers.queries.search import Filters, Mode, Searcher, SortBy
from dailypapers.storage import accounts, feeds, runs
from dailypapers.storage import subscriptions as subscription_repo
from dailypapers.web.deps import connect, get_searcher
from dailypapers.web.params import Username

router = APIRouter(prefix="/feeds", include_in_schema=False)

PUBLIC = "public, max-age=300"
PRIVATE = "private, max-age=300"
# arXiv category names (``cs.LG``, ``hep-th``, ``q-bio.NC``) or archives (``cs``).
CATEGORY = re.compile(r"^[A-Za-z][A-Za-z-]{0,15}(\.[A-Za-z][A-Za-z-]{0,15})?$")
Fmt = Literal["rss", "atom"]


def _site(request: Request) -> build.Site:
    settings = request.app.state.settings
    return build.Site(settings.site_name, settings.base_url)


def _self_url(request: Request) -> str:
    query = request.url.query
    return _site(request).url(request.url.path + (f"?{query}" if query else ""))


def _answer(feed: Feed, fmt: Format, cache_control: str = PUBLIC) -> Response:
    body = render(feed, fmt)
    headers = {
        "ETag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        "Last-Modified": rfc822(feed.updated),
        "Cache-Control": cache_control,
    }
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _refuse(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/daily.{fmt}")
def daily_feed(
    request: Request,
    fmt: Fmt,
    date: Annotated[str | None, Query(max_length=10)] = None,
    week: Annotated[str | None, Query(max_length=8)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    """The latest day's list, or a day's, week's or month's (as ``/papers?date=...``)."""
    try:
        period = parse_period(date=date, week=week, month=month)
    except PeriodError as exc:
        return _refuse(400, f"Bad date: {exc}")
    page = "/" if period is None else f"/papers?{period.query}"
    with connect(request) as conn:
        feed = build.daily_feed(
            conn=conn, site=_site(request), self_url=_self_url(request), period=period, page=page
        )
    return _answer(feed, fmt)


@router.get("/trending.{fmt}")
def trending_feed(
    request: Request, fmt: Fmt, span: Literal["day", "week", "month"] = "day"
) -> Response:
    """Trending papers of the latest day, week or month (as ``/trending?span=...``)."""
    with connect(request) as conn:
        feed = build.trending_feed(
            conn=conn,
            site=_site(request),
            self_url=_self_url(request),
            span=span,
            now=request.app.state.settings.now(),
        )
    return _answer(feed, fmt)


def category_names(value: str) -> list[str] | None:
    """``cs.CL+cs.LG`` (or with spaces, a ``+`` decoded from a query) as names; None when
    any name is not a category's."""
    names = [n for n in re.split(r"[+\s,]+", value.strip()) if n]
    if not names or len(names) > feeds.MAX_CATEGORIES:
        return None
    return names if all(CATEGORY.match(n) for n in names) else None


@router.get("/categories/{names}.{fmt}")
def category_feed(
    request: Request, names: Annotated[str, Path(max_length=400)], fmt: Fmt
) -> Response:
    """The newest listed papers in one category or any of several: ``cs.CL+cs.LG``."""
    chosen = category_names(names)
    if chosen is None:
        return _refuse(404, "Name arXiv categories, such as cs.LG or cs.CL+cs.LG.")
    with connect(request) as conn:
        feed = build.category_feed(
            conn=conn, site=_site(request), self_url=_self_url(request), names=chosen
        )
    return _answer(feed, fmt)


@router.get("/authors/{name}.{fmt}")
def author_feed(request: Request, name: Annotated[str, Path(max_length=200)], fmt: Fmt) -> Response:
    """The newest papers by one author (as ``/authors/{name}``, spellings grouped)."""
    try:
        with connect(request) as conn:
            feed = build.author_feed(
                conn=conn, site=_site(request), self_url=_self_url(request), name=name
            )
    except BadName as exc:
        return _refuse(400, f"Bad name: {exc}.")
    if feed is None:
        return _refuse(404, f"No papers by {name[:80]!r} here.")
    return _answer(feed, fmt)


@router.get("/search.{fmt}")
def search_feed(
    request: Request,
    fmt: Fmt,
    searcher: Annotated[Searcher, Depends(get_searcher)],
    q: Annotated[str, Query(max_length=1000)] = "",
    mode: Mode = "hybrid",
    category: Annotated[str, Query(max_length=64)] = "",
    author: Annotated[str, Query(max_length=200)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    sort: SortBy = "relevance",
) -> Response:
    """The first results of a search with the filters of ``/search`` (same parameters)."""
    if not (q.strip() or category or author or date_from or date_to):
        return _refuse(400, "Give a query (q) or a filter (category, author, from, to).")
    try:
        filters = Filters.read(
            category=category, author=author, date_from=date_from, date_to=date_to
        )
    except PeriodError as exc:
        return _refuse(400, f"Bad date: {exc}.")
    page = "/search" + (f"?{request.url.query}" if request.url.query else "")
    with connect(request) as conn:
        feed, result = build.search_feed(
            conn=conn,
            site=_site(request),
            self_url=_self_url(request),
            searcher=searcher,
            q=q,
            mode=mode,
            filters=filters,
            sort=sort,
            page=page,
        )
    if result.unavailable is not None:
        response = _refuse(503, result.message or "Search is unavailable.")
        response.headers["Retry-After"] = "60"
        return response
    return _answer(feed, fmt)


@router.get("/users/{username}/{what}.{fmt}")
def user_feed(
    request: Request, username: Username, what: Literal["submissions", "upvotes"], fmt: Fmt
) -> Response:
    """A person's submissions or upvotes (as on their profile page)."""
    with connect(request) as conn:
        person = accounts.user_by_username(conn=conn, username=username)
        if person is None:
            return _refuse(404, f"No user {username!r}.")
        feed = build.user_feed(
            conn=conn, site=_site(request), self_url=_self_url(request), person=person, what=what
        )
    return _answer(feed, fmt)


@router.get("/personal/{token}.{fmt}")
def personal_feed(
    request: Request, token: Annotated[str, Path(max_length=100)], fmt: Fmt
) -> Response:
    """Papers matching what the token's owner follows (a private link, see ``/settings``)."""
    with connect(request) as conn:
        person = feeds.feed_token_user(conn=conn, token_hash=token_hash(token))
        if person is None or person["banned_at"] is not None:
            return _refuse(404, "No feed at this address: the link was revoked or mistyped.")
        prefs = subscription_repo.by_user(conn=conn, user_id=person["id"])
        follows = (
            (tuple(prefs["categories"]), tuple(prefs["keywords"]), tuple(prefs["authors"]))
            if prefs is not None
            else None
        )
        settings = request.app.state.settings
        key = (
            token_hash(token),
            _self_url(request),
            person["display_name"],
            follows,
            runs.revision(conn=conn),
            settings.now().date(),
        )
        feed = HELD.get(
            key,
            lambda: build.personal_feed(
                conn=conn,
                site=_site(request),
                self_url=_self_url(request),
                person=person,
                prefs=prefs,
                now=settings.now(),
            ),
        )
    response = _answer(feed, fmt, PRIVATE)
    response.headers["X-Robots-Tag"] = "noindex"
    return response
