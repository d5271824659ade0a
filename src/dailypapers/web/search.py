"""The search page: a query box with filters, highlighted results and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dailypapers.queries import daily
from dailypapers.queries.periods import PeriodError
from dailypapers.queries.search import Filters, Mode, Searcher, SortBy
from dailypapers.web.deps import connect, get_searcher
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)

CATEGORIES = [
    "cs.AI",
    "cs.CL",
    "cs.CV",
    "cs.LG",
    "cs.RO",
    "cs.CR",
    "cs.IR",
    "cs.HC",
    "cs.SE",
    "cs.NE",
    "stat.ML",
    "eess.IV",
    "eess.AS",
    "math.OC",
    "physics",
    "q-bio",
]


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    searcher: Annotated[Searcher, Depends(get_searcher)],
    q: Annotated[str, Query(max_length=10_000)] = "",
    mode: Mode = "hybrid",
    category: Annotated[str, Query(max_length=64)] = "",
    author: Annotated[str, Query(max_length=200)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    sort: SortBy = "relevance",
    p: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> Response:
    """Search results for ``q`` with the chosen filters; a bad date is a 400 page that keeps
    the form filled in and says which date is wrong."""
    if q.strip():
        with connect(request) as conn:  # an arXiv id or URL: straight to that paper
            named = daily.named_paper(conn=conn, q=q)
        if named is not None:
            return RedirectResponse(f"/papers/{named['id']}", status_code=303)
    problem = None
    try:
        filters = Filters.read(
            category=category, author=author, date_from=date_from, date_to=date_to
        )
    except PeriodError as exc:
        problem = str(exc)
    searched = bool(q.strip() or category or author or date_from or date_to)
    result = None
    if searched and problem is None:
        with connect(request) as conn:
            result = searcher.search(
                conn=conn, q=q, mode=mode, filters=filters, sort=sort, page=p, limit=20
            )
    params = {
        "q": q,
        "mode": mode,
        "category": category,
        "author": author,
        "from": date_from,
        "to": date_to,
        "sort": sort,
    }
    unavailable = result is not None and result.unavailable is not None
    response = page(
        request,
        "search.html",
        {
            "title": f"Search: {q}" if q else "Search",
            "result": result,
            "params": params,
            "categories": CATEGORIES,
            "query": q,
            "problem": problem,
        },
        # A bad date, or a missing or damaged index: the page explains it, with the status
        # that says so.
        400 if problem else 503 if unavailable else 200,
    )
    if unavailable:
        response.headers["Retry-After"] = "60"
    return response
