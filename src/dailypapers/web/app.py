"""The application factory: pages, JSON API, static files, error pages and middlewares."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from dailypapers import __version__
from dailypapers.api.community import router as community_api_router
from dailypapers.api.follows import router as follows_api_router
from dailypapers.api.images import router as images_router
from dailypapers.api.lists import router as lists_api_router
from dailypapers.api.params import pattern_message
from dailypapers.api.routes import router as api_router
from dailypapers.api.search import router as search_api_router
from dailypapers.community.errors import ActionError
from dailypapers.community.fetching import ArxivFetches
from dailypapers.community.ratelimit import RateLimited
from dailypapers.feeds.routes import router as feeds_router
from dailypapers.feeds.settings import router as feed_settings_router
from dailypapers.index.embed_service import embedder_for_worker
from dailypapers.index.follow import Follower
from dailypapers.index.snapshot import SnapshotStore
from dailypapers.queries.search import Searcher
from dailypapers.settings import Settings
from dailypapers.storage.engine import engine_from_settings
from dailypapers.web import outage
from dailypapers.web.accounts import router as accounts_router
from dailypapers.web.browse import api_router as browse_api_router
from dailypapers.web.browse import router as browse_router
from dailypapers.web.cache import Freshness, ResponseCache
from dailypapers.web.community import router as community_router
from dailypapers.web.compression import Compress
from dailypapers.web.conditional import ConditionalGet
from dailypapers.web.cors import ReadOnlyCors
from dailypapers.web.follows import router as follows_router
from dailypapers.web.library import router as library_router
from dailypapers.web.lists import router as lists_router
from dailypapers.web.markdown import MarkdownByAccept
from dailypapers.web.markdown import router as markdown_router
from dailypapers.web.methods import HeadAsGet, allowed_methods
from dailypapers.web.middleware import SiteApp
from dailypapers.web.mydata import router as mydata_router
from dailypapers.web.observability import Metrics
from dailypapers.web.pages import router as pages_router
from dailypapers.web.probes import ModelWarmth
from dailypapers.web.probes import router as probes_router
from dailypapers.web.render import TEMPLATES, is_api, page, wants_json
from dailypapers.web.search import router as search_pages_router
from dailypapers.web.subscriptions import router as subscriptions_router


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
        message = error.get("msg", "invalid")
        if error.get("type") == "string_pattern_mismatch":  # the pattern itself says little
            message = pattern_message(str(error["loc"][-1]), error.get("input"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def _allow_head(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """A 405's headers with HEAD in ``Allow`` wherever GET is (``HeadAsGet`` answers it)."""
    if headers is None:
        return None
    allow = [m.strip() for m in headers.get("Allow", "").split(",") if m.strip()]
    if "GET" in allow and "HEAD" not in allow:
        allow.append("HEAD")
    return {**headers, **({"Allow": ", ".join(allow)} if allow else {})}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the ASGI application for ``settings`` (read from the environment when None)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        searcher: Searcher = app.state.searcher
        if searcher.embedder is not None and (settings.index_dir / "CURRENT").exists():
            # Load the model in the background so the first search does not wait for it.
            threading.Thread(target=searcher.warm_up, daemon=True).start()
        # Newer builds published by any node, and papers added since the build (index/follow.py).
        following = (
            app.state.follower.start(seconds=settings.index_follow_seconds)
            if settings.index_follow_seconds
            else None
        )
        yield
        if following is not None:
            following[1].set()
            following[0].join(timeout=30)

    app = SiteApp(
        lifespan=lifespan,
        title=settings.site_name,
        version=__version__,
        description=f"Daily research papers: lists, papers and search. Field names and "
        "timestamps follow Hugging Face's Papers API, so `huggingface_hub` and clients "
        f"generated from HF's spec work. [Back to {settings.site_name}](/) · every error is "
        '`{"error": "..."}`.',
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or engine_from_settings(settings)
    app.state.searcher = Searcher(
        SnapshotStore(settings.index_dir),
        embedder_for_worker(engine=settings.embedding_engine) if settings.semantic_search else None,
        settings.vector_search,
    )
    app.state.follower = Follower(
        engine=app.state.engine,
        root=settings.index_dir,
        store=app.state.searcher.store,
        live=app.state.searcher.live,
    )
    app.state.arxiv_fetches = ArxivFetches.from_settings(settings)
    app.state.metrics = Metrics()  # request metrics of this worker (web/observability.py)
    app.state.model_warmth = ModelWarmth(app.state.searcher)
    # A full disk or a database that does not answer: 503 with Retry-After, never a 500.
    outage.install(app, data_dir=settings.data_dir, engine=app.state.engine)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # Specific paths (``/api/papers/{id}/comments``) before the catch-all ``/papers/{id:path}``.
    app.include_router(probes_router)  # /livez, /readyz, /metrics
    app.include_router(community_api_router)
    app.include_router(follows_api_router)  # /api/follows, /api/for-you
    app.include_router(lists_api_router)  # /api/lists/{token}, /api/me/...
    app.include_router(search_api_router)
    app.include_router(api_router)
    app.include_router(search_pages_router)
    app.include_router(accounts_router)
    app.include_router(community_router)
    app.include_router(follows_router)  # /follows, /for-you
    # Reading lists: /lists/import before /lists/{token}; /papers/{id}/save before pages.
    app.include_router(library_router)
    app.include_router(lists_router)
    app.include_router(mydata_router)  # /settings/data, /settings/delete
    app.include_router(subscriptions_router)
    app.include_router(feeds_router)  # /feeds/...: RSS and Atom
    app.include_router(feed_settings_router)
    app.include_router(images_router)  # /cards/{id}.svg, /avatars/{name}.svg
    app.include_router(markdown_router)  # /papers/{id}.md, before /papers/{id:path}
    app.include_router(browse_router)  # /authors/{name}, /c/{category}
    app.include_router(browse_api_router)  # /api/authors/{name}
    app.include_router(pages_router)

    # Error handlers are plain ``def``: Starlette runs them in the thread pool, and the pages
    # they render read the visitor's session from the database (never on the event loop).
    @app.exception_handler(ActionError)
    def on_refused(request: Request, exc: ActionError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        if wants_json(request):
            if exc.status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            body = {"error": exc.message, **({"link": exc.link} if exc.link else {})}
            return JSONResponse(body, status_code=exc.status, headers=headers)
        if exc.status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        titles = {403: "Not allowed", 404: "Not found", 409: "Already there"}
        context = {"title": titles.get(exc.status, "Could not do that"), "message": exc.message}
        response = page(request, "notice.html", context, exc.status)
        response.headers.update(headers)
        return response

    @app.exception_handler(RateLimited)
    def on_rate_limited(request: Request, exc: RateLimited) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=429, headers=headers)
        response = page(request, "notice.html", {"title": "Slow down", "message": str(exc)}, 429)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        message = _validation_message(exc)
        if is_api(request):
            return JSONResponse({"error": message}, status_code=422)
        return page(request, "error.html", {"title": "Bad request", "message": message}, 400)

    @app.exception_handler(HTTPException)
    def on_http_error(request: Request, exc: HTTPException) -> Response:
        headers = _allow_head(exc.headers)
        if exc.status_code == 405:  # every method of every route at this path
            headers = {"Allow": ", ".join(allowed_methods(request.app.routes, request.scope))}
        if is_api(request) or exc.status_code not in (404, 405):
            return JSONResponse(
                {"error": str(exc.detail)}, status_code=exc.status_code, headers=headers
            )
        context = (
            {"title": "Page not found", "message": "There is no page at this address."}
            if exc.status_code == 404
            else {
                "title": "Method not allowed",
                "message": f"This address does not accept {request.method[:20]} requests.",
            }
        )
        response = page(request, "error.html", context, exc.status_code)
        response.headers.update(headers or {})
        return response

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        # Swagger UI served from the package (no CDN), started by a static script (CSP).
        return TEMPLATES.TemplateResponse(
            request,
            "api_docs.html",
            {"title": f"{settings.site_name} API", "site_name": settings.site_name},
        )

    # The revisions cached pages are keyed by, read at most every `cache_freshness` seconds.
    app.state.freshness = Freshness(app.state.engine, settings.cache_freshness)
    # Innermost: the cache stores each coding's compressed body (keyed by the coding).
    app.add_middleware(Compress)
    app.add_middleware(
        ResponseCache,
        freshness=app.state.freshness,
        max_bytes=settings.cache_max_mb << 20,
        vote_lag=settings.cache_vote_lag,
    )
    # Accept: text/markdown on a paper page is /papers/{id}.md, a cache entry of its own.
    app.add_middleware(MarkdownByAccept)
    # Outside the cache: a cached 200 becomes a 304 for a client that holds it.
    app.add_middleware(ConditionalGet)
    app.add_middleware(HeadAsGet)
    app.add_middleware(ReadOnlyCors)  # GET/HEAD of /api/ and /feeds/ from any origin
    return app
