"""Jinja2 environment and template filters."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dailypapers.feeds import discovery
from dailypapers.render import latex
from dailypapers.urls import safe_url

UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def excerpt(text: str, limit: int = 280) -> str:
    """The start of ``text`` cut at a word boundary, with an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    # Do not leave an unbalanced inline-math dollar behind (escaped \$ are plain dollars).
    dollars = [m.start() for m in UNESCAPED_DOLLAR.finditer(cut)]
    if len(dollars) % 2:
        cut = cut[: dollars[-1]].rstrip()
    return cut + "…"


def short_date(value: dt.date | dt.datetime) -> str:
    """``Jun 8, 2026``."""
    return f"{value:%b} {value.day}, {value.year}"


def author_line(authors: list[str], shown: int = 3) -> str:
    """``A, B, C and 9 others``."""
    if len(authors) <= shown + 1:
        return ", ".join(authors)
    return f"{', '.join(authors[:shown])} and {len(authors) - shown} others"


TEMPLATES.env.auto_reload = False  # templates ship with the package; no stat per include
TEMPLATES.env.filters.update(
    excerpt=excerpt, short_date=short_date, author_line=author_line, safe_url=safe_url
)
# Text-mode LaTeX (render/latex.py): formatting as HTML on paper pages, plain text on cards.
TEMPLATES.env.filters.update(tex_html=latex.to_html, tex_text=latex.to_text)


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (``/api/...``)."""
    return request.url.path.startswith("/api/")


def wants_json(request: Request) -> bool:
    """Whether an error for this request is answered as JSON: API paths, and clients that
    ask for JSON (a form posted by script with ``Accept: application/json``)."""
    return is_api(request) or "application/json" in request.headers.get("accept", "")


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a template with the site-wide context (site name, the user, CSRF tokens)."""
    from dailypapers.web.auth import csrf_token, current_user, set_csrf_cookie
    from dailypapers.web.saved import public_lists, save_choices, saved_ids

    settings = request.app.state.settings
    # Absolute, from the configured base URL (web/templates/base.html's head); not on errors.
    shown = status < 300
    url = request.url
    canonical = discovery.canonical(settings.base_url, url.path, url.query) if shown else None
    feeds = discovery.alternates(settings.base_url, url.path, request.query_params) if shown else []
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "site_name": settings.site_name,
            "canonical_url": canonical,
            "feed_links": feeds,
            "demo_as_of": settings.demo_as_of,
            "user": current_user(request),
            "csrf": lambda: csrf_token(request),
            # Reading lists (web/saved.py): the "Saved" mark on cards, the save control.
            "saved": lambda: saved_ids(request),
            "save_choices": lambda paper_id: save_choices(request, paper_id),
            "public_lists": lambda user_id: public_lists(request, user_id),
            **context,
        },
        status_code=status,
    )
    set_csrf_cookie(request, response)
    if current_user(request) is not None or getattr(request.state, "new_csrf", None):
        # Pages with a user's name or tokens in them are never stored by proxies.
        response.headers["cache-control"] = "private, no-store"
    return response
