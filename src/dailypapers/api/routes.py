"""``/api/daily_papers``, ``/api/papers`` and ``/api/papers/{id}``: the JSON twins of the list
and paper pages, in Hugging Face's shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from dailypapers.api import shapes
from dailypapers.api.params import ARXIV_ID_PATTERN, ArxivIdPath, DateParam, MonthParam, WeekParam
from dailypapers.api.responses import OrjsonResponse
from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import categories, daily
from dailypapers.queries.periods import PeriodError, parse_period
from dailypapers.web.deps import connect

router = APIRouter(prefix="/api", tags=["papers"])


def api_error(status: int, message: str) -> JSONResponse:
    """A JSON error body ``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


def site_base(request: Request) -> str:
    """The site's public URL without a trailing slash (absolute links in API bodies)."""
    return str(request.app.state.settings.base_url).rstrip("/")


@router.get(
    "/daily_papers",
    summary="Papers on a day's, week's or month's list, or one submitter's",
    response_model=list[shapes.DailyEntryOut],
    responses=shapes.errors(404, 422),
)
def daily_papers(
    request: Request,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    p: Annotated[int, Query(ge=0, le=10_000, description="Page, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    submitter: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Username of the submitter (``arxiv``: papers featured "
            "automatically). Without a date, week or month: all of their submissions.",
            examples=["akhaliq"],
        ),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            max_length=categories.MAX_SPEC,
            pattern=categories.SPEC_PATTERN,
            description="Only papers in these arXiv categories or archives, joined by + or "
            "commas (``cs`` is every ``cs.*``); without a period, the latest day with one. "
            "404 for a category arXiv does not have.",
            examples=["cs.CL", "cs.CL+cs.LG", "cs"],
        ),
    ] = None,
) -> Any:
    """The list for the period (the latest listed day when none is given; a submitter's
    submissions, newest first, when only ``submitter`` is given), HF's item shape.

    When more than one of ``date``, ``week`` and ``month`` is given, the first of them in
    that order is used."""
    if date:
        week = month = None
    elif week:
        month = None
    try:
        period = parse_period(date=date, week=week, month=month)
    except PeriodError as exc:
        return api_error(422, str(exc))
    try:
        spec = categories.parse_spec(category) if category is not None else None
    except categories.SpecError as exc:
        return api_error(404 if exc.status == 404 else 422, f"category: {exc}")
    with connect(request) as conn:
        if spec is None:
            result = daily.daily_list(
                conn=conn,
                period=period,
                page=p,
                limit=limit,
                sort=sort,
                submitter=submitter,
                now=request.app.state.settings.now(),
            )
        else:
            result = categories.category_list(
                conn=conn,
                spec=spec,
                period=period,
                page=p,
                limit=limit,
                sort=sort,
                submitter=submitter,
                now=request.app.state.settings.now(),
            )
    if result is None:
        return OrjsonResponse([])
    base = site_base(request)
    return OrjsonResponse([shapes.daily_entry_json(row, base=base) for row in result.entries])


@router.get(
    "/papers",
    summary="All papers, page by page",
    response_model=list[shapes.PaperOut],
    responses={
        **shapes.errors(422),
        200: {
            "description": 'A page of papers; the ``Link`` header (``rel="next"``) points '
            "at the next page when there is one.",
        },
    },
)
def list_papers(
    request: Request,
    cursor: Annotated[
        str | None,
        Query(
            pattern=ARXIV_ID_PATTERN,
            description="Where to continue: the papers after this id (the ``cursor`` of the "
            "previous page's ``Link`` header)",
            examples=["2410.17243"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Any:
    """Every paper stored here, listed or not, by arXiv id descending (newest first)."""
    before = parse_arxiv_id(cursor)[0] if cursor else None
    with connect(request) as conn:
        rows = daily.papers_page(conn=conn, before=before, limit=limit + 1)
    base = site_base(request)
    response = OrjsonResponse([shapes.paper_json(row, base=base) for row in rows[:limit]])
    if len(rows) > limit:
        following = f"{base}/api/papers?cursor={quote(rows[limit - 1]['id'], safe='')}"
        response.headers["Link"] = f'<{following}&limit={limit}>; rel="next"'
    return response


@router.get(
    "/papers/{arxiv_id:arxiv}",
    summary="One paper",
    response_model=shapes.PaperOut,
    responses=shapes.errors(404, 422),
)
def paper(arxiv_id: ArxivIdPath, request: Request) -> Any:
    """A paper by arXiv id (a version suffix is accepted and ignored)."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id)
    except Rejected as exc:
        return api_error(422, str(exc))
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=canonical)
    if row is None:
        return api_error(404, f"paper {canonical} not found")
    return OrjsonResponse(shapes.paper_json(row, base=site_base(request)))
