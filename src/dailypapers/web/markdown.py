"""A paper page as Markdown: ``/papers/{id}.md``, and ``/papers/{id}`` when the request's
``Accept`` prefers ``text/markdown`` (what AI agents send); ``huggingface_hub``'s
``read_paper`` and ``hf papers read`` fetch the ``.md`` address. ``Accept:
application/x-bibtex`` (or ``text/x-bibtex``) on ``/papers/{id}`` gets ``/papers/{id}.bib``
the same way (what reference managers and ``curl -H`` users send)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import daily
from dailypapers.queries.paper_markdown import paper_markdown
from dailypapers.queries.search import Searcher
from dailypapers.web.deps import connect, get_searcher

router = APIRouter(include_in_schema=False)
MARKDOWN = "text/markdown; charset=utf-8"


def _quality(accept: str, media: str) -> float:
    """The ``q`` the Accept header gives ``media`` exactly (0 when it is not named)."""
    for part in accept.split(","):
        name, *params = part.strip().split(";")
        if name.strip().lower() != media:
            continue
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    return max(0.0, min(1.0, float(value)))
                except ValueError:
                    return 0.0
        return 1.0
    return 0.0


# A paper's representations besides its HTML page: media type named in Accept -> suffix.
ALTERNATES = (("text/markdown", ".md"), ("application/x-bibtex", ".bib"), ("text/x-bibtex", ".bib"))


def preferred_alternate(request: Request) -> str | None:
    """The suffix of the representation ``Accept`` asks for at least as much as for HTML
    (``.md``, ``.bib``), or None for the HTML page."""
    accept = request.headers.get("accept", "")[:1000]
    best, suffix = 0.0, None
    for media, ext in ALTERNATES:
        quality = _quality(accept, media)
        if quality > best:
            best, suffix = quality, ext
    return suffix if best > 0 and best >= _quality(accept, "text/html") else None


def _markdown_response(request: Request, arxiv_id: str, searcher: Searcher) -> Response:
    """The paper as Markdown, or a short Markdown 404."""
    try:
        canonical, _ = parse_arxiv_id(arxiv_id)
    except Rejected:
        text = f"# Paper not found\n\n{arxiv_id[:80]!r} is not an arXiv id.\n"
        return Response(text, status_code=404, media_type=MARKDOWN)
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=canonical)
        related = searcher.similar(conn=conn, arxiv_id=canonical, limit=6) if row else []
    if row is None:
        text = f"# Paper not found\n\nNo paper {canonical} is stored here.\n"
        return Response(text, status_code=404, media_type=MARKDOWN)
    base = str(request.app.state.settings.base_url).rstrip("/")
    body = paper_markdown(row, base=base, related=related)
    return Response(body, media_type=MARKDOWN)


class MarkdownByAccept:
    """Serves ``GET /papers/{id}`` as ``/papers/{id}.md`` (or ``.bib``) when ``Accept``
    prefers Markdown (or BibTeX) to HTML.

    Added outside the response cache, so each representation of a paper is its own cache
    entry (its own path), and the HTML route stays as it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not path.startswith("/papers/")
            or path.endswith((".md", ".bib"))
            or not _is_paper_id(path[len("/papers/") :])
        ):
            await self.app(scope, receive, send)
            return
        suffix = preferred_alternate(Request(scope))
        if suffix is not None:
            target = f"{path}{suffix}"
            scope = {**scope, "path": target, "raw_path": target.encode()}

        async def vary_on_accept(message: Message) -> None:
            # Both answers of this address depend on Accept: shared caches must keep both.
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_vary(message.get("headers", []))}
            await send(message)

        await self.app(scope, receive, vary_on_accept)


def _with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Accept`` added to ``Vary`` (kept once, other values kept)."""
    values = [v for k, v in headers if k.lower() == b"vary"]
    names = [n.strip() for v in values for n in v.split(b",") if n.strip()]
    if b"accept" not in [n.lower() for n in names]:
        names.append(b"Accept")
    return [(k, v) for k, v in headers if k.lower() != b"vary"] + [(b"vary", b", ".join(names))]


def _is_paper_id(text: str) -> bool:
    try:
        parse_arxiv_id(text)
    except Rejected:
        return False
    return True


@router.get("/papers/{arxiv_id:path}.md")
def paper_as_markdown(
    request: Request, arxiv_id: str, searcher: Annotated[Searcher, Depends(get_searcher)]
) -> Response:
    """``/papers/{id}.md``: the paper page as Markdown."""
    return _markdown_response(request, arxiv_id[:200], searcher)
