"""HTML pages: the daily list (day, week, month), paper pages and health."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import citations, comments, daily
from dailypapers.queries.periods import PeriodError, parse_period
from dailypapers.queries.search import Searcher
from dailypapers.render.latex import to_text
from dailypapers.storage import community
from dailypapers.storage.papers import count_papers
from dailypapers.web.auth import current_user
from dailypapers.web.browse import category_filter, home_chart, votes_chart
from dailypapers.web.citations import meta_tags
from dailypapers.web.citations import router as citations_router
from dailypapers.web.deps import connect, get_searcher
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)
# /papers/{id}.bib first: /papers/{arxiv_id:path} below would take it.
router.include_router(citations_router)


def not_found(request: Request, title: str, message: str, **extra: object) -> HTMLResponse:
    """A 404 page that says what was not found and where to go instead."""
    return page(request, "error.html", {"title": title, "message": message, **extra}, 404)


def _list_page(
    request: Request,
    *,
    date: str | None,
    week: str | None,
    month: str | None,
    p: int,
    sort: Literal["publishedAt", "trending"],
) -> Response:
    try:
        period = parse_period(date=date, week=week, month=month)
    except PeriodError as exc:
        return page(request, "error.html", {"title": "Bad date", "message": str(exc)}, 400)
    limit = request.app.state.settings.page_size
    user = current_user(request)
    with connect(request) as conn:
        result = daily.daily_list(
            conn=conn,
            period=period,
            page=p,
            limit=limit,
            sort=sort,
            now=request.app.state.settings.now(),
        )
        latest = (
            daily.daily_list(conn=conn, period=None, limit=1)
            if result is not None and not result.entries
            else None
        )
        voted = (
            community.voted(conn=conn, user_id=user["id"], ids=[e["id"] for e in result.entries])
            if user and result
            else set()
        )
        chart = home_chart(conn, result) if result and result.entries else None
    if result is None:
        return page(request, "empty.html", {"title": "No papers yet"})
    if not result.entries:
        return not_found(
            request,
            f"No papers for {result.period.label}",
            "Nothing was listed for that period.",
            previous=result.previous,
            next=result.next,
            latest=latest.period if latest else None,
        )
    context = {"listing": result, "title": result.period.label, "voted": voted, "chart": chart}
    return page(request, "list.html", context)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    p: Annotated[int, Query(ge=0, le=10_000)] = 0,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    category: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The latest day's list (``?category=``: the category's page, web/browse.py)."""
    if (narrowed := category_filter(request, category, "")) is not None:
        return narrowed
    return _list_page(request, date=None, week=None, month=None, p=p, sort=sort)


@router.get("/papers", response_class=HTMLResponse)
def papers_list(
    request: Request,
    date: str | None = None,
    week: str | None = None,
    month: str | None = None,
    p: Annotated[int, Query(ge=0, le=10_000)] = 0,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    category: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """A day's (``?date=``), week's (``?week=``) or month's (``?month=``) list; with
    ``?category=`` the same view of the category's page (web/browse.py)."""
    if (narrowed := category_filter(request, category, "")) is not None:
        return narrowed
    return _list_page(request, date=date, week=week, month=month, p=p, sort=sort)


@router.get("/papers/{arxiv_id:path}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    arxiv_id: str,
    searcher: Annotated[Searcher, Depends(get_searcher)],
) -> Response:
    """One paper: full abstract, authors, categories, links and BibTeX."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id)
    except Rejected:
        return not_found(request, "Paper not found", f"{arxiv_id[:80]!r} is not an arXiv id.")
    if canonical != arxiv_id:
        return RedirectResponse(f"/papers/{canonical}", status_code=308)
    user = current_user(request)
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=canonical)
        related = searcher.similar(conn=conn, arxiv_id=canonical, limit=6) if row else []
        threads = (
            comments.threads(
                conn=conn, paper_id=canonical, moderator=bool(user and user["is_admin"])
            )
            if row
            else []
        )
        voted = (
            community.voted(
                conn=conn, user_id=user["id"], ids=[canonical, *(r["id"] for r in related)]
            )
            if user and row
            else set()
        )
        bibtex = citations.bibtex(conn=conn, row=row) if row else ""
        chart = votes_chart(conn, row) if row else None
    if row is None:
        return not_found(request, "Paper not found", f"No paper {canonical} is stored here.")
    settings = request.app.state.settings
    return page(
        request,
        "paper.html",
        {
            "paper": row,
            "title": to_text(row["title"], dollar="$"),  # the <title>: plain text
            "links": daily.arxiv_links(row),
            "bibtex": bibtex,
            "meta_tags": meta_tags(
                row=row, base_url=settings.base_url, site_name=settings.site_name
            ),
            "related": related,
            "threads": threads,
            "comment_count": comments.count(threads),
            "voted": voted,
            "chart": chart,
        },
    )


@router.get("/health")
def health(request: Request, searcher: Annotated[Searcher, Depends(get_searcher)]) -> Response:
    """503 when the database does not answer; otherwise 200, ``"status": "degraded"`` when
    the search index is broken or storage is full (the site still serves pages)."""
    # The build served, its age, the papers since it (live delta), the newest published build.
    index = {**searcher.store.status().as_json(), **request.app.state.follower.state.as_json()}
    storage = request.app.state.storage_alarm.status()
    try:
        with connect(request) as conn:
            conn.execute(text("SELECT 1"))
            papers = count_papers(conn=conn)
    except Exception as exc:  # any database failure means unhealthy
        body = {"status": "error", "database": str(exc)[:200], "index": index, "storage": storage}
        return JSONResponse(body, status_code=503)
    degraded = index["state"] == "broken" or storage["state"] != "ok"
    return JSONResponse(
        {
            "status": "degraded" if degraded else "ok",
            "database": "ok",
            "papers": papers,
            "index": index,
            "storage": storage,
        }
    )
