"""Feed documents: one ``Feed`` written as RSS 2.0 or Atom 1.0 (RFC 4287).

Both follow the W3C feed validator's rules: absolute links, RFC 822 dates in RSS and RFC 3339
in Atom, an ``atom:link rel="self"`` in RSS, one unique id per entry, and no characters XML
1.0 forbids (control characters in a title or abstract are dropped, never written).
Titles are plain text; the RSS ``description`` is HTML (the abstract, escaped), the Atom
``summary`` plain text, so a hostile title or abstract is shown as text by every reader.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Literal
from xml.etree import ElementTree as ET

Format = Literal["rss", "atom"]
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}
ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # the ``updated`` of a feed with no entries
# Everything XML 1.0 does not allow in a document (C0 controls but tab and newlines,
# surrogates, U+FFFE and U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ET.register_namespace("atom", ATOM)  # RSS's atom:link
ET.register_namespace("dc", DC)


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)


@dataclass(slots=True)
class Item:
    """One entry: a paper, with the time it was put on the list."""

    id: str  # unique in the feed and for ever: the paper's absolute URL
    title: str
    link: str
    summary: str
    authors: list[str]
    categories: list[str]
    published: dt.datetime
    updated: dt.datetime


@dataclass(slots=True)
class Feed:
    """A feed: its own URL (``self_url``), the page it mirrors (``link``) and its items."""

    title: str
    description: str
    self_url: str
    link: str
    items: list[Item] = field(default_factory=list)
    site: str = "dailypapers"  # the feed's author
    generator: str = "dailypapers"

    @property
    def updated(self) -> dt.datetime:
        """The newest item's time (the epoch for an empty feed, so it stays the same)."""
        return max((i.updated for i in self.items), default=EPOCH)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def rfc822(value: dt.datetime) -> str:
    """``Sun, 29 Nov 2026 10:04:02 GMT``: RSS dates and HTTP's ``Last-Modified``."""
    return format_datetime(_utc(value).replace(microsecond=0), usegmt=True)


def rfc3339(value: dt.datetime) -> str:
    """``2026-11-29T10:04:02Z``: Atom dates."""
    return _utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = clean(text)
    return element


def _document(root: ET.Element) -> bytes:
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n").encode("utf-8")


def rss(feed: Feed) -> bytes:
    """The feed as RSS 2.0."""
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.link)
    _sub(channel, "description", feed.description)
    _sub(channel, f"{{{ATOM}}}link", href=feed.self_url, rel="self", type="application/rss+xml")
    _sub(channel, "language", "en")
    _sub(channel, "lastBuildDate", rfc822(feed.updated))
    _sub(channel, "generator", feed.generator)
    _sub(channel, "docs", "https://www.rssboard.org/rss-specification")
    for item in feed.items:
        entry = _sub(channel, "item")
        _sub(entry, "title", item.title)
        _sub(entry, "link", item.link)
        body = html.escape(clean(item.summary))
        byline = html.escape(", ".join(item.authors))
        _sub(entry, "description", f"<p>{byline}</p><p>{body}</p>" if byline else f"<p>{body}</p>")
        for name in item.authors:
            _sub(entry, f"{{{DC}}}creator", name)
        for category in item.categories:
            _sub(entry, "category", category)
        _sub(entry, "guid", item.id, isPermaLink="true")
        _sub(entry, "pubDate", rfc822(item.published))
    return _document(root)


def atom(feed: Feed) -> bytes:
    """The feed as Atom 1.0."""
    root = ET.Element("feed", {"xmlns": ATOM})  # Atom as the default namespace
    _sub(root, "id", feed.self_url)
    _sub(root, "title", feed.title)
    _sub(root, "subtitle", feed.description)
    _sub(root, "updated", rfc3339(feed.updated))
    _sub(root, "link", href=feed.self_url, rel="self", type="application/atom+xml")
    _sub(root, "link", href=feed.link, rel="alternate", type="text/html")
    author = _sub(root, "author")
    _sub(author, "name", feed.site)
    _sub(root, "generator", feed.generator)
    for item in feed.items:
        entry = _sub(root, "entry")
        _sub(entry, "id", item.id)
        _sub(entry, "title", item.title, type="text")
        _sub(entry, "link", href=item.link, rel="alternate", type="text/html")
        _sub(entry, "published", rfc3339(item.published))
        _sub(entry, "updated", rfc3339(item.updated))
        for name in item.authors:
            person = _sub(entry, "author")
            _sub(person, "name", name)
        for category in item.categories:
            _sub(entry, "category", term=category)
        _sub(entry, "summary", item.summary, type="text")
    return _document(root)


def render(feed: Feed, fmt: Format) -> bytes:
    """The feed in ``fmt``."""
    return rss(feed) if fmt == "rss" else atom(feed)
