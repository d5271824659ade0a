"""Citations on the web: ``/papers/{id}.bib`` and the meta tags of a paper page.

The meta tags are what reference managers and link previews read: Highwire Press
``citation_*`` tags (Zotero's "Embedded Metadata" translator, Google Scholar, Mendeley),
OpenGraph (``og:*``) and a Twitter summary card. Every URL in them is absolute and built from
the configured ``base_url``, never from the request's ``Host`` header.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy.engine import RowMapping

from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import citations, daily
from dailypapers.render.latex import to_text
from dailypapers.web.deps import connect
from dailypapers.web.render import excerpt

router = APIRouter(include_in_schema=False)
BIBTEX = "application/x-bibtex; charset=utf-8"
DESCRIPTION = 300  # characters of the abstract in a link preview


@router.get("/papers/{arxiv_id:path}.bib")
def paper_bibtex(request: Request, arxiv_id: str) -> Response:
    """The paper's BibTeX entry, with its abstract, as a ``.bib`` file shown inline."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id[:200])
    except Rejected:
        return PlainTextResponse(f"{arxiv_id[:80]!r} is not an arXiv id.\n", status_code=404)
    if canonical != arxiv_id:
        return RedirectResponse(f"/papers/{canonical}.bib", status_code=308)
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=canonical)
        if row is None:
            return PlainTextResponse(f"No paper {canonical} is stored here.\n", status_code=404)
        key = citations.citation_key(conn=conn, row=row)
        entry = citations.bibtex_for(key=key, row=row, abstract=True)
    return Response(
        entry + "\n",
        media_type=BIBTEX,
        headers={"Content-Disposition": f'inline; filename="{key}.bib"'},
    )


def _date(value: dt.datetime) -> str:
    """Highwire's date form, ``2017/06/12``."""
    return f"{value:%Y/%m/%d}"


def meta_tags(*, row: RowMapping, base_url: str, site_name: str) -> list[tuple[str, str, str]]:
    """``(attribute, name, content)`` for each ``<meta>`` of a paper page, in order."""
    links = daily.arxiv_links(row)
    page_url = f"{base_url.rstrip('/')}/papers/{row['id']}"
    title = to_text(row["title"], dollar="$")
    abstract = to_text(" ".join(row["abstract"].split()), dollar="$")
    tags: list[tuple[str, str]] = [("citation_title", title)]
    # One tag per author; a ";" would make Zotero split the name in two.
    tags += [("citation_author", author.replace(";", ",")) for author in row["authors"]]
    tags += [
        ("citation_publication_date", _date(row["published_at"])),
        ("citation_date", _date(row["published_at"])),
        ("citation_online_date", _date(row["updated_at"])),
        ("citation_arxiv_id", row["id"]),
        ("citation_pdf_url", links["pdf"]),
        ("citation_abstract_html_url", page_url),
        ("citation_abstract", abstract),
    ]
    if row["doi"]:
        tags.append(("citation_doi", row["doi"]))
    if row["journal_ref"]:
        tags.append(("citation_journal_title", to_text(row["journal_ref"], dollar="$")))
    if row["categories"]:
        tags.append(("citation_keywords", "; ".join(row["categories"])))
    description = excerpt(abstract, DESCRIPTION)
    meta = [("name", name, value) for name, value in tags]
    meta += [
        ("property", "og:type", "article"),
        ("property", "og:site_name", site_name),
        ("property", "og:title", title),
        ("property", "og:description", description),
        ("property", "og:url", page_url),
        ("property", "article:published_time", row["published_at"].isoformat()),
        ("property", "article:modified_time", row["updated_at"].isoformat()),
        ("name", "twitter:card", "summary"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", description),
    ]
    return meta
