"""The RSS/Atom feed of a public or unlisted reading list: its papers, latest saved first,
each dated when it was put on the list (``queries/lists.py`` says who may read it)."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from dailypapers.feeds.build import Site, item
from dailypapers.feeds.xml import Feed
from dailypapers.queries.lists import ListView

MAX_ITEMS = 100


def list_feed(*, site: Site, self_url: str, listing: ListView) -> Feed:
    """The newest ``MAX_ITEMS`` papers of the list (never its private notes)."""
    row = listing.row
    items = []
    for paper in listing.papers[:MAX_ITEMS]:
        entry = item(site, paper)
        added = paper["added_at"]
        items.append(dataclasses.replace(entry, published=added, updated=max(added, entry.updated)))
    owner = row["display_name"] or row["username"]
    return Feed(
        title=f"{row['name']} · a reading list by {owner} · {site.name}",
        description=row["description"] or f"Papers on {owner}'s reading list {row['name']}.",
        self_url=self_url,
        link=site.url(f"/lists/{quote(row['token'])}"),
        items=items,
        site=site.name,
    )
