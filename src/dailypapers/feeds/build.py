"""What each feed holds, from the same query functions as the page it mirrors.

The daily list (``queries/daily.daily_list``), trending (``queries/daily.trending_list``),
categories (``storage/feeds.py``), an author (``queries/authors.author_page``), a search
(``queries/search.Searcher``), a person's submissions and upvotes (``storage/community.py``,
as on their profile) and a personal feed (the digest preferences matched by
``email/digests.Edition``, as in the email digest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.email.digests import Edition
from dailypapers.feeds.xml import Feed, Item
from dailypapers.queries import daily
from dailypapers.queries.authors import AuthorPage, author_page
from dailypapers.queries.periods import Period
from dailypapers.queries.search import Filters, Mode, Searcher, SearchResults, SortBy
from dailypapers.render.latex import to_text
from dailypapers.storage import community, feeds
from dailypapers.storage import daily as daily_repo

MAX_ITEMS = 100  # entries in a list, category or personal feed
RECENT_DAYS = 7  # days of lists in the daily feed
SEARCH_ITEMS = 50
TRENDING_TITLES = {"day": "today", "week": "this week", "month": "this month"}


@dataclass(slots=True, frozen=True)
class Site:
    """Where absolute links point (the configured base URL, never the request's Host)."""

    name: str
    base_url: str

    def url(self, path: str) -> str:
        """``path`` on the site, absolute."""
        return self.base_url.rstrip("/") + path


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def item(site: Site, row: RowMapping) -> Item:
    """One paper as a feed entry: listed at its listing time (its publication when unlisted)."""
    published = _when(row.get("published_at")) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    listed = _when(row.get("submitted_at")) or published
    updated = max(listed, _when(row.get("updated_at")) or listed)
    link = site.url(f"/papers/{row['id']}")
    return Item(
        id=link,
        # Plain text of the LaTeX (\emph{x} is x); math stays $...$.
        title=" ".join(to_text(str(row["title"]), dollar="$").split()),
        link=link,
        summary=to_text(str(row["abstract"]), dollar="$").strip(),
        authors=[a for a in row["authors"] if str(a).strip()],
        categories=list(row["categories"]),
        published=listed,
        updated=updated,
    )


def _feed(
    site: Site, title: str, description: str, self_url: str, page: str, rows: Sequence[RowMapping]
) -> Feed:
    seen: set[str] = set()
    items = []
    for row in rows:
        if row["id"] not in seen:  # one entry per paper: ids are unique in a feed
            seen.add(row["id"])
            items.append(item(site, row))
    return Feed(
        title=f"{title} · {site.name}",
        description=description,
        self_url=self_url,
        link=site.url(page),
        items=items,
        site=site.name,
    )


def daily_feed(
    *, conn: Connection, site: Site, self_url: str, period: Period | None, page: str
) -> Feed:
    """The list of ``period``, newest first; without one, the lists of the last
    ``RECENT_DAYS`` days up to the latest listed day (a reader that polls less than daily
    still sees every day), at most ``MAX_ITEMS`` entries."""
    if period is None:
        latest = daily_repo.latest_day(conn=conn)
        if latest is not None:
            start = latest - dt.timedelta(days=RECENT_DAYS - 1)
            rows, _ = daily_repo.list_entries(conn=conn, start=start, end=latest, limit=MAX_ITEMS)
        else:
            rows = []
        return _feed(
            site, "Daily papers", "The newest papers on the daily lists.", self_url, page, rows
        )
    result = daily.daily_list(conn=conn, period=period, limit=MAX_ITEMS)
    label = result.period.label if result else period.label
    return _feed(
        site,
        f"Papers of {label}",
        f"Papers on the list of {label}.",
        self_url,
        page,
        result.entries if result else [],
    )


def trending_feed(
    *, conn: Connection, site: Site, self_url: str, span: str, now: dt.datetime
) -> Feed:
    """Trending papers of the latest day, week or month, in trending order."""
    result = daily.trending_list(conn=conn, span=span, limit=MAX_ITEMS, now=now)
    when = TRENDING_TITLES[span]
    return _feed(
        site,
        f"Trending {when}",
        f"The most upvoted recent papers {when}.",
        self_url,
        "/trending" + ("" if span == "day" else f"?span={span}"),
        result.entries if result else [],
    )


def category_feed(*, conn: Connection, site: Site, self_url: str, names: list[str]) -> Feed:
    """The newest listed papers in any of ``names`` (``cs`` covers every ``cs.*``)."""
    rows = feeds.entries_in_categories(conn=conn, categories=names, limit=MAX_ITEMS)
    joined = " + ".join(names)
    return _feed(
        site,
        joined,
        f"The newest listed papers in {' or '.join(names)}.",
        self_url,
        "/search?category=" + quote(names[0]) if len(names) == 1 else "/",
        rows,
    )


def author_feed(*, conn: Connection, site: Site, self_url: str, name: str) -> Feed | None:
    """The newest papers of the author page for ``name`` (its spellings grouped as there);
    None when nobody by that name has a visible paper. Raises ``queries.authors.BadName``."""
    found = author_page(conn=conn, name=name, limit=MAX_ITEMS)
    if not isinstance(found, AuthorPage):
        return None
    return _feed(
        site,
        f"Papers by {found.name}",
        f"The newest papers by {found.name} on {site.name}.",
        self_url,
        f"/authors/{quote(name, safe='')}",
        found.entries,
    )


def search_feed(
    *,
    conn: Connection,
    site: Site,
    self_url: str,
    searcher: Searcher,
    q: str,
    mode: Mode,
    filters: Filters,
    sort: SortBy,
    page: str,
) -> tuple[Feed, SearchResults]:
    """The first page of a search with its filters, in the search's order."""
    result = searcher.search(
        conn=conn,
        q=q,
        mode=mode,
        filters=filters,
        sort=sort,
        limit=SEARCH_ITEMS,
        highlight_hits=False,
    )
    what = " ".join(q.split())[:200] or "papers"
    description = f"Search results for {what!r} ({sort})."
    feed = _feed(site, f"Search: {what}", description, self_url, page, [h.row for h in result.hits])
    return feed, result


def user_feed(
    *, conn: Connection, site: Site, self_url: str, person: RowMapping, what: str
) -> Feed:
    """``what`` = ``submissions`` (newest first) or ``upvotes`` (latest vote first)."""
    if what == "submissions":
        rows = community.submissions(conn=conn, user_id=person["id"], limit=MAX_ITEMS)
    else:
        rows = community.upvoted_papers(conn=conn, user_id=person["id"], limit=MAX_ITEMS)
    name = person["display_name"]
    title = f"Papers submitted by {name}" if what == "submissions" else f"Papers {name} upvoted"
    return _feed(site, title, f"{title}.", self_url, f"/users/{quote(person['username'])}", rows)


def personal_feed(
    *,
    conn: Connection,
    site: Site,
    self_url: str,
    person: RowMapping,
    prefs: RowMapping | None,
    now: dt.datetime,
) -> Feed:
    """Papers of the latest week's lists matching the categories, keywords and authors that
    ``person`` follows in their digest preferences, newest first."""
    latest = daily_repo.latest_day(conn=conn, on_or_before=now.date())
    rows: list[RowMapping] = []
    if latest is not None and prefs is not None:
        edition = Edition(conn, period="weekly", date=latest, now=now)
        picks = edition.matches(prefs, set(), limit=MAX_ITEMS)
        rows = sorted(
            (p.row for p in picks),
            key=lambda r: (r["day"], r["published_at"], r["id"]),
            reverse=True,
        )
    return _feed(
        site,
        f"Papers for {person['display_name']}",
        "Papers of the last week in the categories, with the keywords and by the authors "
        "followed in the email digest preferences.",
        self_url,
        "/settings/email",
        rows,
    )
