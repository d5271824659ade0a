"""The API's id, date, week and month parameters, with patterns that say exactly what is
accepted: OpenAPI shows them (with examples), the server enforces them, and a client
generated from the spec never sends a value the server refuses, nor the other way round.

Dates, weeks and months lie between 1900 and 2999 (``queries/periods.py``); the patterns
spell out real calendar days (leap years included) and the years that have an ISO week 53.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path, Query
from starlette.convertors import Convertor, register_url_convertor

from dailypapers.queries.periods import MAX_DATE, MIN_DATE

_YEAR = r"(?:19|2\d)\d{2}"
_LEAP = r"(?:(?:19|2\d)(?:0[48]|[2468][048]|[13579][26])|2[048]00)"
DATE_PATTERN = (
    rf"^(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    rf"|(?:0[13578]|1[02])-31)|{_LEAP}-02-29)$"
)


def _long_years() -> str:
    """The years from MIN_DATE to MAX_DATE with an ISO week 53, as one regex group."""
    years = [
        y
        for y in range(MIN_DATE.year, MAX_DATE.year + 1)
        if dt.date(y, 12, 28).isocalendar()[1] == 53
    ]
    by_century: dict[int, list[str]] = {}
    for year in years:
        by_century.setdefault(year // 100, []).append(f"{year % 100:02d}")
    return "|".join(f"{c}(?:{'|'.join(ys)})" for c, ys in by_century.items())


WEEK_PATTERN = rf"^(?:{_YEAR}-W(?:0[1-9]|[1-4]\d|5[0-2])|(?:{_long_years()})-W53)$"
MONTH_PATTERN = rf"^{_YEAR}-(?:0[1-9]|1[0-2])$"
# arXiv ids: 4 digits after the dot up to 1500, 5 from 1501; old-style archive/YYMMNNN.
ARXIV_ID_PATTERN = (
    r"^(?:(?:0\d{3}|1[0-4]\d{2}|1500)\.\d{4}"
    r"|(?:150[1-9]|15[1-9]\d|1[6-9]\d{2}|[2-9]\d{3})\.\d{5}"
    r"|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v[1-9]\d{0,5})?$"
)


class ArxivIdConvertor(Convertor[str]):
    """``{arxiv_id:arxiv}`` in a route: one path segment, or an old-style ``archive/NNNNNNN``
    id. Unlike ``:path`` it never swallows a trailing ``/submit`` or ``/upvote``, so such
    an address with the wrong method is a 405 (with ``Allow``), not a paper lookup."""

    regex = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?|[^/]+"

    def convert(self, value: str) -> str:
        """The id as written."""
        return value

    def to_string(self, value: str) -> str:
        """The id as written."""
        return value


register_url_convertor("arxiv", ArxivIdConvertor())

DateParam = Annotated[
    str | None,
    Query(
        pattern=DATE_PATTERN,
        description="A day, YYYY-MM-DD (1900 to 2999)",
        examples=["2024-10-25"],
    ),
]
WeekParam = Annotated[
    str | None,
    Query(
        pattern=WEEK_PATTERN,
        description="An ISO week, YYYY-Www (1900 to 2999)",
        examples=["2025-W09"],
    ),
]
MonthParam = Annotated[
    str | None,
    Query(pattern=MONTH_PATTERN, description="A month, YYYY-MM", examples=["2025-02"]),
]
ArxivIdPath = Annotated[
    str,
    Path(
        pattern=ARXIV_ID_PATTERN,
        description="An arXiv id, optionally with a version (ignored)",
        examples=["2410.17243", "2410.17243v2", "hep-th/9901001"],
    ),
]

_FORMATS = {
    "date": "a day, YYYY-MM-DD, from 1900 to 2999",
    "from": "a day, YYYY-MM-DD, from 1900 to 2999",
    "to": "a day, YYYY-MM-DD, from 1900 to 2999",
    "week": "an ISO week, YYYY-Www, from 1900 to 2999",
    "month": "a month, YYYY-MM, from 1900 to 2999",
    "arxiv_id": "an arXiv id such as 2410.17243, 2410.17243v2 or hep-th/9901001",
    "cursor": "the cursor of a previous page's Link header",
}


def pattern_message(name: str, value: object) -> str:
    """What a value refused by its parameter's pattern should have been, in words."""
    expected = _FORMATS.get(name, "a value matching the documented pattern")
    return f"must be {expected}, got {str(value)[:40]!r}"
