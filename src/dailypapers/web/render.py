"""Jinja2 environment, template filters and the revision-keyed page cache."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def excerpt(text: str, limit: int = 280) -> str:
    """The start of ``text`` cut at a word boundary, with an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    # Do not leave an unbalanced inline-math dollar behind.
    if cut.count("$") % 2:
        cut = cut[: cut.rfind("$")].rstrip()
    return cut + "…"


def short_date(value: dt.date | dt.datetime) -> str:
    """``Jun 8, 2026``."""
    return f"{value:%b} {value.day}, {value.year}"


def author_line(authors: list[str], shown: int = 3) -> str:
    """``A, B, C and 9 others``."""
    if len(authors) <= shown + 1:
        return ", ".join(authors)
    return f"{', '.join(authors[:shown])} and {len(authors) - shown} others"


TEMPLATES.env.filters.update(excerpt=excerpt, short_date=short_date, author_line=author_line)


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a template with the site-wide context."""
    settings = request.app.state.settings
    return TEMPLATES.TemplateResponse(
        request, name, {"site_name": settings.site_name, **context}, status_code=status
    )


class PageCache:
    """Rendered pages keyed by URL and site revision; any write bumps the revision."""

    def __init__(self, size: int = 512) -> None:
        self._items: OrderedDict[tuple[str, int], tuple[int, bytes, str]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> tuple[int, bytes, str] | None:
        """A cached (status, body, media type), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[str, int], value: tuple[int, bytes, str]) -> None:
        """Remember a rendered response."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
