"""The floor for ``bench/http.py``: a minimal FastAPI app that answers recorded bytes.

``bench/http.py`` fetches a few pages from the real server, writes them to a JSON file
(path -> body and the headers the site sent, so a client parses the same response) and
serves this app beside it with the same uvicorn settings and worker count, so the real
site's cached pages can be compared with what FastAPI costs when a route does nothing but
return the same bytes:

    DAILYPAPERS_BENCH_FLOOR=pages.json python -m uvicorn bench.floor_app:create --factory
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from fastapi import FastAPI
from fastapi.responses import Response


def _answer(body: bytes, headers: dict[str, str]) -> Callable[[], Awaitable[Response]]:
    async def answer() -> Response:
        return Response(body, headers=headers)

    return answer


def create() -> FastAPI:
    """The floor app for the pages recorded in ``$DAILYPAPERS_BENCH_FLOOR``."""
    recorded = orjson.loads(Path(os.environ["DAILYPAPERS_BENCH_FLOOR"]).read_bytes())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    for path, page in recorded.items():
        if "headers" in page:  # every header the site sent (its date and length excepted)
            headers = dict(page["headers"])
        else:
            headers = {"content-type": page["content_type"]}
            if page.get("content_encoding"):  # recorded compressed (--accept-encoding)
                headers |= {"content-encoding": page["content_encoding"], "vary": "Accept-Encoding"}
        answer = _answer(bytes.fromhex(page["body"]), headers)
        app.add_api_route(path, answer, methods=["GET"])
    return app
