"""The arXiv API (Atom over HTTP, ``export.arxiv.org/api/query``).

Used for targeted look-ups (``id_list``) and for backfilling a window of
categories by submission date.  Results are paged with ``start`` and
``max_results``; each record's cursor is the absolute index of the next result,
so ``resume=<cursor>`` continues right after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.guard import one_record
from dailypapers.sources.http import Fetcher
from dailypapers.sources.xmlparse import NS, Element, parse_xml, text_of

EARLIEST = dt.date(1991, 8, 1)  # arXiv's first day; lower bound of an open window
_ABS_PREFIXES = ("http://arxiv.org/abs/", "https://arxiv.org/abs/")


def build_search_query(
    *,
    categories: Sequence[str] = (),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    query: str | None = None,
) -> str:
    """The ``search_query`` for categories (OR), a submission window and a free query."""
    parts: list[str] = []
    if categories:
        cats = " OR ".join(f"cat:{cat}" for cat in categories)
        parts.append(f"({cats})" if len(categories) > 1 else cats)
    if date_from or date_to:
        low = (date_from or EARLIEST).strftime("%Y%m%d")
        high = (date_to or dt.datetime.now(dt.UTC).date()).strftime("%Y%m%d")
        parts.append(f"submittedDate:[{low}0000 TO {high}2359]")
    if query:
        parts.append(f"({query})" if parts else query)
    return " AND ".join(parts)


def fetch_api(
    fetcher: Fetcher,
    *,
    base_url: str,
    categories: Sequence[str] = (),
    id_list: Sequence[str] = (),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    query: str | None = None,
    page_size: int = 100,
    max_results: int | None = None,
    resume: str | None = None,
) -> Iterator[RawPaper]:
    """Yield papers from the arXiv API, page by page, newest submissions first."""
    search = build_search_query(
        categories=categories, date_from=date_from, date_to=date_to, query=query
    )
    if not search and not id_list:
        raise ValueError("fetch_api needs categories, id_list, a date window or a query")
    by_date = bool(categories or date_from or date_to)
    base: dict[str, str | int] = {
        "sortBy": "submittedDate" if by_date else "relevance",
        "sortOrder": "descending",
    }
    if search:
        base["search_query"] = search
    if id_list:
        base["id_list"] = ",".join(id_list)
    start = int(resume) if resume else 0
    while max_results is None or start < max_results:
        size = page_size if max_results is None else min(page_size, max_results - start)
        text = fetcher.get(base_url, {**base, "start": start, "max_results": size})
        feed = parse_xml(text, what="arXiv API response")
        entries = feed.findall("atom:entry", NS)
        _raise_on_error_entry(entries)
        if not entries:
            return
        for offset, entry in enumerate(entries, start=start + 1):
            yield one_record(str(offset), f"entry {offset}", parse_entry, entry, cursor=str(offset))
        start += len(entries)
        total = text_of(feed, "opensearch:totalResults")
        if total is not None and total.strip().isdigit() and start >= int(total):
            return


def parse_entry(entry: Element, *, cursor: str | None = None) -> RawPaper:
    """One Atom ``<entry>`` as a RawPaper (an error record if it has no usable id)."""
    raw_id = (text_of(entry, "atom:id") or "").strip()
    arxiv_id = next(
        (raw_id[len(prefix) :] for prefix in _ABS_PREFIXES if raw_id.startswith(prefix)), None
    )
    if not arxiv_id:
        ref = f"entry {raw_id or '(no id)'}"
        return RawPaper(error=f"entry without an arXiv abs id: {raw_id!r}", ref=ref, cursor=cursor)
    primary = entry.find("arxiv:primary_category", NS)
    return RawPaper(
        arxiv_id=arxiv_id,
        title=text_of(entry, "atom:title"),
        abstract=text_of(entry, "atom:summary"),
        authors=[
            name for a in entry.findall("atom:author", NS) if (name := text_of(a, "atom:name"))
        ],
        categories=[term for c in entry.findall("atom:category", NS) if (term := c.get("term"))],
        primary_category=primary.get("term") if primary is not None else None,
        published=text_of(entry, "atom:published"),
        updated=text_of(entry, "atom:updated"),
        comment=text_of(entry, "arxiv:comment"),
        journal_ref=text_of(entry, "arxiv:journal_ref"),
        doi=text_of(entry, "arxiv:doi"),
        license=text_of(entry, "arxiv:license") or text_of(entry, "atom:rights"),
        ref=f"entry {arxiv_id}",
        cursor=cursor,
    )


def _raise_on_error_entry(entries: list[Element]) -> None:
    for entry in entries:
        entry_id = text_of(entry, "atom:id") or ""
        is_abs = entry_id.strip().startswith(_ABS_PREFIXES)
        if "/api/errors" in entry_id or (text_of(entry, "atom:title") == "Error" and not is_abs):
            message = " ".join((text_of(entry, "atom:summary") or entry_id).split())
            raise SourceError(f"arXiv API error: {message}")
