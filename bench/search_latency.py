"""Search latency of ``GET /api/papers/search`` under modest concurrency, per query kind.

Builds a corpus (``bench/search_corpus.py``: ``--real`` papers of the shared daily feed
embedded with the real model, replicas with perturbed text and noisy vectors up to
``--docs``), starts ``dailypapers serve --workers 2`` as a subprocess, waits for ``/health``,
warms every worker up (model and snapshot loaded), then runs ``--connections`` closed-loop
clients (one keep-alive connection each) over a mix of distinct queries
(``bench/search_queries.py``) in two phases:

- ``cold``: every request is a query the server has not seen, so hybrid and semantic
  searches include embedding the query (what a new search costs);
- ``warm``: each client repeats its own most recent queries on the same connection (so the
  same worker, whose query-vector cache holds them): the cost without the model.

    .venv/bin/python bench/search_latency.py --real 5000 --docs 75000 \
        --cache bench/results/latency-cache
    .venv/bin/python bench/search_latency.py --backend postgresql --real 2000 --docs 20000

Prints one JSON line per phase and query kind, and ``kind: "all"`` per phase with the setup
timings.  Goals (issue): p50 <= 30 ms and p95 <= 100 ms at 75k papers; p50 <= 60 ms at 1M,
on both backends.  The server is always stopped, and a watchdog (``--timeout-minutes``) ends
the program whatever happens.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# This folder holds ``http.py``, which would shadow the standard library's ``http`` package;
# put the repository root first on sys.path instead of this folder.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import contextlib
import http.client
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson
from bench.common import (
    add_common_arguments,
    database_version,
    emit,
    load_average,
    load_feed,
    log,
    machine_info,
)
from bench.http import _group_pids, _group_rss_mib, running_server, sampling
from bench.search_corpus import prepared_corpus
from bench.search_queries import MIX, QueryMaker, write_paths

RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GOAL_75K = {"p50_ms": 30.0, "p95_ms": 100.0}
GOAL_1M = {"p50_ms": 60.0}
LOADED_MIB = 400


@dataclass(slots=True)
class Client:
    """One closed-loop client: a keep-alive connection and what it measured."""

    host: str
    port: int
    issued: list[tuple[str, str]] = field(default_factory=list)
    samples: list[tuple[str, float, int, int]] = field(default_factory=list)
    reconnects: int = 0
    timeout: float = 30
    conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` on the kept connection; one retry if the server had closed it."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                return response.status, response.read()
            except RETRYABLE:
                self.close()
                self.reconnects += 1
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def measure(self, kind: str, path: str) -> None:
        """One timed request; status 0 for a transport error."""
        start = time.perf_counter()
        try:
            status, body = self.get(path)
        except (OSError, http.client.HTTPException):
            self.close()
            status, body = 0, b""
        elapsed = (time.perf_counter() - start) * 1000
        hits = len(orjson.loads(body)) if status == 200 else 0
        self.samples.append((kind, elapsed, status, hits))

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_cold(clients: list[Client], requests: list[tuple[str, str]], duration: float) -> float:
    """Clients take distinct requests from one shared list until it or the time runs out."""
    pending = iter(requests)
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def work(client: Client) -> None:
        while time.monotonic() < stop_at:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            client.issued.append(item)
            client.measure(*item)

    return _run_threads(clients, work, duration)


def run_warm(clients: list[Client], duration: float, per_client: int) -> float:
    """Each client repeats its own latest ``per_client`` requests, on the same connection."""
    stop_at = time.monotonic() + duration

    def work(client: Client) -> None:
        replay = client.issued[-per_client:]
        client.samples.clear()
        number = 0
        while replay and time.monotonic() < stop_at:
            client.measure(*replay[number % len(replay)])
            number += 1

    return _run_threads(clients, work, duration)


def _run_threads(clients: list[Client], work: Any, duration: float) -> float:
    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
        if thread.is_alive():
            raise RuntimeError("a client did not finish (server hung?)")
    return time.perf_counter() - start


def summarise(samples: list[tuple[str, float, int, int]], seconds: float) -> dict[str, Any]:
    """Latency percentiles, rate, errors and empty results of some samples."""
    latencies = np.asarray([s[1] for s in samples], dtype=np.float64)
    if not len(latencies):
        return {"requests": 0}

    def pct(q: float) -> float:
        return round(float(np.percentile(latencies, q)), 2)

    return {
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": round(float(latencies.mean()), 2),
        "max_ms": round(float(latencies.max()), 2),
        "requests": len(samples),
        "requests_per_s": round(len(samples) / seconds, 1),
        "errors": sum(1 for s in samples if s[2] != 200),
        "zero_results": sum(1 for s in samples if s[2] == 200 and s[3] == 0),
    }


def goal_of(docs: int, figures: dict[str, Any]) -> dict[str, Any]:
    """The issue's goal for this corpus size, and whether the figures meet it."""
    goal = GOAL_75K if docs <= 100_000 else GOAL_1M
    met = figures.get("requests", 0) > 0 and all(figures[k] <= v for k, v in goal.items())
    return {"goal": goal, "goal_met": met and figures["errors"] == 0}


def _worker_rss_mib(pgid: int) -> dict[int, int]:
    """Resident memory of each uvicorn worker (spawned processes) of the server."""
    rss = {}
    for pid in _group_pids(pgid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue  # the master and multiprocessing's resource tracker
            pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            rss[pid] = round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20)
    return rss


def _mib(kb: int) -> float:
    return round(kb / 1024, 1)


def _worker_memory(pgid: int) -> dict[str, dict[str, Any]]:
    """What each worker's resident memory is made of: its own (anonymous) memory, file pages
    (shared with the other workers through the page cache), and the files it has resident
    (``/proc/PID/smaps``: libraries summed, files of 1 MiB or more by name), in MiB."""
    memory: dict[str, dict[str, Any]] = {}
    for pid in _worker_rss_mib(pgid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            rollup: dict[str, int] = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                name, value = line.split(":", 1)
                rollup[name] = int(value.split()[0])
            files: dict[str, int] = {}
            mapping = ""
            for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
                head = line.split(None, 5)
                if "-" in head[0] and len(head) >= 5:  # a mapping's first line
                    path = head[5].strip() if len(head) > 5 else ""
                    name = os.path.basename(path) if path.startswith("/") else path or "[anon]"
                    mapping = "libraries (.so)" if ".so" in name else name
                elif head[0] == "Rss:":
                    files[mapping] = files.get(mapping, 0) + int(head[1])
            memory[str(pid)] = {
                "rss": _mib(rollup["Rss"]),
                "pss": _mib(rollup["Pss"]),
                "anonymous": _mib(rollup["Anonymous"]),
                "file": _mib(rollup["Rss"] - rollup["Anonymous"]),
                "shared": _mib(rollup["Shared_Clean"] + rollup["Shared_Dirty"]),
                "private": _mib(rollup["Private_Clean"] + rollup["Private_Dirty"]),
                "resident": {
                    name: _mib(kb)
                    for name, kb in sorted(files.items(), key=lambda item: -item[1])
                    if kb >= 1024
                },
            }
    return memory


def warm_up(
    base: str, maker: QueryMaker, pgid: int, workers: int, connections: int = 8
) -> dict[str, Any]:
    """Searches on fresh connections until every worker has loaded the model and snapshot.

    A worker that has embedded a query holds the model (several hundred MiB resident), so
    rounds of searches go on (at most 6) until every worker is past ``LOADED_MIB``.  The
    first search of a worker waits for the model to load: seconds, or tens of seconds on a
    busy machine, hence the long timeout.
    """
    parts = urlsplit(base)
    started = time.perf_counter()
    count = 0
    for round_number in range(6):
        clients = [
            Client(parts.hostname or "127.0.0.1", parts.port or 80, timeout=180)
            for _ in range(connections)
        ]
        paths = [
            f"/api/papers/search?q=warm+up+{round_number}+{n}+{maker.question().replace(' ', '+')}"
            for n in range(connections * 2)
        ]

        def work(client: Client, paths: list[str] = paths, clients: list[Client] = clients) -> None:
            index = clients.index(client)
            for path in paths[index * 2 : index * 2 + 2]:
                client.measure("warmup", path)
            client.close()

        _run_threads(clients, work, 400)
        samples = [s for c in clients for s in c.samples]
        count += len(samples)
        errors = [s for s in samples if s[2] != 200]
        if errors:
            raise RuntimeError(f"warm-up searches failed: {errors[:3]}")
        rss = _worker_rss_mib(pgid)
        if len(rss) >= workers and min(rss.values()) >= LOADED_MIB:
            break
    seconds = time.perf_counter() - started
    log(f"warm-up: {count} searches in {seconds:.1f} s; worker RSS MiB: {rss}")
    if len(rss) < workers or min(rss.values()) < LOADED_MIB:
        log("warning: a worker may not have loaded the model yet (its first search is slow)")
    return {"warmup_s": round(seconds, 2), "worker_rss_mib": sorted(rss.values())}


@contextlib.contextmanager
def watchdog(minutes: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread after ``minutes`` (the server is then stopped)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"search_latency: gave up after {minutes:g} minutes")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, minutes * 60)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--docs", type=int, default=75_000, help="papers in the corpus (<= 1M)")
    parser.add_argument(
        "--real", type=int, default=5000, help="real papers of the feed, embedded by the model"
    )
    parser.add_argument(
        "--all-real",
        action="store_true",
        help="ingest every paper of the feed with its real text (the --real sample embedded, "
        "the others with a noisy copy of a sample paper's vector); replicas of all of them",
    )
    parser.add_argument("--duration", type=float, default=60, help="seconds of the cold phase")
    parser.add_argument("--warm-duration", type=float, help="seconds of the warm phase (=duration)")
    parser.add_argument("--connections", type=int, default=2, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--queries", type=int, default=6000, help="distinct requests made")
    parser.add_argument(
        "--cache", type=Path, help="folder keeping corpora and vectors between runs"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.025, help="replica vector noise (std)")
    parser.add_argument("--timeout-minutes", type=float, default=120, help="watchdog")
    parser.add_argument("--progress", action="store_true", help="progress bar while embedding")
    parser.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="sample the server during each phase (PREFIX.<phase>.txt)",
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    if not 0 < args.real <= args.docs <= 1_000_000:
        parser.error("need 0 < --real <= --docs <= 1,000,000")
    if args.cache:
        args.cache = args.cache.resolve()
    return args


def main() -> None:
    """Build or reuse the corpus, serve it, warm up, measure the cold and warm phases."""
    args = parse_args()
    machine = machine_info()
    with watchdog(args.timeout_minutes):
        rows = load_feed(None, args.feed)
        if args.real > len(rows):
            raise SystemExit(f"--real {args.real}: the feed has {len(rows)} papers")
        if args.all_real and args.docs < len(rows):
            raise SystemExit(f"--all-real: --docs must be at least the feed's {len(rows)} papers")
        feed = rows
        rows = sorted(random.Random(args.seed).sample(rows, args.real), key=lambda r: r["id"])
        sample = {row["id"] for row in rows}
        others = [row for row in feed if row["id"] not in sample] if args.all_real else []
        requests = QueryMaker(rows, args.seed).requests(args.queries)
        with prepared_corpus(rows, args, others) as corpus:
            write_paths(requests, corpus.folder / "requests.tsv")
            common = {
                "bench": "search_latency",
                "backend": args.backend,
                "database": database_version(corpus.url),
                "docs": corpus.docs,
                "real_docs": corpus.real,
                "embedded_real_docs": len(rows),
                "connections": args.connections,
                "workers": args.workers,
                # Thread counts of torch and BLAS in the server change the figures a lot.
                "thread_env": {name: os.environ.get(name) for name in THREAD_ENV},
                "vector_search": os.environ.get("DAILYPAPERS_VECTOR_SEARCH", "auto"),
            }
            setup = {"cached": corpus.cached, "seconds": corpus.seconds, "counts": corpus.counts}
            with running_server(corpus.url, args.workers, corpus.folder) as (base, pgid):
                setup.update(warm_up(base, QueryMaker(rows, args.seed + 1), pgid, args.workers))
                parts = urlsplit(base)
                clients = [
                    Client(parts.hostname or "127.0.0.1", parts.port or 80)
                    for _ in range(args.connections)
                ]
                warm_s = args.warm_duration or args.duration
                # Each worker's query-vector cache holds 2,048 texts: replay fewer per client.
                per_client = max(1, 2048 // args.connections)
                for phase in ("cold", "warm"):
                    length = args.duration if phase == "cold" else warm_s
                    log(f"{phase}: {args.connections} clients for {length:g} s")
                    with sampling(args.py_spy, phase, pgid, length):
                        if phase == "cold":
                            seconds = run_cold(clients, requests, args.duration)
                        else:
                            seconds = run_warm(clients, warm_s, per_client)
                    samples = [s for c in clients for s in c.samples]
                    extra = {
                        "phase": phase,
                        "duration_s": round(seconds, 2),
                        "distinct_requests": sum(
                            len(c.issued) if phase == "cold" else min(per_client, len(c.issued))
                            for c in clients
                        ),
                        "reconnects": sum(c.reconnects for c in clients),
                        "server_rss_mib": _group_rss_mib(pgid),
                        "worker_memory_mib": _worker_memory(pgid),
                        "load_avg_1m_after": load_average(),
                    }
                    for kind in MIX:
                        figures = summarise([s for s in samples if s[0] == kind], seconds)
                        emit({**common, "kind": kind, **figures, **extra, "machine": machine})
                    figures = summarise(samples, seconds)
                    emit(
                        {
                            **common,
                            "kind": "all",
                            **figures,
                            **goal_of(corpus.docs, figures),
                            **extra,
                            "setup": setup,
                            "machine": machine,
                        }
                    )
                for client in clients:
                    client.close()


if __name__ == "__main__":
    main()
