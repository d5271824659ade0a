"""A real HTTP server on 127.0.0.1 that replays recorded responses.

Routes match on the path and the query parameters (order-free; empty values
ignored).  A route holds one or more replies: they are served in order and the
last one repeats, so a recorded ``503`` followed by a ``200`` behaves like the
real server.  Every request received is kept in ``requests``.  Unknown requests
get a 404 whose body names the request, so a test fails with a clear message.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "date", "server"}


@dataclass
class Reply:
    """One recorded response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """One request the server received."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


def _params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=False))


def _content_type(body: bytes) -> str:
    start = body.lstrip()[:1]
    if start in (b"{", b"["):
        return "application/json"
    if start == b"<" and not body.lstrip().lower().startswith((b"<html", b"<!doctype html")):
        return "application/atom+xml; charset=utf-8"
    return "text/html; charset=utf-8"


class RecordedServer:
    """Replay recorded HTTP responses from a thread; use as a context manager."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, dict[str, str], list[Reply]]] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, url: str, *replies: Reply) -> None:
        """Serve ``replies`` for ``url`` (a full URL or ``/path?query``); newest route wins."""
        parts = urlsplit(url)
        with self._lock:
            self.routes.insert(0, (parts.path, _params(parts.query), list(replies)))

    def add_text(
        self,
        url: str,
        body: str | bytes,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve one body (str is UTF-8 encoded) for ``url``."""
        data = body.encode() if isinstance(body, str) else body
        self.add(url, Reply(status, data, dict(headers or {})))

    def load_envelope(self, path: Path) -> None:
        """Load an arxiv.py recording ``{url, status_code, body}``."""
        env = json.loads(path.read_text(encoding="utf-8"))
        self.add(env["url"], Reply(env["status_code"], env["body"].encode(), {}))

    def load_nock(self, path: Path) -> None:
        """Load a nock recording: a list of ``{path, status, response, rawHeaders}``."""
        grouped: dict[str, list[Reply]] = {}
        for item in json.loads(path.read_text(encoding="utf-8")):
            raw = item.get("rawHeaders") or []
            headers = {
                k: v
                for k, v in zip(raw[::2], raw[1::2], strict=True)
                if k.lower() not in HOP_BY_HOP
            }
            body = item["response"]
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            grouped.setdefault(item["path"], []).append(Reply(item["status"], data, headers))
        for url, replies in grouped.items():
            self.add(url, *replies)

    def _reply(self, path: str, params: dict[str, str]) -> Reply:
        with self._lock:
            for route_path, route_params, replies in self.routes:
                if route_path == path and route_params == params:
                    return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(404, f"<h1>no recording for {path} {sorted(params.items())}</h1>".encode())

    def start(self) -> RecordedServer:
        """Start serving on a free port."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = _params(parts.query)
                with server._lock:
                    server.requests.append(Request(parts.path, params, dict(self.headers)))
                reply = server._reply(parts.path, params)
                self.send_response(reply.status)
                headers = {"Content-Type": _content_type(reply.body), **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> RecordedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
