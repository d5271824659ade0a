"""Issue 11, item 16 (web part): the response cache is keyed on the parameters a route reads
and bounded in bytes, so junk query parameters cannot grow a worker; request bodies over the
limit are refused with 413 before anything reads, parses or spools them (and before CSRF)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Scope

from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from dailypapers.web.cache import ResponseCache
from tests.conftest import run_async


def _cache(app: FastAPI) -> ResponseCache:
    layer: object = app.middleware_stack
    while layer is not None and not isinstance(layer, ResponseCache):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, ResponseCache)
    return layer


def test_junk_query_parameters_are_not_cached(client: TestClient) -> None:
    for _ in range(2):  # the first visit may set the CSRF cookie: such answers are not kept
        assert client.get("/").status_code == 200
    cache = _cache(client.app)  # type: ignore[arg-type]
    held = cache.bytes
    assert held > 0  # the plain home page is cached
    for n in range(200):
        response = client.get(f"/?utm_{n}={'x' * 200}")
        assert response.status_code == 200
    assert cache.bytes == held
    # Parameters the route reads are part of the key (in any order).
    client.get("/?sort=trending&p=0")
    with_params = cache.bytes
    assert with_params > held
    client.get("/?p=0&sort=trending")
    assert cache.bytes == with_params


def test_cache_is_bounded_in_bytes(settings: Settings, engine: Engine) -> None:
    bounded = settings.model_copy(update={"cache_max_mb": 1})
    with TestClient(create_app(bounded, engine)) as client:
        sizes = []
        for n in range(400):  # distinct missing papers: each 404 page is cacheable
            assert client.get(f"/papers/2601.{n:05d}").status_code == 404
            sizes.append(_cache(client.app).bytes)  # type: ignore[arg-type]
        assert max(sizes) <= 1 << 20
        assert sizes[-1] > (1 << 20) // 2  # it stays full, dropping the oldest pages
        # The most recent page is still served from the cache.
        assert client.get("/papers/2601.00399").status_code == 404


def _small(settings: Settings) -> Settings:
    return settings.model_copy(update={"body_limit_kb": 4})


def _post(app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> tuple[int, list[Message]]:
    """POST /login straight through ASGI with an endless body of 1 KiB chunks: how many
    chunks the app read, and what it sent."""
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        if reads == 1:  # a file part that never ends
            head = b'--x\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'
            return {"type": "http.request", "body": head, "more_body": True}
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=x"),
            *headers,
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    run_async(app(scope, receive, send))
    return reads, [m for m in sent if m["type"].startswith("http.response.")]


def _started(settings: Settings, engine: Engine) -> ASGIApp:
    app = create_app(settings.model_copy(update={"body_limit_kb": 4}), engine)
    with TestClient(app):  # runs the lifespan once and builds the middleware stack
        pass
    return app


def test_declared_large_bodies_get_413_before_being_read(
    settings: Settings, engine: Engine
) -> None:
    reads, sent = _post(_started(settings, engine), [(b"content-length", b"314572800")])
    assert reads == 0  # 300 MB announced: refused before a byte is read
    assert sent[0]["status"] == 413
    assert b"too large" in b"".join(m.get("body", b"") for m in sent[1:])
    assert b"content-security-policy" in dict(sent[0]["headers"])


def test_streamed_bodies_are_cut_off_at_the_limit(settings: Settings, engine: Engine) -> None:
    reads, sent = _post(_started(settings, engine), [])  # chunked: no Content-Length
    assert reads <= 6  # 4 KiB limit, 1 KiB chunks: stopped at the first chunk too many
    assert sent[0]["status"] == 413
    assert b"too large" in b"".join(m.get("body", b"") for m in sent[1:])


def test_forms_under_the_limit_reach_the_csrf_check(settings: Settings, engine: Engine) -> None:
    with TestClient(create_app(settings, engine)) as client:
        small = client.post("/login", data={"email": "a@example.org", "password": "x"})
        assert small.status_code == 403
