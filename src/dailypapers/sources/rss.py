"""arXiv's daily listing feeds (``rss.arxiv.org/rss/...`` and ``rss.arxiv.org/atom/...``).

Each feed lists one announcement day for the requested categories.  Items carry
``arxiv:announce_type`` (``new``, ``cross``, ``replace``, ``replace-cross``), a
description that starts ``arXiv:2501.01234v1 Announce Type: new`` followed by
``Abstract: ...``, ``dc:creator`` (comma-separated authors), ``category``
elements and the announcement date.  Both the RSS 2.0 and the Atom form are
read.  A record's cursor is its position in the feed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable, Iterator, Sequence

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.guard import one_record
from dailypapers.sources.http import Fetcher
from dailypapers.sources.xmlparse import NS, Element, parse_xml, text_of

_HEAD = re.compile(r"\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*")
_ABSTRACT = re.compile(r"\s*Abstract:\s*")
_OAI_PREFIX = "oai:arXiv.org:"


def fetch_listing(
    fetcher: Fetcher, *, base_url: str, categories: Sequence[str], resume: str | None = None
) -> Iterator[RawPaper]:
    """Yield today's announcements for ``categories`` (URL: ``base_url/cs.LG+cs.CL``)."""
    if not categories:
        raise ValueError("fetch_listing needs at least one category")
    url = f"{base_url.rstrip('/')}/{'+'.join(categories)}"
    yield from parse_listing(fetcher.get(url), resume=resume)


def parse_listing(text: str, *, resume: str | None = None) -> Iterator[RawPaper]:
    """Parse an arXiv listing feed in RSS 2.0 or Atom form."""
    root = parse_xml(text, what="arXiv listing feed")
    parse: Callable[[Element, str | None], RawPaper]
    if root.tag == "rss":
        items = root.findall("channel/item")
        feed_date = text_of(root, "channel/pubDate")
        parse = _parse_rss_item
    elif root.tag == f"{{{NS['atom']}}}feed":
        items = root.findall("atom:entry", NS)
        feed_date = text_of(root, "atom:updated")
        parse = _parse_atom_entry
    else:
        raise SourceError(f"arXiv listing feed is neither RSS nor Atom (root <{root.tag}>)")
    skip = int(resume) if resume else 0
    for position, item in enumerate(items[skip:], start=skip + 1):
        paper = one_record(str(position), f"item {position}", parse, item, feed_date)
        paper.cursor = str(position)
        if not paper.ref:
            paper.ref = f"item {position}"
        yield paper


def _parse_rss_item(item: Element, feed_date: str | None) -> RawPaper:
    guid = text_of(item, "guid") or text_of(item, "link") or ""
    categories = [c.text.strip() for c in item.findall("category") if c.text and c.text.strip()]
    return _paper(
        item,
        title=text_of(item, "title"),
        description=text_of(item, "description") or "",
        guid=guid,
        categories=categories,
        date=text_of(item, "pubDate") or feed_date,
    )


def _parse_atom_entry(entry: Element, feed_date: str | None) -> RawPaper:
    guid = text_of(entry, "atom:id") or ""
    categories = [term for c in entry.findall("atom:category", NS) if (term := c.get("term"))]
    return _paper(
        entry,
        title=text_of(entry, "atom:title"),
        description=text_of(entry, "atom:summary") or "",
        guid=guid,
        categories=categories,
        date=text_of(entry, "atom:published") or feed_date,
    )


def _paper(
    item: Element,
    *,
    title: str | None,
    description: str,
    guid: str,
    categories: list[str],
    date: str | None,
) -> RawPaper:
    head = _HEAD.match(description)
    abstract = description[head.end() :] if head else description
    if label := _ABSTRACT.match(abstract):
        abstract = abstract[label.end() :]
    arxiv_id = head.group("id") if head else _id_from_guid(guid.strip())
    if not arxiv_id:
        return RawPaper(error=f"feed item without an arXiv id ({guid!r})")
    announce = text_of(item, "arxiv:announce_type") or (head.group("type") if head else None)
    return RawPaper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract.strip() or None,
        authors=split_authors(text_of(item, "dc:creator") or ""),
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=date,
        day=_day(date),
        doi=text_of(item, "arxiv:DOI"),
        journal_ref=text_of(item, "arxiv:journal_reference"),
        license=text_of(item, "dc:rights"),
        announce_type=announce.strip() if announce else None,
        ref=f"item {arxiv_id}",
    )


def _id_from_guid(guid: str) -> str | None:
    if guid.startswith(_OAI_PREFIX):
        return guid[len(_OAI_PREFIX) :]
    _, _, tail = guid.partition("arxiv.org/abs/")
    return tail or None


def split_authors(creators: str) -> list[str]:
    """Split ``dc:creator`` on commas outside parentheses, dropping affiliations."""
    names: list[str] = []
    depth, current = 0, list[str]()
    for char in creators + ",":
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            name = " ".join("".join(current).split())
            if name:
                names.append(name.removeprefix("and "))
            current = []
        elif depth == 0:
            current.append(char)
    return names


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    value = value.strip()
    try:
        if value[:4].isdigit():  # Atom: 2025-01-02T00:00:00-05:00
            return dt.date.fromisoformat(value[:10])
        return email.utils.parsedate_to_datetime(value).date()  # RSS: Thu, 02 Jan 2025 ...
    except (TypeError, ValueError):
        return None
