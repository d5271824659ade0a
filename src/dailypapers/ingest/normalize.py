"""Turn loosely typed ``RawPaper`` records into validated ``Paper`` records, or a reason to reject.

Handles arXiv ids (new and old style, URLs, ``arXiv:`` prefixes, versions), whitespace
(arXiv hard-wraps abstracts at ~80 columns), LaTeX accents in names, categories and dates.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import re
import unicodedata
import zoneinfo

from dailypapers.records import Paper, RawPaper
from dailypapers.urls import url_or_text

NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
OLD_ID = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$")
CATEGORY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")
ID_PREFIX = re.compile(
    r"^(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/|arxiv:)", re.IGNORECASE
)
MAX_TITLE = 1000
MAX_ABSTRACT = 20000
MAX_AUTHORS = 5000
MAX_FIELD = 5000  # an author name, comment, journal reference or DOI
MAX_CATEGORY = 64  # the column's width
MAX_SUBMITTER = 200  # the column's width
MAX_UPVOTES = 2**31 - 1  # a 32-bit integer column on PostgreSQL
# Dates outside these years are data errors (arXiv started in 1991), and far dates overflow
# once converted to UTC (9999-12-31T23:59:59-05:00 is past datetime.max).
MIN_YEAR, MAX_YEAR = 1900, 2200


class Rejected(ValueError):
    """A record that cannot be stored; the message is the reason shown in the report."""


def parse_arxiv_id(value: str) -> tuple[str, int | None]:
    """Split an arXiv id, URL or ``arXiv:`` reference into (id without version, version)."""
    text = ID_PREFIX.sub("", value.strip())
    text = text.removesuffix(".pdf").strip("/")
    for pattern in (NEW_ID, OLD_ID):
        match = pattern.match(text)
        # Ids from 1501 on have five digits after the dot, older ones four.
        if match and (pattern is OLD_ID or (len(match.group(1)) == 10) == (text[:4] >= "1501")):
            return match.group(1), int(match.group(2)) if match.group(2) else None
    raise Rejected(f"not an arXiv id: {value[:80]!r}")


# LaTeX accent commands and the combining mark each adds (render/latex.py reads them too).
ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
}
_ACCENT_RE = re.compile(r"\\([`'^\"~=.uvHck])\s*\{?\\?([A-Za-z])\}?")
_SPECIAL = {
    r"\o": "ø",
    r"\O": "Ø",
    r"\ss": "ß",
    r"\ae": "æ",
    r"\AE": "Æ",
    r"\aa": "å",
    r"\AA": "Å",
    r"\l": "ł",
    r"\L": "Ł",
    r"\i": "ı",  # noqa: RUF001
    r"\&": "&",
}
_SPECIAL_RE = re.compile(r"\\(ss|ae|AE|aa|AA|o|O|l|L|i|&)(?![A-Za-z])\s?")


def delatex_name(value: str) -> str:
    """Replace LaTeX accent commands in a name (``M\\"uller``, ``{\\'e}``) with Unicode."""
    if "\\" not in value and "{" not in value:
        return value
    text = _ACCENT_RE.sub(
        lambda m: unicodedata.normalize("NFC", m.group(2) + ACCENTS[m.group(1)]), value
    )
    text = _SPECIAL_RE.sub(lambda m: _SPECIAL["\\" + m.group(1)], text)
    return text.replace("{", "").replace("}", "")


_PARAGRAPH = re.compile(r"\n\s*\n")
# Terminal escape sequences (whole, so no "[31m" is left behind), then every other C0/C1
# control character except the whitespace ones (tab, newline, CR, VT, FF: the cleaners below
# collapse those) and lone surrogates (which no database encoding accepts).
_UNSAFE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor movement, screen clearing
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS/SOS/PM/APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
)


def strip_controls(value: str) -> str:
    """Remove terminal escape sequences and control characters (whitespace ones stay)."""
    return _UNSAFE.sub("", value)


def clean_line(value: str) -> str:
    """Drop control characters and collapse all whitespace runs to single spaces."""
    return " ".join(strip_controls(value).split())


def clean_abstract(value: str) -> str:
    """Unwrap hard-wrapped lines but keep paragraph breaks (blank lines)."""
    paragraphs = (clean_line(part) for part in _PARAGRAPH.split(strip_controls(value).strip()))
    return "\n\n".join(part for part in paragraphs if part)


def parse_datetime(value: dt.datetime | dt.date | str | None) -> dt.datetime | None:
    """Parse ISO 8601, RFC 2822 or a date into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return _bounded(value)
    if isinstance(value, dt.date):
        return _bounded(dt.datetime(value.year, value.month, value.day))
    if not isinstance(value, str):
        raise Rejected(f"unreadable date of type {type(value).__name__}")
    return _parse_text_datetime(value)


def _bounded(parsed: dt.datetime) -> dt.datetime:
    """``parsed`` in UTC, or ``Rejected`` when it lies outside the plausible years."""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise Rejected(f"date out of range: {parsed.isoformat()[:40]}")
    return parsed.astimezone(dt.UTC)


@functools.lru_cache(maxsize=65536)
def _parse_text_datetime(value: str) -> dt.datetime:
    """Parse a date string (cached: feeds repeat the same timestamps many times)."""
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise Rejected(f"unreadable date {text[:40]!r}") from None
    return _bounded(parsed)


def parse_day(value: dt.date | str | None) -> dt.date | None:
    """Parse a day (``YYYY-MM-DD`` or anything ``parse_datetime`` reads)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise Rejected(f"day out of range: {value.isoformat()}")
        return value
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed.date()


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = clean_line(value)
    return cleaned or None


def _categories(raw: RawPaper) -> tuple[tuple[str, ...], str]:
    seen: dict[str, None] = {}
    primary = clean_line(raw.primary_category or "")
    for category in ([primary] if primary else []) + list(raw.categories):
        for part in clean_line(category).split(" "):
            if part and len(part) <= MAX_CATEGORY and CATEGORY.match(part):
                seen.setdefault(part, None)
    if not seen:
        if primary or any(c.strip() for c in raw.categories):
            raise Rejected("no valid category")
        return (), ""  # the source does not know (e.g. Hugging Face daily papers)
    categories = tuple(seen)
    return categories, primary if primary in seen else categories[0]


def listing_fields(raw: RawPaper) -> tuple[dt.date | None, str | None, int | None]:
    """The record's day, submitter name and upvotes, checked (``Rejected`` for a bad day)."""
    day = parse_day(raw.day) if raw.day else None
    submitter = _optional(raw.submitted_by) if isinstance(raw.submitted_by, str) else None
    upvotes = raw.upvotes if isinstance(raw.upvotes, int) and raw.upvotes > 0 else None
    return (
        day,
        submitter[:MAX_SUBMITTER] if submitter else None,
        min(upvotes, MAX_UPVOTES) if upvotes else None,
    )


# arXiv announces each day's mailing at midnight US Eastern (its RSS items carry that time).
_ARXIV_TZ = zoneinfo.ZoneInfo("America/New_York")


def announced_at(day: dt.date) -> dt.datetime:
    """When arXiv announced ``day``'s list: midnight in New York, in UTC."""
    return dt.datetime.combine(day, dt.time(), _ARXIV_TZ).astimezone(dt.UTC)


def listing_origin(raw: RawPaper) -> tuple[dt.datetime | None, str | None]:
    """When the source put the record on its list and the submitter's full name, checked;
    an unreadable time is dropped (the listing then takes its day's announcement time)."""
    try:
        listed_at = parse_datetime(raw.listed_at) if raw.listed_at else None
    except (Rejected, ValueError, TypeError, OverflowError):
        listed_at = None
    name = raw.submitter_fullname
    fullname = _optional(name) if isinstance(name, str) else None
    return listed_at, fullname[:MAX_SUBMITTER] if fullname else None


def normalize(raw: RawPaper) -> Paper:
    """Validate and normalise one raw record; raises ``Rejected`` with the reason.

    Nothing else escapes: a field of the wrong type or any other surprise rejects the record.
    """
    try:
        return _normalize(raw)
    except Rejected:
        raise
    except Exception as exc:
        raise Rejected(f"unreadable record: {type(exc).__name__}: {exc}"[:300]) from None


def _normalize(raw: RawPaper) -> Paper:
    if raw.error:
        raise Rejected(strip_controls(str(raw.error))[:500])
    if not raw.arxiv_id:
        raise Rejected("missing arXiv id")
    arxiv_id, id_version = parse_arxiv_id(raw.arxiv_id)
    version = raw.version or id_version or 1
    if version < 1 or version > 1000:
        raise Rejected(f"impossible version {version}")
    title = clean_line(raw.title or "")
    if not title:
        raise Rejected("missing title")
    abstract = clean_abstract(raw.abstract or "")
    if not abstract:
        raise Rejected("missing abstract")
    if len(title) > MAX_TITLE or len(abstract) > MAX_ABSTRACT:
        raise Rejected("title or abstract too long")
    authors = tuple(a for a in (delatex_name(clean_line(n)) for n in raw.authors) if a)
    if len(authors) > MAX_AUTHORS:
        raise Rejected("too many authors")
    if any(len(author) > MAX_FIELD for author in authors):
        raise Rejected("author name too long")
    extras = [_optional(raw.comment), _optional(raw.journal_ref), _optional(raw.doi)]
    if any(extra and len(extra) > MAX_FIELD for extra in extras):
        raise Rejected("comment, journal reference or DOI too long")
    categories, primary = _categories(raw)
    published = parse_datetime(raw.published) or parse_datetime(raw.updated)
    if published is None and raw.day:
        published = parse_datetime(parse_day(raw.day))
    if published is None:
        raise Rejected("missing publication date")
    updated = parse_datetime(raw.updated) or published
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        primary_category=primary,
        published_at=published,
        updated_at=max(updated, published),
        comment=extras[0],
        journal_ref=extras[1],
        doi=extras[2],
        license=url_or_text(_optional(raw.license)),
    )
