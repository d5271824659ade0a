"""Bounded request parameters shared by pages and the JSON API.

Every id, date and free-text value a route accepts is declared with one of these types, so a
value the database cannot hold (an id past its integer column, a date whose next day
overflows, a megabyte of text) is refused as a 400 page or a 422 JSON error before the
handler runs, never met as a 500 in the middle of a query.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from annotated_types import Interval
from fastapi import Depends, Form, Path, Request
from pydantic import Field
from starlette.datastructures import FormData

from dailypapers.queries.periods import MAX_DATE, MIN_DATE

# Ids are INTEGER columns: 64-bit on SQLite but 32-bit on PostgreSQL, so the common bound.
MAX_ID = 2**31 - 1
MAX_USERNAME = 64

PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="A numeric id")]
FormId = Annotated[int, Form(ge=1, le=MAX_ID)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
Username = Annotated[str, Path(min_length=1, max_length=MAX_USERNAME)]
Day = Annotated[dt.date, Interval(ge=MIN_DATE, le=MAX_DATE)]
OptionalFormId = Annotated[int | None, Form(ge=1, le=MAX_ID)]


async def read_form(request: Request) -> FormData:
    """The request's form, read on the event loop, so the handler that takes it can be a plain
    ``def``: FastAPI runs those in its thread pool. An ``async def`` handler that reads its own
    form runs everything after it (database waits, parsing) on the event loop, where it stalls
    every other request of the worker."""
    return await request.form()


AnyForm = Annotated[FormData, Depends(read_form)]
