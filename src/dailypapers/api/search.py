"""``/api/papers/search`` and ``/api/papers/{id}/similar``: JSON twins of search and related."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dailypapers.api import shapes
from dailypapers.api.responses import OrjsonResponse
from dailypapers.api.routes import api_error
from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import daily
from dailypapers.queries.search import Filters, Mode, Searcher, SortBy
from dailypapers.web.deps import connect, get_searcher
from dailypapers.web.params import Day

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
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    p: Annotated[int, Query(ge=0, le=1000)] = 0,
    mode: Mode = "hybrid",
    category: Annotated[str | None, Query(max_length=64)] = None,
    author: Annotated[str | None, Query(max_length=200)] = None,
    date_from: Annotated[Day | None, Query(alias="from")] = None,
    date_to: Annotated[Day | None, Query(alias="to")] = None,
    sort: SortBy = "relevance",
) -> Any:
    """Papers matching ``q``, in Hugging Face's paper-search item shape plus ``score``."""
    with connect(request) as conn:
        result = searcher.search(
            conn=conn,
            q=q,
            mode=mode,
            filters=Filters(category=category, author=author, date_from=date_from, date_to=date_to),
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
    hits = [{**shapes.daily_entry_json(hit.row), "score": hit.score} for hit in result.hits]
    return OrjsonResponse(hits)


@router.get(
    "/{arxiv_id:path}/similar",
    summary="Related papers (nearest by embedding)",
    response_model=list[shapes.PaperOut],
    responses=shapes.errors(404, 422, 503),
)
def similar(
    arxiv_id: str,
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
    return OrjsonResponse([shapes.paper_json(row) for row in rows])
