"""One model per node: ``serve --workers N`` embeds its workers' queries (embed_service.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from dailypapers.cli.main import cli
from dailypapers.index.embed_service import (
    MAX_TEXTS,
    SOCKET_ENV,
    EmbeddingService,
    EmbeddingUnavailable,
    RemoteEmbedder,
    embedder_for_worker,
)
from dailypapers.index.embedder import SHIPPED, default_embedder
from dailypapers.index.snapshot import SnapshotStore
from dailypapers.queries.search import Searcher
from dailypapers.settings import Settings
from tests.search.conftest import Corpus, Memoised


class Counting:
    """A small deterministic embedder that counts its calls (the protocol, not the model)."""

    key, dim = "counting", 4

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if any(t == "boom" for t in texts):
            raise RuntimeError("model exploded")
        rows = np.array([[len(t), 1.0, 2.0, 3.0] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def service() -> Iterator[EmbeddingService]:
    running = EmbeddingService(Counting()).start()  # type: ignore[arg-type]
    try:
        yield running
    finally:
        running.stop()


def framed(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def raw(path: Path, payload: bytes) -> tuple[bytes, bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(path))
        conn.sendall(payload)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
            if len(data) >= 5 and len(data) >= 5 + struct.unpack(">I", data[1:5])[0]:
                break
    return data[:1], data[5:]


def test_the_real_model_through_the_service_gives_the_same_vectors() -> None:
    model = default_embedder()
    running = EmbeddingService(model).start()
    try:
        remote = RemoteEmbedder(running.path, key=model.key, dim=model.dim)
        texts = ["graph neural networks", "Schrödinger bridge 🎤", "a", "x" * 5000]
        assert np.array_equal(remote.embed(texts), model.embed(texts))
        many = [f"query number {i}" for i in range(MAX_TEXTS * 2 + 3)]  # several requests
        assert np.array_equal(remote.embed(many), model.embed(many))
        assert remote.embed([]).shape == (0, model.dim)
        remote.close()
    finally:
        running.stop()


def test_workers_embed_queries_with_the_nodes_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOCKET_ENV, raising=False)
    assert embedder_for_worker() is default_embedder()  # one worker: the model in the process
    monkeypatch.setenv(SOCKET_ENV, "/nonexistent/embed.sock")
    remote = embedder_for_worker()
    assert isinstance(remote, RemoteEmbedder) and remote.key == SHIPPED.key


def test_one_connection_per_thread_serves_many_requests(service: EmbeddingService) -> None:
    remote = RemoteEmbedder(service.path, key="counting", dim=4)
    for i in range(50):
        assert remote.embed(["a" * i]).shape == (1, 4)
    assert service.embedder.calls == 50  # type: ignore[attr-defined]
    remote.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")
def test_the_model_runs_without_preempting_the_worker_that_asked() -> None:
    """The service's threads run under SCHED_BATCH: woken by a worker's query, they do not
    preempt that worker on its core (and threads the model starts inherit the policy)."""
    policies: list[int] = []

    class Recording(Counting):
        def embed(self, texts: list[str]) -> np.ndarray:
            policies.append(os.sched_getscheduler(0))
            started: list[int] = []
            thread = threading.Thread(target=lambda: started.append(os.sched_getscheduler(0)))
            thread.start()
            thread.join()
            policies.extend(started)
            return super().embed(texts)

    running = EmbeddingService(Recording()).start()  # type: ignore[arg-type]
    try:
        remote = RemoteEmbedder(running.path, key="counting", dim=4)
        remote.embed(["a query"])
        remote.close()
    finally:
        running.stop()
    assert policies == [os.SCHED_BATCH, os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # this thread is left as it was


def test_hostile_requests_are_refused_and_the_service_keeps_serving(
    service: EmbeddingService,
) -> None:
    refused = [
        struct.pack(">I", 1 << 30),  # a length past the limit: refused before reading it
        framed(b"not js\xff"),
        framed(b'{"a": 1}'),
        framed(b"[1,2]"),
        framed(b'["unpaired \\ud800"]'),
        framed(json.dumps(["t"] * (MAX_TEXTS + 1)).encode()),
    ]
    for payload in refused:
        status, message = raw(service.path, payload)
        assert status == b"\x01" and message, payload[:20]
    # Half a message, then the connection drops: nothing breaks.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(service.path))
        conn.sendall(struct.pack(">I", 100) + b"[")
    remote = RemoteEmbedder(service.path, key="counting", dim=4)
    assert remote.embed(["still here"]).shape == (1, 4)
    remote.close()


def test_a_query_sent_ahead_is_read_later_on_the_same_connection(
    service: EmbeddingService,
) -> None:
    remote = RemoteEmbedder(service.path, key="counting", dim=4)
    expected = remote.embed(["abc", "de"])
    pending = remote.begin("abc")
    assert np.array_equal(pending.result(), expected[:1])
    with pytest.raises(RuntimeError):
        pending.result()  # read once
    # An answer never read is dropped with its connection: the next request gets its own.
    for _ in range(3):
        remote.begin("abc").close()
        assert np.array_equal(remote.embed(["de"]), expected[1:])
    remote.begin("boom").close()  # a failure never read leaves nothing behind either
    assert np.array_equal(remote.begin("de").result(), expected[1:])
    with pytest.raises(EmbeddingUnavailable, match="model exploded"):
        remote.begin("boom").result()
    assert np.array_equal(remote.begin("de").result(), expected[1:])
    remote.close()


def test_a_query_whose_connection_breaks_is_sent_again(tmp_path: Path) -> None:
    # A service that drops the first connection after reading the request, then answers.
    path = tmp_path / "embed.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    served: list[bytes] = []

    def serve() -> None:
        for answer in (False, True):
            conn, _ = listener.accept()
            with conn:
                (size,) = struct.unpack(">I", conn.recv(4))
                served.append(conn.recv(size))
                if answer:
                    body = np.ones(4, dtype="<f4").tobytes()
                    conn.sendall(b"\x00" + struct.pack(">I", len(body)) + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    remote = RemoteEmbedder(path, key="counting", dim=4)
    try:
        assert remote.begin("abc").result().tolist() == [[1.0, 1.0, 1.0, 1.0]]
        assert served == [b'["abc"]', b'["abc"]']
    finally:
        remote.close()
        thread.join(timeout=10)
        listener.close()


def test_a_model_failure_is_an_error_for_that_request_only(service: EmbeddingService) -> None:
    remote = RemoteEmbedder(service.path, key="counting", dim=4)
    with pytest.raises(EmbeddingUnavailable, match="model exploded"):
        remote.embed(["boom"])
    assert remote.embed(["fine"]).shape == (1, 4)
    remote.close()


def test_no_service_is_a_clear_error(tmp_path: Path) -> None:
    remote = RemoteEmbedder(tmp_path / "nothing.sock", key="counting", dim=4)
    with pytest.raises(EmbeddingUnavailable, match="cannot be reached"):
        remote.embed(["query"])


def test_a_restarted_service_is_reconnected_to() -> None:
    first = EmbeddingService(Counting()).start()  # type: ignore[arg-type]
    remote = RemoteEmbedder(first.path, key="counting", dim=4)
    assert remote.embed(["one"]).shape == (1, 4)
    first.stop()
    second = EmbeddingService(Counting()).start()  # type: ignore[arg-type]
    try:
        remote.path = str(second.path)
        assert remote.embed(["two"]).shape == (1, 4)  # the broken connection is replaced
        remote.close()
    finally:
        second.stop()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _maps_onnxruntime(pid: int) -> bool:
    return "onnxruntime" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_serve_with_two_workers_holds_one_model(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["demo", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exe = shutil.which("dailypapers", path=str(Path(sys.executable).parent))
    assert exe, "console script not installed"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--workers", "2", "--no-jobs"],
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready means each worker that answers has its searches' model (here: the service's).
        # The loop ends when both workers answered ready or the server died (the guard only
        # keeps a hung server from hanging the suite).
        deadline = time.monotonic() + 600
        ready = 0
        while ready < 6:
            try:
                ok = httpx.get(f"{base}/readyz", timeout=30).status_code == 200
                ready = ready + 1 if ok else 0
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not get ready (exit code {proc.poll()})")
            time.sleep(0.1)
        for q in ("diffusion models for video generation", "graph neural networks"):
            for _ in range(4):  # fresh connections: both workers answer some
                with httpx.Client(base_url=base, timeout=60) as client:
                    found = client.get("/api/papers/search", params={"q": q, "mode": "semantic"})
                assert found.status_code == 200 and len(found.json()) > 0
        workers = _children(proc.pid)
        assert len(workers) >= 2
        assert not any(_maps_onnxruntime(pid) for pid in workers)
        assert _maps_onnxruntime(proc.pid)  # the one model, in the main process
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        output = proc.stdout.read().decode()
        proc.stdout.close()
    assert "one model in this process for all workers" in output


def test_searches_fall_back_to_keywords_while_the_service_is_down(
    engine: Engine, settings: Settings, corpus: Corpus, embedder: Memoised, tmp_path: Path
) -> None:
    remote = RemoteEmbedder(tmp_path / "gone.sock", key=embedder.key, dim=embedder.dim)
    searcher = Searcher(SnapshotStore(settings.index_dir), remote)  # type: ignore[arg-type]
    title = corpus.papers[0]["title"]
    with engine.connect() as conn:
        hybrid = searcher.search(conn=conn, q=title, mode="hybrid")
        keyword = searcher.search(conn=conn, q=title, mode="keyword")
        semantic = searcher.search(conn=conn, q=title, mode="semantic")
    assert [h.row["id"] for h in hybrid.hits] == [h.row["id"] for h in keyword.hits]
    assert hybrid.hits and semantic.unavailable is None


def test_searches_through_the_service_match_the_model_in_process(
    engine: Engine, settings: Settings, corpus: Corpus, embedder: Memoised
) -> None:
    running = EmbeddingService(embedder).start()  # type: ignore[arg-type]
    remote = RemoteEmbedder(running.path, key=embedder.key, dim=embedder.dim)
    try:
        here = Searcher(SnapshotStore(settings.index_dir), embedder)  # type: ignore[arg-type]
        there = Searcher(SnapshotStore(settings.index_dir), remote)  # type: ignore[arg-type]
        queries = [corpus.papers[0]["title"], "graph neural networks", "cat:cs.LG transformers"]
        with engine.connect() as conn:
            for q in queries:
                for mode in ("hybrid", "semantic"):
                    for page in (0, 1):  # the second time from the query-vector cache
                        a = here.search(conn=conn, q=q, mode=mode, page=page, limit=5)
                        b = there.search(conn=conn, q=q, mode=mode, page=page, limit=5)
                        assert [h.row["id"] for h in b.hits] == [h.row["id"] for h in a.hits]
                        assert [h.score for h in b.hits] == [h.score for h in a.hits]
            # Nothing left unread on the connection: a plain request still gets its own answer.
            fresh = ["protein folding"]
            assert np.array_equal(remote.embed(fresh), embedder.embed(fresh))
    finally:
        remote.close()
        running.stop()
