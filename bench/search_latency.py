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

``--delta N`` measures what the live delta (papers newer than the base build, issue 12)
adds, side by side: a server started before any change (its delta stays empty), then ``N``
papers of the corpus are marked as changed after the build (``modified_at`` spread between
the build's watermark and now, so the delta holds them with their stored vectors and their
base copies are masked), a second server reads them into its delta (checked on
``/health``), and both run the same cold and warm phases in alternating slices of
``--slice-seconds``.  Adds ``server`` and ``delta_papers`` to every line, and one
``kind: "ratio"`` line per phase and query kind (p50 and p95, delta / no delta).  The
changed papers get their ``modified_at`` back at the end (the cached corpus stays as built).

``--against CHECKOUT`` compares two versions of the code the same way: a server running
another checkout's code (its ``src/`` first on PYTHONPATH; the same corpus and snapshot, so
both must read the same index format) and one running this checkout's, in alternating
slices. Lines carry ``server`` (``against`` or ``this``) and ``code`` (each checkout's
commit), and the ``kind: "ratio"`` lines are this / against: one run on a shared, noisy
machine instead of runs at different times.
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
import datetime as dt
import http.client
import math
import random
import shutil
import signal
import tempfile
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
    code_version,
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
from sqlalchemy import select, update

from dailypapers.index.delta import watermark_of
from dailypapers.index.snapshot import SnapshotStore
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import papers

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


def _serving_pid(client: Client, pids: list[int]) -> int | None:
    """The server process holding the other end of ``client``'s connection (from /proc)."""
    assert client.conn is not None and client.conn.sock is not None
    here = client.conn.sock.getsockname()[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if local_port == client.port and remote_port == here:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return pid
    return None


def spread_over_workers(clients: list[Client], pgid: int, workers: int) -> dict[str, int]:
    """Connect the clients so that each worker serves its share of them.

    Uvicorn's workers share one listening socket and a woken worker accepts every pending
    connection: two clients connecting at once often both land on one worker while the other
    idles, and the figures then measure that queue (warm p50 7.5 or 14 ms from run to run).
    Reconnects a client until its connection is held by a worker below its share.
    """
    pids = _group_pids(pgid)
    share = -(-len(clients) // workers)
    held: dict[int, int] = {}
    for client in clients:
        for _ in range(100):
            client.get("/livez")
            pid = _serving_pid(client, pids)
            if pid is not None and held.get(pid, 0) < share:
                held[pid] = held.get(pid, 0) + 1
                break
            client.close()
    return {str(pid): count for pid, count in sorted(held.items())}


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


@dataclass(slots=True)
class Served:
    """One server of a side-by-side run: its clients and what they measured in a phase."""

    label: str
    base: str
    pgid: int
    clients: list[Client]
    delta_papers: list[int]
    taken: int = 0  # cold requests taken so far (each server gets the same sequence)
    samples: list[tuple[str, float, int, int]] = field(default_factory=list)
    seconds: float = 0.0


def mark_changed(url: str, folder: Path, count: int, seed: int) -> list[tuple[str, Any]]:
    """Mark ``count`` random papers as changed after the served build (``modified_at``
    spread between its watermark and now, at most an hour back); returns the old values."""
    snapshot = SnapshotStore(folder / "data" / "index").current()
    watermark = watermark_of(snapshot)
    if watermark is None:
        raise SystemExit("--delta: the build records no watermark (rebuild the corpus)")
    now = dt.datetime.now(dt.UTC)
    low = max(watermark + dt.timedelta(seconds=1), now - dt.timedelta(hours=1))
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(papers.c.id, papers.c.modified_at)).all()
        chosen = random.Random(seed).sample([tuple(r) for r in rows], count)
        step = (now - low) / (count + 1)
        with engine.begin() as conn:
            for number, (pid, _) in enumerate(chosen):
                stamp = low + step * (number + 1)
                conn.execute(update(papers).where(papers.c.id == pid).values(modified_at=stamp))
    finally:
        engine.dispose()
    log(f"--delta: {count} papers marked as changed between {low:%H:%M:%S} and {now:%H:%M:%S}")
    return chosen


def restore_changed(url: str, old: list[tuple[str, Any]]) -> None:
    """Give the papers ``mark_changed`` marked their ``modified_at`` back."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for pid, modified in old:
                conn.execute(update(papers).where(papers.c.id == pid).values(modified_at=modified))
    finally:
        engine.dispose()
    log(f"--delta: modified_at of {len(old)} papers restored")


def delta_sizes(base: str, tries: int = 24) -> list[int]:
    """``/health``'s live-delta size, asked on ``tries`` fresh connections (any worker)."""
    parts = urlsplit(base)
    seen = []
    for _ in range(tries):
        client = Client(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        status, body = client.get("/health")
        client.close()
        if status != 200:
            raise RuntimeError(f"/health answered {status}: {body[:200]!r}")
        seen.append(int(orjson.loads(body)["index"].get("delta_papers", 0)))
    return seen


def wait_for_delta(base: str, wanted: int, timeout: float = 300) -> list[int]:
    """Until every ``/health`` answer (both workers) reports a delta of ``wanted`` papers."""
    deadline = time.monotonic() + timeout
    while True:
        seen = delta_sizes(base)
        if all(size == wanted for size in seen):
            return seen
        if time.monotonic() > deadline:
            raise RuntimeError(f"the live delta never reached {wanted} papers: {seen}")
        time.sleep(1)


def run_alternating(
    servers: list[Served],
    phase: str,
    requests: list[tuple[str, str]],
    length: float,
    per_client: int,
    slice_s: float,
) -> None:
    """The servers take turns of ``slice_s`` (so both see the same load drift) for a total of
    ``length`` seconds each; cold turns carry on through the same request sequence."""
    rounds = max(1, math.ceil(length / slice_s))
    for served in servers:
        served.samples, served.seconds = [], 0.0
    for _ in range(rounds):
        for served in servers:
            if phase == "cold":
                before = sum(len(c.issued) for c in served.clients)
                served.seconds += run_cold(
                    served.clients, requests[served.taken :], length / rounds
                )
                served.taken += sum(len(c.issued) for c in served.clients) - before
            else:
                served.seconds += run_warm(served.clients, length / rounds, per_client)
            for client in served.clients:
                served.samples.extend(client.samples)
                client.samples.clear()


def ratio(second: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
    """p50, p95 and mean of the second server over the first's."""
    if not second.get("requests") or not first.get("requests"):
        return {}
    keys = ("p50_ms", "p95_ms", "mean_ms")
    return {f"ratio_{key}": round(second[key] / first[key], 3) for key in keys}


def side_by_side(
    args: argparse.Namespace,
    url: str,
    folder: Path,
    rows: list[dict[str, Any]],
    requests: list[tuple[str, str]],
    common: dict[str, Any],
    setup: dict[str, Any],
) -> None:
    """``--delta``: a server with an empty delta and one with ``args.delta`` papers in it;
    ``--against``: a server running another checkout's code and one running this one's. The
    same phases in alternating slices; figures of each and their ratio (second / first)."""
    machine = machine_info()
    scratch = Path(tempfile.mkdtemp(prefix="search-latency-pair-"))
    marked: list[tuple[str, Any]] = []
    saved = os.environ.get("DAILYPAPERS_INDEX_FOLLOW_SECONDS")
    labels = ("against", "this") if args.against else ("no_delta", "delta")
    codes = {"against": code_version(args.against), "this": code_version()} if args.against else {}
    try:
        with contextlib.ExitStack() as stack:
            servers = []
            for label in labels:
                home = scratch / label
                home.mkdir()
                (home / "data").symlink_to(folder / "data")  # same build, own server log
                # Without a delta, the server reads its (empty) delta once at start only.
                follow = "86400" if label == "no_delta" else saved
                if follow is None:
                    os.environ.pop("DAILYPAPERS_INDEX_FOLLOW_SECONDS", None)
                else:
                    os.environ["DAILYPAPERS_INDEX_FOLLOW_SECONDS"] = follow
                if label == "delta":
                    marked = mark_changed(url, folder, args.delta, args.seed + 2)
                checkout = args.against if label == "against" else None
                base, pgid = stack.enter_context(running_server(url, args.workers, home, checkout))
                warmed = warm_up(base, QueryMaker(rows, args.seed + 1), pgid, args.workers)
                setup[f"{label}_warmup"] = warmed
                wanted = args.delta if label == "delta" else 0
                seen = wait_for_delta(base, wanted)
                log(f"{label}: /health reports a delta of {sorted(set(seen))} papers")
                parts = urlsplit(base)
                clients = [
                    Client(parts.hostname or "127.0.0.1", parts.port or 80)
                    for _ in range(args.connections)
                ]
                spread_over_workers(clients, pgid, args.workers)
                servers.append(Served(label, base, pgid, clients, seen))
            if args.delta and delta_sizes(servers[0].base) != [0] * 24:
                raise RuntimeError("the server without a delta read the changed papers")
            warm_s = args.warm_duration or args.duration
            per_client = max(1, 2048 // args.connections)
            for phase in ("cold", "warm"):
                length = args.duration if phase == "cold" else warm_s
                log(f"{phase}: both servers, {args.connections} clients, {length:g} s each")
                with contextlib.ExitStack() as spies:
                    for served in servers:
                        name = f"{phase}.{served.label}"
                        spies.enter_context(sampling(args.py_spy, name, served.pgid, 2 * length))
                    run_alternating(
                        servers, phase, requests, length, per_client, args.slice_seconds
                    )
                figures: dict[str, dict[str, dict[str, Any]]] = {}
                for served in servers:
                    extra = {
                        "phase": phase,
                        "server": served.label,
                        "delta_papers": sorted(set(served.delta_papers)),
                        "duration_s": round(served.seconds, 2),
                        "slice_s": args.slice_seconds,
                        "reconnects": sum(c.reconnects for c in served.clients),
                        "server_rss_mib": _group_rss_mib(served.pgid),
                        "load_avg_1m_after": load_average(),
                        **({"code": codes[served.label]} if codes else {}),
                    }
                    mine = figures[served.label] = {}
                    for kind in [*MIX, "all"]:
                        chosen = [s for s in served.samples if kind in ("all", s[0])]
                        mine[kind] = summarise(chosen, served.seconds)
                        more = {"setup": setup} if kind == "all" else {}
                        line = {**common, "kind": kind, **mine[kind], **extra, **more}
                        emit({**line, "machine": machine})
                for kind in [*MIX, "all"]:
                    emit(
                        {
                            **common,
                            "kind": "ratio",
                            "of": kind,
                            "phase": phase,
                            "ratio_of": f"{labels[1]} / {labels[0]}",
                            **ratio(figures[labels[1]][kind], figures[labels[0]][kind]),
                            "load_avg_1m_after": load_average(),
                        }
                    )
            for served in servers:
                for client in served.clients:
                    client.close()
    finally:
        if marked:
            restore_changed(url, marked)
        shutil.rmtree(scratch, ignore_errors=True)
        if saved is None:
            os.environ.pop("DAILYPAPERS_INDEX_FOLLOW_SECONDS", None)
        else:
            os.environ["DAILYPAPERS_INDEX_FOLLOW_SECONDS"] = saved


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
    parser.add_argument(
        "--delta",
        type=int,
        default=0,
        metavar="N",
        help="also serve N papers changed after the build (live delta) and compare, side by side",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="also serve the corpus with another checkout's code and compare, side by side",
    )
    parser.add_argument(
        "--slice-seconds",
        type=float,
        default=2.5,
        help="with --delta or --against: the servers take turns this long (under uvicorn's "
        "5 s keep-alive)",
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.delta < 0 or args.delta > args.docs:
        parser.error("need 0 <= --delta <= --docs")
    if args.against is not None:
        if args.delta:
            parser.error("--against and --delta: one comparison at a time")
        args.against = args.against.resolve()
        if not (args.against / "src" / "dailypapers" / "__init__.py").is_file():
            parser.error(f"--against {args.against}: no src/dailypapers there")
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
                "embedding_engine": os.environ.get("DAILYPAPERS_EMBEDDING_ENGINE", "onnxruntime"),
            }
            setup = {"cached": corpus.cached, "seconds": corpus.seconds, "counts": corpus.counts}
            if args.delta:
                common["delta_requested"] = args.delta
            if args.delta or args.against:
                side_by_side(args, corpus.url, corpus.folder, rows, requests, common, setup)
                return
            with running_server(corpus.url, args.workers, corpus.folder) as (base, pgid):
                setup.update(warm_up(base, QueryMaker(rows, args.seed + 1), pgid, args.workers))
                parts = urlsplit(base)
                clients = [
                    Client(parts.hostname or "127.0.0.1", parts.port or 80)
                    for _ in range(args.connections)
                ]
                common["clients_per_worker"] = spread_over_workers(clients, pgid, args.workers)
                log(f"clients per worker: {common['clients_per_worker']}")
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
