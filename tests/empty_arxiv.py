"""A loopback arXiv API that knows no paper (every query gets an empty Atom feed), for tests
where a submission of an unknown id must be a 404 without the network."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _EmptyArxiv(BaseHTTPRequestHandler):
    """An arXiv API that knows no paper: every query gets an empty Atom feed."""

    def do_GET(self) -> None:
        body = b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>'
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@contextlib.contextmanager
def empty_arxiv() -> Iterator[str]:
    """URL of a loopback arXiv API with no papers (a submission of an unknown id is a 404)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyArxiv)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/query"
    finally:
        server.shutdown()
        server.server_close()
