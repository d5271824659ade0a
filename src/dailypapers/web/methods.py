"""HEAD answered wherever GET is: the GET response's status and headers, without its body.

Routes are declared with ``@router.get`` only, and Starlette does not add HEAD to them, so
uptime checkers that send HEAD got 405. This middleware runs HEAD as GET and drops the body,
so every GET route (and the cache in front of it) answers HEAD the same way.
"""

from __future__ import annotations

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
