"""``/api/papers/search`` and ``/api/papers/{id}/similar``: JSON twins of search and related."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.engine import RowMapping

from dailypapers.api import shapes
from dailypapers.api.params import DATE_PATTERN, ArxivIdPath
from dailypapers.api.responses import OrjsonResponse
from dailypapers.api.routes import api_error, site_base
from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import daily
from dailypapers.queries.search import Filters, Mode, Searcher, SortBy
from dailypapers.web.deps import connect, get_searcher

router = APIRouter(prefix="/api/papers", tags=["search"])


@router.get(
    "/search",
    summary="Search papers (hybrid keyword + semantic by default)",
    response_model=list[shapes.SearchHitOut],
    responses=shapes.errors(422, 503),
)
def search(
    request: Request,
    searcher: Annotated[Searcher, Depends(get_searcher)],
    q: Annotated[
        str,
        Query(
            max_length=10_000, description='Query: words, "phrases", -not, author:, cat:, title:'
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=120)] = 20,
    p: Annotated[int, Query(ge=0, le=1000)] = 0,
    mode: Mode = "hybrid",
    category: Annotated[str | None, Query(max_length=64)] = None,
    author: Annotated[str | None, Query(max_length=200)] = None,
    date_from: Annotated[
        str | None,
        Query(alias="from", pattern=DATE_PATTERN, description="Published on or after, YYYY-MM-DD"),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(alias="to", pattern=DATE_PATTERN, description="Published on or before, YYYY-MM-DD"),
    ] = None,
    sort: SortBy = "relevance",
) -> Any:
    """Papers matching ``q``, in Hugging Face's paper-search item shape plus ``score``.

    An arXiv id or URL as the query finds that paper (score 1), first on the first page."""
    base = site_base(request)
    with connect(request) as conn:
        named = daily.named_paper(conn=conn, q=q) if p == 0 else None
        result = searcher.search(
            conn=conn,
            q=q,
            mode=mode,
            filters=Filters(
                category=category,
                author=author,
                date_from=dt.date.fromisoformat(date_from) if date_from else None,
                date_to=dt.date.fromisoformat(date_to) if date_to else None,
            ),
            sort=sort,
            page=p,
            limit=limit,
            highlight_hits=False,
        )
    if result.unavailable is not None:
        # The index is missing or damaged: say so (the database and the rest of the API work).
        response = api_error(503, f"{result.message} ({result.unavailable.state})")
        response.headers["Retry-After"] = "60"
        return response
    hits = [_hit(hit.row, hit.score, base) for hit in result.hits]
    if named is not None:
        hits = [_hit(named, 1.0, base)] + [h for h in hits if h["paper"]["id"] != named["id"]]
    return OrjsonResponse(hits[:limit])


def _hit(row: RowMapping, score: float, base: str) -> dict[str, Any]:
    entry = shapes.daily_entry_json(row, base=base)
    if row["day"] is None:  # a paper on no list: no listing time, date nor submitter
        entry.update(publishedAt=None, submittedBy=None, date=None)
    return {**entry, "score": score}


@router.get(
    "/{arxiv_id:arxiv}/similar",
    summary="Related papers (nearest by embedding)",
    response_model=list[shapes.PaperOut],
    responses=shapes.errors(404, 422, 503),
)
def similar(
    arxiv_id: ArxivIdPath,
    request: Request,
    searcher: Annotated[Searcher, Depends(get_searcher)],
    limit: Annotated[int, Query(ge=1, le=50)] = 6,
) -> Any:
    """Papers nearest to this one by embedding, itself excluded."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id)
    except Rejected as exc:
        return api_error(422, str(exc))
    with connect(request) as conn:
        if daily.paper_detail(conn=conn, arxiv_id=canonical) is None:
            return api_error(404, f"paper {canonical} not found")
        rows = searcher.similar(conn=conn, arxiv_id=canonical, limit=limit)
    base = site_base(request)
    return OrjsonResponse([shapes.paper_json(row, base=base) for row in rows])
