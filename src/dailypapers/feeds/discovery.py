"""Autodiscovery: the feeds that mirror a page, for its ``<link rel="alternate">`` tags,
and the page's canonical address. Both are absolute, from the configured base URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

SEARCH_PARAMS = ("q", "mode", "category", "author", "from", "to", "sort")
PATH_SAFE = "/:@!$&'()*+,;=-._~"
TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


@dataclass(slots=True, frozen=True)
class Alternate:
    """One ``<link rel="alternate">``: a feed's title, media type and absolute address."""

    title: str
    type: str
    href: str


def _both(base: str, title: str, path: str, query: str = "") -> list[Alternate]:
    suffix = f"?{query}" if query else ""
    return [
        Alternate(f"{title} ({label})", kind, f"{base}{path}.{fmt}{suffix}")
        for (fmt, kind), label in zip(TYPES.items(), ("RSS", "Atom"), strict=True)
    ]


def alternates(base_url: str, path: str, params: Mapping[str, str]) -> list[Alternate]:
    """The feeds mirroring the page at ``path`` with query ``params`` (none for most pages)."""
    base = base_url.rstrip("/")
    if path == "/":
        return _both(base, "Daily papers", "/feeds/daily")
    if path == "/papers":
        period = {k: params[k] for k in ("date", "week", "month") if params.get(k)}
        return _both(base, "Papers of this list", "/feeds/daily", urlencode(period))
    if path == "/trending":
        span = params.get("span", "day")
        if span not in ("day", "week", "month"):
            return []
        query = "" if span == "day" else f"span={span}"
        return _both(base, f"Trending ({span})", "/feeds/trending", query)
    if path == "/search":
        chosen = {k: params[k] for k in SEARCH_PARAMS if params.get(k)}
        if not any(chosen.get(k) for k in ("q", "category", "author", "from", "to")):
            return []
        found = _both(base, "This search", "/feeds/search", urlencode(chosen))
        category = params.get("category", "").strip()
        if category:
            names = "+".join(quote(c, safe=".-") for c in category.split())
            found += _both(base, f"Papers in {category}", f"/feeds/categories/{names}")
        return found
    if path.startswith("/c/") and path.count("/") == 2:  # a category page: cs.CL+cs.LG
        spec = path.removeprefix("/c/")
        names = "+".join(quote(c, safe=".-") for c in spec.replace(" ", "+").split("+") if c)
        return _both(base, f"Papers in {spec}", f"/feeds/categories/{names}") if names else []
    if path.startswith("/authors/") and path.count("/") == 2:
        name = path.removeprefix("/authors/")
        if not name:
            return []
        return _both(base, f"Papers by {name}", f"/feeds/authors/{quote(name, safe='')}")
    if path.startswith("/users/") and path.count("/") == 2:
        name = quote(path.removeprefix("/users/"), safe="")
        return _both(base, "Submissions", f"/feeds/users/{name}/submissions") + _both(
            base, "Upvotes", f"/feeds/users/{name}/upvotes"
        )
    return []


def canonical(base_url: str, path: str, query: str) -> str:
    """The page's absolute address on the configured site (never the request's ``Host``)."""
    return base_url.rstrip("/") + quote(path, safe=PATH_SAFE) + (f"?{query}" if query else "")
