"""Category pages and filters: ``/c/cs.CL+cs.LG`` and ``category=`` on lists and the API.

A category spec names one or more arXiv categories or archives joined by ``+`` (as arXiv's
``/list/cs.CL+cs.LG``); an archive (``cs``) covers every category under it. Names are checked
against arXiv's taxonomy (sources/categories.py) and written in its spelling (``cs.cl`` is
``cs.CL``). The lists are the daily list's (queries/daily.py) with the category condition.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection

from dailypapers.queries import periods
from dailypapers.queries.daily import TRENDING_SPANS, DailyList, trending_page
from dailypapers.queries.periods import Period
from dailypapers.sources.categories import CATEGORIES, category_name, unknown_category
from dailypapers.storage import browse, daily

MAX_SPEC = 200  # characters
MAX_PARTS = browse.MAX_CATEGORIES
_NAME = r"[A-Za-z][A-Za-z-]{0,15}(?:\.[A-Za-z][A-Za-z-]{0,15})?"
_PART = re.compile(_NAME)
# What ``parse_spec`` reads, for the API's OpenAPI (a name may still be unknown: a 404).
SPEC_PATTERN = rf"^[+ ,]*{_NAME}(?:[+ ,]+{_NAME}){{0,{MAX_PARTS - 1}}}[+ ,]*$"
_CANONICAL = {c.lower(): c for c in CATEGORIES}


class SpecError(ValueError):
    """A category spec that is malformed (``status`` 400) or names an unknown category
    (``status`` 404, with the nearest known names in the message)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Spec:
    """Validated categories, in the order given, without repeats."""

    names: tuple[str, ...]

    @property
    def path(self) -> str:
        """``cs.CL+cs.LG``: the canonical spelling, for URLs."""
        return "+".join(self.names)

    @property
    def label(self) -> str:
        """``Computation and Language + Machine Learning``."""
        return " + ".join(category_name(n) for n in self.names)


def parse_spec(text: str) -> Spec:
    """Read ``cs.CL+cs.LG`` (also separated by spaces or commas: a ``+`` in a query string
    arrives as a space). Raises ``SpecError``: 400 for text that does not match
    ``SPEC_PATTERN``, 404 for a well-formed name arXiv does not have."""
    if len(text) > MAX_SPEC:
        raise SpecError(f"a category list is at most {MAX_SPEC} characters", 400)
    parts = [p for p in re.split(r"[+ ,]+", text) if p]
    if not parts:
        raise SpecError("name a category, such as cs.CL, or an archive, such as cs", 400)
    if len(parts) > MAX_PARTS:
        raise SpecError(f"at most {MAX_PARTS} categories at once", 400)
    names: list[str] = []
    for part in parts:
        if not _PART.fullmatch(part):
            raise SpecError(f"{part[:40]!r} is not written like an arXiv category (cs.CL)", 400)
        canonical = _CANONICAL.get(part.lower())
        if canonical is None:
            raise SpecError(unknown_category(part) or part, 404)
        names.append(canonical)
    return Spec(tuple(dict.fromkeys(names)))


def category_list(
    *,
    conn: Connection,
    spec: Spec,
    period: Period | None,
    page: int = 0,
    limit: int = 50,
    sort: daily.Sort = "publishedAt",
    submitter: str | None = None,
    now: dt.datetime | None = None,
) -> DailyList | None:
    """The daily list of ``period`` narrowed to ``spec`` (the latest day with a paper in it
    when None); None when nothing in the categories is listed. A fixed number of queries."""
    names = spec.names
    if period is None and submitter:
        period = Period("day", periods.MIN_DATE, periods.MAX_DATE)
    if period is None:
        latest = daily.latest_day(conn=conn, categories=names)
        if latest is None:
            return None
        period = periods.day(latest)
    if sort == "trending":
        entries, total = trending_page(conn, period, page, limit, submitter, now, names)
    else:
        entries, total = daily.list_entries(
            conn=conn,
            start=period.start,
            end=period.end,
            submitter=submitter,
            offset=page * limit,
            limit=limit,
            categories=names,
        )
    before, after = daily.neighbour_days(
        conn=conn, start=period.start, end=period.end, categories=names
    )
    previous = periods.around(period.kind, before) if before else None
    following = periods.around(period.kind, after) if after else None
    return DailyList(period, entries, total, page, limit, previous, following, sort)


def category_trending(
    *,
    conn: Connection,
    spec: Spec,
    span: str,
    page: int = 0,
    limit: int = 50,
    now: dt.datetime | None = None,
) -> DailyList | None:
    """Trending papers in ``spec`` over the last day, 7 or 30 days up to the latest listed
    day (as ``queries/daily.trending_list``); None when nothing is listed."""
    now = now or dt.datetime.now(dt.UTC)
    latest = daily.latest_day(conn=conn, on_or_before=now.date())
    if latest is None:
        return None
    start = latest - dt.timedelta(days=TRENDING_SPANS[span] - 1)
    period = Period("day", start, latest)
    entries, total = trending_page(conn, period, page, limit, None, now, spec.names)
    return DailyList(period, entries, total, page, limit, None, None, "trending")


def papers_per_day(
    *, conn: Connection, end: dt.date, days: int = 30, spec: Spec | None = None
) -> list[tuple[dt.date, int]]:
    """Papers listed on each of the ``days`` days up to ``end`` (empty days as 0), oldest
    first: what the papers-per-day chart draws."""
    start = end - dt.timedelta(days=days - 1)
    counts = browse.papers_per_day(
        conn=conn, start=start, end=end, categories=spec.names if spec else ()
    )
    return [
        (start + dt.timedelta(days=i), counts.get(start + dt.timedelta(days=i), 0))
        for i in range(days)
    ]
