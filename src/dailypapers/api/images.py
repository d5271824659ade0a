"""Images the API's bodies link to: a paper's card (``thumbnail``) and a submitter's avatar.

Both are small SVG drawings made from the paper's title and authors or from a name, so
every ``thumbnail`` and ``avatarUrl`` the API writes is an image this site serves, with no
external service and no image stored.
"""

from __future__ import annotations

import hashlib
import textwrap
from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from dailypapers.api.params import ARXIV_ID_PATTERN
from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import daily
from dailypapers.web.deps import connect

router = APIRouter(include_in_schema=False)
SVG = "image/svg+xml"
CACHE = "public, max-age=86400"
_PALETTE = ["#2563eb", "#7c3aed", "#db2777", "#ea580c", "#16a34a", "#0891b2", "#4f46e5"]


def _svg(body: str, width: int, height: int) -> Response:
    text = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{body}</svg>'
    )
    return Response(text, media_type=SVG, headers={"Cache-Control": CACHE})


def _colour(seed: str) -> str:
    return _PALETTE[hashlib.sha256(seed.encode()).digest()[0] % len(_PALETTE)]


def card_svg(*, arxiv_id: str, title: str, authors: list[str], site: str) -> str:
    """The drawing of a paper's card (1200x630, the size social previews use)."""
    lines = textwrap.wrap(" ".join(title.split()), 38)[:4]
    names = ", ".join(authors[:4]) + (" et al." if len(authors) > 4 else "")
    parts = [
        '<rect width="1200" height="630" fill="#ffffff"/>',
        f'<rect width="1200" height="16" fill="{_colour(arxiv_id)}"/>',
        '<g font-family="system-ui, sans-serif" fill="#111827">',
    ]
    for number, line in enumerate(lines):
        parts.append(
            f'<text x="72" y="{150 + number * 78}" font-size="60" font-weight="700">'
            f"{escape(line)}</text>"
        )
    parts.append(
        f'<text x="72" y="500" font-size="32" fill="#4b5563">{escape(names[:90])}</text>'
        f'<text x="72" y="570" font-size="30" fill="#6b7280">arXiv:{escape(arxiv_id)} · '
        f"{escape(site)}</text></g>"
    )
    return "".join(parts)


@router.get("/cards/{arxiv_id:path}.svg")
def card(
    arxiv_id: Annotated[str, Path(max_length=80, pattern=ARXIV_ID_PATTERN)], request: Request
) -> Response:
    """A paper's card: its title, first authors and id (the API's ``thumbnail``)."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id)
    except Rejected:
        return Response("not an arXiv id", status_code=404, media_type="text/plain")
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=canonical)
    if row is None:
        return Response("no such paper", status_code=404, media_type="text/plain")
    site = request.app.state.settings.site_name
    body = card_svg(arxiv_id=canonical, title=row["title"], authors=row["authors"], site=site)
    return _svg(body, 1200, 630)


@router.get("/avatars/{name}.svg")
def avatar(name: Annotated[str, Path(min_length=1, max_length=200)]) -> Response:
    """A round avatar with the name's first letter (the API's ``avatarUrl``)."""
    letter = next((ch for ch in name if ch.isalnum()), "?").upper()
    body = (
        f'<circle cx="32" cy="32" r="32" fill="{_colour(name)}"/>'
        '<text x="32" y="43" font-family="system-ui, sans-serif" font-size="30" '
        f'text-anchor="middle" fill="#ffffff">{escape(letter)}</text>'
    )
    return _svg(body, 64, 64)
