"""Day, ISO-week and month periods: parsing from URLs, labels and navigation targets."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["day", "week", "month"]
WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
# Lists, searches and previews take dates in these years only: arXiv began in 1991, and a
# bound well inside ``datetime.date``'s range means "the next day or week" never overflows.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)


class PeriodError(ValueError):
    """A date, week or month parameter that cannot be read; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days a list covers."""

    kind: Kind
    start: dt.date
    end: dt.date

    @property
    def param(self) -> str:
        """The query-string value that selects this period (``2026-06-01``, ``2026-W23``)."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def query(self) -> str:
        """The query string for the HTML list (``date=...``, ``week=...``, ``month=...``)."""
        return f"{'date' if self.kind == 'day' else self.kind}={self.param}"

    @property
    def label(self) -> str:
        """A short human label: ``Jun 8``, ``Week 23, 2026``, ``June 2026``."""
        if self.kind == "day":
            return f"{self.start:%b} {self.start.day}, {self.start.year}"
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"Week {week}, {year}"
        return f"{self.start:%B %Y}"


def day(value: dt.date) -> Period:
    """The one-day period."""
    return Period("day", value, value)


def week_of(value: dt.date) -> Period:
    """The ISO week (Monday to Sunday) containing ``value``."""
    start = value - dt.timedelta(days=value.weekday())
    return Period("week", start, start + dt.timedelta(days=6))


def month_of(value: dt.date) -> Period:
    """The calendar month containing ``value``."""
    last = calendar.monthrange(value.year, value.month)[1]
    return Period("month", value.replace(day=1), value.replace(day=last))


def around(kind: Kind, value: dt.date) -> Period:
    """The period of ``kind`` containing ``value``."""
    return {"day": day, "week": week_of, "month": month_of}[kind](value)


def check_date(value: dt.date) -> dt.date:
    """``value`` if it lies between MIN_DATE and MAX_DATE; PeriodError otherwise."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise PeriodError(f"dates must lie between {MIN_DATE} and {MAX_DATE}, got {value}")
    return value


def parse_day(value: str | None, name: str) -> dt.date | None:
    """A date filter (``from``, ``to``) written YYYY-MM-DD; None when empty; PeriodError
    naming ``name`` when it is not a date between MIN_DATE and MAX_DATE."""
    value = (value or "").strip()
    return _day(value, name) if value else None


def _day(value: str, name: str) -> dt.date:
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"{name} must look like YYYY-MM-DD, got {value[:40]!r}") from None
    try:
        return check_date(parsed)
    except PeriodError as exc:
        raise PeriodError(f"{name}: {exc}") from None


def parse_period(
    *, date: str | None = None, week: str | None = None, month: str | None = None
) -> Period | None:
    """Read at most one of date / week / month; None when none is given."""
    given = [(k, v) for k, v in (("date", date), ("week", week), ("month", month)) if v]
    if len(given) > 1:
        raise PeriodError("give only one of date, week and month")
    if not given:
        return None
    kind, value = given[0]
    value = value.strip()
    if kind == "date":
        return day(_day(value, "date"))
    try:
        if kind == "week":
            match = WEEK.match(value)
            if not match:
                raise ValueError
            return week_of(check_date(dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)))
        match = MONTH.match(value)
        if not match:
            raise ValueError
        return month_of(check_date(dt.date(int(match[1]), int(match[2]), 1)))
    except PeriodError:
        raise
    except ValueError:
        expected = {"week": "YYYY-Www", "month": "YYYY-MM"}[kind]
        raise PeriodError(f"{kind} must look like {expected}, got {value[:40]!r}") from None
