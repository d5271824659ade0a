"""One embedding model per node: ``serve --workers N`` embeds queries in its main process.

uvicorn runs each worker as a process of its own, and each would load the model on its first
search (the ONNX session is about 100 MiB of private memory per process). Instead, the main
``serve`` process, which already holds the model for index upkeep, answers its workers over
a Unix socket in a private directory (mode 0700: only this user can connect); the workers
never import ONNX Runtime. One query costs a round trip of a few tens of microseconds on top
of the model's few milliseconds, and the model runs in the main process's threads.

Protocol, one request after another on a kept-open connection: the client sends a 4-byte
big-endian length and a UTF-8 JSON array of at most ``MAX_TEXTS`` strings (``MAX_REQUEST``
bytes at most); the service answers a status byte (``OK`` or ``FAILED``), a 4-byte length
and either the vectors (little-endian float32, one row of ``dim`` per text) or a UTF-8
error message. A request that breaks these rules gets ``FAILED`` and the connection closed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import socketserver
import struct
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dailypapers.index.embedder import Embedder, Vectors

log = logging.getLogger(__name__)

# Set by ``serve`` for the workers it starts: the socket of its embedding service.
SOCKET_ENV = "DAILYPAPERS_EMBEDDING_SOCKET"
MAX_TEXTS = 64
MAX_REQUEST = 1 << 20
OK, FAILED = b"\x00", b"\x01"
_LENGTH = struct.Struct(">I")
# Seconds a worker waits for an answer: the first query may wait for the model to load.
TIMEOUT = 120.0


class EmbeddingUnavailable(RuntimeError):
    """The node's embedding service cannot be reached or refused the request."""


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    """``size`` bytes from ``conn``, or None when it closes before the first byte."""
    chunks, got = [], 0
    while got < size:
        chunk = conn.recv(size - got)
        if not chunk:
            if got:
                raise ConnectionError("connection closed in the middle of a message")
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _texts(payload: bytes) -> list[str]:
    """The texts of a request; ValueError when it is not a JSON array of strings."""
    texts = json.loads(payload.decode("utf-8"))
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError("a request is a JSON array of strings")
    if len(texts) > MAX_TEXTS:
        raise ValueError(f"at most {MAX_TEXTS} texts per request")
    for text in texts:
        text.encode("utf-8")  # UnicodeEncodeError (a ValueError) for unpaired surrogates
    return texts


def _no_wakeup_preemption() -> None:
    """Run this thread (and the model threads it starts) under Linux's SCHED_BATCH.

    A worker sends its query and goes on with the filters and keyword scores while the model
    runs. A thread woken by that send would otherwise preempt the sender on its core (the
    scheduler favours threads that slept), so on a busy node the worker waited for the model
    before doing its own part. Batch threads get the same share of the CPU, only without
    preempting on wake-up (bench/search_latency.py at 75k papers on 2 cores, three runs each:
    cold p50 10.8-11.9 -> 10.4 ms, p95 18.0-19.5 -> 16.3-17.0). Elsewhere, or where the policy
    cannot be set (a container that forbids it), nothing changes."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        _no_wakeup_preemption()
        try:
            self._serve()
        except OSError:  # the worker went away in the middle of a message
            return

    def _serve(self) -> None:
        conn: socket.socket = self.request
        while True:
            header = _read_exactly(conn, _LENGTH.size)
            if header is None:
                return
            (size,) = _LENGTH.unpack(header)
            if size > MAX_REQUEST:
                self._answer(FAILED, f"request over {MAX_REQUEST} bytes".encode())
                return
            payload = _read_exactly(conn, size) or b""
            try:
                texts = _texts(payload)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
                self._answer(FAILED, str(exc).encode())
                return
            try:
                vectors = self.server.embedder.embed(texts)
            except Exception as exc:  # the model failed: say so, keep the connection
                log.exception("embedding service: the model failed")
                self._answer(FAILED, f"the embedding model failed: {exc}"[:1000].encode())
                continue
            self._answer(OK, np.ascontiguousarray(vectors, dtype="<f4").tobytes())

    def _answer(self, status: bytes, body: bytes) -> None:
        self.request.sendall(status + _LENGTH.pack(len(body)) + body)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    embedder: Embedder


class EmbeddingService:
    """Serves ``embedder`` on a Unix socket in a fresh private directory (``path``)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._directory = Path(tempfile.mkdtemp(prefix="dailypapers-embed-"))
        self.path = self._directory / "embed.sock"
        self._server = _Server(str(self.path), _Handler)
        self._server.embedder = embedder
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="embedding-service", daemon=True
        )

    def start(self) -> EmbeddingService:
        """Start answering in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and remove the socket's directory."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        shutil.rmtree(self._directory, ignore_errors=True)


class RemoteEmbedder:
    """The ``Embedder`` of a web worker: asks its node's embedding service.

    ``key`` and ``dim`` are the service's model's (the same installed package); each thread
    keeps its own connection, reopened once when it breaks.
    """

    def __init__(self, path: str | os.PathLike[str], key: str, dim: int) -> None:
        self.path = os.fspath(path)
        self.key = key
        self.dim = dim
        self._local = threading.local()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts into an (n, dim) array of unit vectors, in requests of MAX_TEXTS."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._request(list(texts[i : i + MAX_TEXTS])) for i in range(0, len(texts), MAX_TEXTS)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def begin(self, text: str) -> PendingVector:
        """Send ``text`` to the service now and return at once: the model works while this
        thread does something else, and ``result()`` reads its vector (or raises
        EmbeddingUnavailable). Call ``close()`` when the vector is not wanted after all."""
        message = self._message([text])
        try:
            self._send(message)
        except OSError:  # a broken kept-open connection: result() retries on a new one
            self._close()
            return PendingVector(self, message, sent=False)
        return PendingVector(self, message, sent=True)

    def _message(self, texts: list[str]) -> bytes:
        payload = json.dumps(texts, ensure_ascii=False).encode("utf-8")
        if len(payload) > MAX_REQUEST:
            raise EmbeddingUnavailable(f"texts over {MAX_REQUEST} bytes in one request")
        return _LENGTH.pack(len(payload)) + payload

    def _request(self, texts: list[str]) -> Vectors:
        return self._vectors(self._answer(self._message(texts), sent=False), len(texts))

    def _answer(self, message: bytes, sent: bool) -> bytes:
        """The body of the answer to ``message`` (already sent on this thread's connection
        when ``sent``), sent again once on a new connection if the kept-open one broke."""
        for attempt in (1, 2):
            try:
                if not sent or attempt == 2:
                    self._send(message)
                status, body = self._receive()
                break
            except OSError as exc:  # ConnectionError and timeouts included
                self._close()
                if attempt == 2:
                    raise EmbeddingUnavailable(
                        f"the embedding service at {self.path} cannot be reached ({exc})"
                    ) from exc
        if status != OK:
            raise EmbeddingUnavailable(body.decode("utf-8", "replace"))
        return body

    def _vectors(self, body: bytes, count: int) -> Vectors:
        vectors = np.frombuffer(body, dtype="<f4")
        if vectors.size != count * self.dim:
            raise EmbeddingUnavailable("the embedding service answered the wrong size")
        return vectors.reshape(count, self.dim).astype(np.float32)

    def _send(self, message: bytes) -> None:
        conn: socket.socket | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(TIMEOUT)
            try:
                conn.connect(self.path)
            except OSError:
                conn.close()
                raise
            self._local.conn = conn
        conn.sendall(message)

    def _receive(self) -> tuple[bytes, bytes]:
        conn: socket.socket | None = getattr(self._local, "conn", None)
        if conn is None:
            raise ConnectionError("no connection to the embedding service")
        head = _read_exactly(conn, 1 + _LENGTH.size)
        if head is None:
            raise ConnectionError("the embedding service closed the connection")
        (size,) = _LENGTH.unpack(head[1:])
        body = _read_exactly(conn, size) if size else b""
        if body is None:
            raise ConnectionError("the embedding service closed the connection")
        if head[:1] != OK:
            self._close()  # the service closes after a refused request
        return head[:1], body

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads' process)."""
        self._close()

    def _close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()


class PendingVector:
    """A query's vector on its way from the service (``RemoteEmbedder.begin``).

    Its answer is the next thing on the thread's connection, so the same thread must call
    ``result()`` or ``close()`` before that connection carries anything else; ``close()``
    drops a connection whose answer was never read."""

    def __init__(self, owner: RemoteEmbedder, message: bytes, *, sent: bool) -> None:
        self._owner = owner
        self._message = message
        self._sent = sent
        self._done = False

    def result(self) -> Vectors:
        """The (1, dim) vector; EmbeddingUnavailable when the service cannot answer."""
        if self._done:
            raise RuntimeError("a pending vector is read once")
        self._done = True
        body = self._owner._answer(self._message, sent=self._sent)
        return self._owner._vectors(body, 1)

    def close(self) -> None:
        """Give up on the vector (a no-op once it was read)."""
        if not self._done:
            self._done = True
            if self._sent:
                self._owner._close()


def embedder_for_worker(local: Embedder | None = None, *, engine: str = "onnxruntime") -> Embedder:
    """The service's client when ``serve`` started one for this process, else ``local``
    (the process-wide model on ``engine``)."""
    from dailypapers.index.embedder import default_embedder

    model = local or default_embedder(engine)
    path = os.environ.get(SOCKET_ENV)
    if not path:
        return model
    return RemoteEmbedder(path, key=model.key, dim=model.dim)
