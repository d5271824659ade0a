"""``/api/daily_papers`` and ``/api/papers/{id}``: the JSON twins of the list and paper pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from dailypapers.api import shapes
from dailypapers.api.responses import OrjsonResponse
from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import daily
from dailypapers.queries.periods import PeriodError, parse_period
from dailypapers.web.deps import connect

router = APIRouter(prefix="/api", tags=["papers"])


def api_error(status: int, message: str) -> JSONResponse:
    """A JSON error body ``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


@router.get(
    "/daily_papers",
    summary="Papers on a day's, week's or month's list",
    response_model=list[shapes.DailyEntryOut],
    responses=shapes.errors(422),
)
def daily_papers(
    request: Request,
    date: Annotated[str | None, Query(description="YYYY-MM-DD")] = None,
    week: Annotated[str | None, Query(description="YYYY-Www (ISO week)")] = None,
    month: Annotated[str | None, Query(description="YYYY-MM")] = None,
    p: Annotated[int, Query(ge=0, le=10_000, description="Page, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    submitter: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """The list for the period (the latest listed day when none is given), HF's item shape."""
    try:
        period = parse_period(date=date, week=week, month=month)
    except PeriodError as exc:
        return api_error(422, str(exc))
    with connect(request) as conn:
        result = daily.daily_list(
            conn=conn,
            period=period,
            page=p,
            limit=limit,
            sort=sort,
            submitter=submitter,
            now=request.app.state.settings.now(),
        )
    if result is None:
        return OrjsonResponse([])
    return OrjsonResponse([shapes.daily_entry_json(row) for row in result.entries])


@router.get(
    "/papers/{arxiv_id:path}",
    summary="One paper",
    response_model=shapes.PaperOut,
    responses=shapes.errors(404, 422),
)
def paper(arxiv_id: str, request: Request) -> Any:
    """A paper by arXiv id (a version suffix is accepted and ignored)."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id)
    except Rejected as exc:
        return api_error(422, str(exc))
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=canonical)
    if row is None:
        return api_error(404, f"paper {canonical} not found")
    return OrjsonResponse(shapes.paper_json(row))
