"""Browsing pages: authors (``/authors/{name}`` and its JSON twin), categories (``/c/cs.CL``,
``/c/cs.CL+cs.LG``, ``/c/cs``, with the daily list's day, week and month views and trending),
the category index (``/c``), and the charts those pages and the home page draw."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.api import shapes
from dailypapers.api.responses import OrjsonResponse
from dailypapers.api.routes import site_base
from dailypapers.ingest.author_names import MAX_NAME
from dailypapers.queries import authors, categories
from dailypapers.queries.daily import TRENDING_SPANS, DailyList
from dailypapers.queries.periods import PeriodError, parse_period
from dailypapers.sources.categories import ARCHIVES, NAMES, archive_of, category_name
from dailypapers.storage import browse as browse_storage
from dailypapers.storage import community
from dailypapers.web import charts
from dailypapers.web.auth import current_user
from dailypapers.web.deps import connect
from dailypapers.web.render import TEMPLATES, page

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["browse"])

Page = Annotated[int, Query(ge=0, le=10_000)]
AuthorName = Annotated[str, Path(min_length=1, max_length=MAX_NAME)]
# The JSON twin: a name without letters is nobody's (404; the page answers 400).
ApiAuthorName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_NAME,
        description="Any spelling of the name (``Jan Müller``, ``J. Muller``, ``Müller, Jan``)",
        examples=["Yann LeCun"],
    ),
]
SpecPath = Annotated[str, Path(min_length=1, max_length=categories.MAX_SPEC)]


def author_path(name: str) -> str:
    """``Jan%20M%C3%BCller``: a name as one path segment (every reserved character escaped),
    for links written ``/authors/{{ name | author_path }}``."""
    return quote(name[:MAX_NAME], safe="")


def author_url(name: str) -> str:
    """``/authors/Jan%20M%C3%BCller``: an author page's address."""
    return "/authors/" + author_path(name)


TEMPLATES.env.filters.update(author_path=author_path, category_name=category_name)


def per_day_chart(points: list[tuple[dt.date, int]], title: str) -> charts.Chart:
    """Papers per day as bars (``Jun 3`` under the axis)."""
    return charts.bars(
        [(d.isoformat(), n) for d, n in points],
        short=[f"{d:%b} {d.day}" for d, _ in points],
        title=title,
        unit="papers",
        ident="per-day",
    )


def home_chart(conn: Connection, listing: DailyList) -> charts.Chart:
    """The home page's chart: papers per day over the 30 days up to the day shown."""
    points = categories.papers_per_day(conn=conn, end=listing.period.end)
    return per_day_chart(points, "Papers per day, last 30 days")


def votes_chart(conn: Connection, row: RowMapping) -> charts.Chart | None:
    """A paper's upvotes over time (None while it has none): stored votes by the day they
    were cast; upvotes imported without a time count from the day it was listed."""
    times = browse_storage.vote_times(conn=conn, paper_id=row["id"])
    before = max(int(row["upvotes"]) - len(times), 0)
    if not times and not before:
        return None
    start = row["day"] or row["published_at"].date()
    return charts.cumulative(
        times, start=start, before=before, title="Upvotes over time", unit="upvotes", ident="votes"
    )


# Authors ---------------------------------------------------------------------------------


@router.get("/authors/{name:path}")
def author_page(request: Request, name: AuthorName, p: Page = 0) -> Response:
    """Every paper by one author, newest first, with co-authors, categories and a chart."""
    limit = request.app.state.settings.page_size
    user = current_user(request)
    with connect(request) as conn:
        try:
            result = authors.author_page(conn=conn, name=name, page=p, limit=limit)
        except authors.BadName as exc:
            bad = {"title": "Bad author name", "message": str(exc)}
            return page(request, "error.html", bad, 400)
        voted = (
            community.voted(conn=conn, user_id=user["id"], ids=[e["id"] for e in result.entries])
            if user and isinstance(result, authors.AuthorPage)
            else set()
        )
    if isinstance(result, authors.NoAuthor):
        missing: dict[str, Any] = {
            "title": "Author not found",
            "message": f"No paper here lists {name[:80]!r} as an author.",
            "similar": result.similar,
            "query": name[:MAX_NAME],
        }
        return page(request, "browse_missing.html", missing, 404)
    months = result.per_month
    chart = charts.bars(
        months,
        short=[dt.date(int(m[:4]), int(m[5:]), 1).strftime("%b %Y") for m, _ in months],
        title=f"Papers per month by {result.name}",
        unit="papers",
        ident="per-month",
        column="Month",
    )
    context: dict[str, Any] = {
        "title": result.name,
        "author": result,
        "chart": chart,
        "voted": voted,
    }
    return page(request, "author.html", context)


def _author_json(result: authors.AuthorPage, base: str) -> dict[str, Any]:
    return {
        "name": result.name,
        "url": base + author_url(result.name),
        "spellings": [{"name": s, "papers": n} for s, n in result.spellings],
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "papers": [shapes.paper_json(row, base=base) for row in result.entries],
        "coauthors": [
            {"name": s, "papers": n, "url": base + author_url(s)} for s, n in result.coauthors
        ],
        "categories": [
            {"id": c, "name": category_name(c), "papers": n} for c, n in result.categories
        ],
        "papersPerMonth": [{"month": m, "papers": n} for m, n in result.per_month],
        "otherNamesWithThisSurname": result.others,
    }


@api_router.get(
    "/authors/{name:path}",
    summary="An author's papers (name variants grouped), co-authors and categories",
    responses=shapes.errors(404, 422),
)
def author_json(
    request: Request,
    name: ApiAuthorName,
    p: Annotated[int, Query(ge=0, le=10_000, description="Page, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Any:
    """The JSON twin of ``/authors/{name}`` (docs/authors.md says how spellings are grouped)."""
    with connect(request) as conn:
        try:
            result = authors.author_page(conn=conn, name=name, page=p, limit=limit)
        except authors.BadName:  # no letters ("1234"): nobody's name
            body = {"error": f"no paper lists {name[:80]!r} as an author", "similar": []}
            return JSONResponse(body, status_code=404)
    if isinstance(result, authors.NoAuthor):
        body = {"error": f"no paper lists {name[:80]!r} as an author", "similar": result.similar}
        return JSONResponse(body, status_code=404)
    return OrjsonResponse(_author_json(result, site_base(request)))


# Categories ------------------------------------------------------------------------------


def _spec_or_error(request: Request, text: str) -> categories.Spec | Response:
    """The parsed spec, or the 400/404 page that says what is wrong and where to go."""
    try:
        return categories.parse_spec(text)
    except categories.SpecError as exc:
        title = "Category not found" if exc.status == 404 else "Bad category"
        context: dict[str, Any] = {"title": title, "message": str(exc), "similar": []}
        return page(request, "browse_missing.html", context, exc.status)


@router.get("/c")
def category_index(request: Request) -> Response:
    """Every arXiv archive and category, by name, each linked to its page."""
    groups: dict[str, list[tuple[str, str]]] = {a: [] for a in sorted(ARCHIVES)}
    for code, name in NAMES.items():
        if code not in ARCHIVES:
            groups[archive_of(code)].append((code, name))
    return page(request, "categories.html", {"title": "Categories", "groups": groups})


@router.get("/c/{spec}")
def category_page(
    request: Request,
    spec: SpecPath,
    date: str | None = None,
    week: str | None = None,
    month: str | None = None,
    p: Page = 0,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
) -> Response:
    """The daily list (day, week or month) of one or more categories, with a chart."""
    parsed = _spec_or_error(request, spec)
    if isinstance(parsed, Response):
        return parsed
    if parsed.path != spec:
        return RedirectResponse(f"/c/{parsed.path}?{request.url.query}".rstrip("?"), 308)
    try:
        period = parse_period(date=date, week=week, month=month)
    except PeriodError as exc:
        return page(request, "error.html", {"title": "Bad date", "message": str(exc)}, 400)
    settings = request.app.state.settings
    user = current_user(request)
    with connect(request) as conn:
        result = categories.category_list(
            conn=conn,
            spec=parsed,
            period=period,
            page=p,
            limit=settings.page_size,
            sort=sort,
            now=settings.now(),
        )
        points = (
            categories.papers_per_day(conn=conn, end=result.period.end, spec=parsed)
            if result
            else []
        )
        voted = (
            community.voted(conn=conn, user_id=user["id"], ids=[e["id"] for e in result.entries])
            if user and result
            else set()
        )
    context: dict[str, Any] = {"title": parsed.label, "spec": parsed, "voted": voted}
    if result is None or not result.entries:
        context |= {
            "message": "Nothing in these categories was listed for that period."
            if result
            else "Nothing in these categories is listed yet.",
            "listing": result,
        }
        return page(request, "category.html", context, 404)
    chart = per_day_chart(
        points, f"Papers per day in {parsed.path}, 30 days to {result.period.end}"
    )
    context |= {"listing": result, "chart": chart}
    return page(request, "category.html", context)


@router.get("/c/{spec}/trending")
def category_trending(
    request: Request,
    spec: SpecPath,
    span: Literal["day", "week", "month"] = "day",
    p: Page = 0,
) -> Response:
    """Trending papers in the categories over the latest day, week or month."""
    parsed = _spec_or_error(request, spec)
    if isinstance(parsed, Response):
        return parsed
    if parsed.path != spec:
        return RedirectResponse(f"/c/{parsed.path}/trending?span={span}&p={p}", 308)
    settings = request.app.state.settings
    with connect(request) as conn:
        result = categories.category_trending(
            conn=conn,
            spec=parsed,
            span=span,
            page=p,
            limit=settings.page_size,
            now=settings.now(),
        )
    if result is None:
        return page(request, "empty.html", {"title": "No papers yet"})
    titles = {"day": "today", "week": "this week", "month": "this month"}
    return page(
        request,
        "trending.html",
        {
            "title": f"Trending in {parsed.label} {titles[span]}",
            "listing": result,
            "span": span,
            "spans": list(TRENDING_SPANS),
            "spec": parsed,
        },
    )


def category_filter(request: Request, value: str | None, target: str) -> Response | None:
    """For ``category=`` on ``/papers`` and ``/trending``: None without one; a redirect to
    the category's page (``target``: ``""`` or ``"/trending"``) keeping the other
    parameters; or the 400/404 page for a bad one."""
    if value is None:
        return None
    parsed = _spec_or_error(request, value)
    if isinstance(parsed, Response):
        if parsed.status_code == 404:
            parsed.status_code = 400  # a filter value, not an address: the request is bad
        return parsed
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "category"]
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in rest)
    return RedirectResponse(f"/c/{parsed.path}{target}" + (f"?{query}" if query else ""), 307)
