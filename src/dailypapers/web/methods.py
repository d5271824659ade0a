"""HEAD answered wherever GET is: the GET response's status and headers, without its body.

Routes are declared with ``@router.get`` only, and Starlette does not add HEAD to them, so
uptime checkers that send HEAD got 405. This middleware runs HEAD as GET and drops the body,
so every GET route (and the cache in front of it) answers HEAD the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Serve HEAD requests through the GET route; send only the status line and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route answers at the scope's path (a 405's ``Allow``), HEAD included
    wherever GET is. Starlette names only the first route that matched the path."""
    found: set[str] = set()
    pending = list(routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)  # an included router's routes
        if included is not None:
            pending.extend(included.routes)
        elif isinstance(route, Route) and route.methods:
            match, _ = route.matches({**scope, "method": next(iter(route.methods))})
            if match is Match.FULL:
                found |= route.methods
    if "GET" in found:
        found.add("HEAD")
    return sorted(found)
