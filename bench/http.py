"""HTTP throughput and latency of the site and API, measured with wrk on loopback.

Loads the 74,728 papers of the shared daily feed into a fresh database (our own JSON-lines
export format through ``read_jsonl`` with explicit days, so every paper is on the list of
the day it was first seen), starts ``dailypapers serve --workers N`` as a subprocess, waits
for ``/health``, then runs wrk against each endpoint for ``--duration`` seconds after a short
warm-up.  Paper pages go round-robin over ``--paper-ids`` different papers.

    .venv/bin/python bench/http.py --backend sqlite
    .venv/bin/python bench/http.py --backend postgresql --duration 10 --endpoints home,paper

Prints one JSON line per endpoint.  Goal (issue): at least 1,000 requests/s with p99 under
100 ms at 64 connections.  ``--endpoints mixed`` runs the community issue's mixed load: page
and API reads with 20% authenticated upvotes and withdrawals by 64 users (API tokens), e.g.

    .venv/bin/python bench/http.py --backend sqlite --endpoints mixed --duration 60

``--concurrent-ingest N`` holds the feed's last N papers back from the initial load and, while
the mixed load runs, ingests them with ``dailypapers ingest snapshot`` (a subprocess, as an
operator would run it on a live site); the mixed row then reports the ingest's exit status,
counts and time, and ``http_errors`` (socket errors plus non-2xx answers, which must be 0):

    .venv/bin/python bench/http.py --backend sqlite --endpoints mixed --concurrent-ingest 20000

``home`` and ``api_daily`` are also measured against a floor: a minimal FastAPI app
(``bench/floor_app.py``, same uvicorn settings and worker count) answering the exact bytes the
real server sent for that path.  Both run side by side; ``--rounds`` (3) alternates them so
they see the same machine load.  Their rows add ``floor`` (its figures), ``rounds`` (each
pair), ``rps_ratio_to_floor`` and ``p99_ratio_to_floor`` and ``floor_goal_met`` (issue 10:
at least 0.8 of the floor's requests/s, p99 at most 1.5 times the floor's):

    .venv/bin/python bench/http.py --backend sqlite --endpoints home,api_daily --limit 5000

The server is always stopped at the end, and every step has a time limit, so the program
ends by itself.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# This file's name shadows the standard library's ``http`` package while its folder is first
# on sys.path (as it is for ``python bench/http.py``): put the repository root there instead
# before anything imports ``http``.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import contextlib
import datetime as dt
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from bench.common import (
    BENCH,
    add_common_arguments,
    database_version,
    emit,
    load_average,
    load_feed,
    log,
    machine_info,
    temp_database,
)
from bench.ingest import export_record, run_file_ingest, snapshot_record, write_jsonl

from dailypapers.settings import Settings

LUA = BENCH / "wrk_report.lua"
# name -> path; "{id}" is replaced by each of the sampled paper ids in turn.
ENDPOINTS = {
    "home": "/",
    "api_daily": "/api/daily_papers",
    "paper": "/papers/{id}",
    "api_paper": "/api/papers/{id}",
    "week": "/papers?week={week}",
    "month": "/papers?month={month}",
    # Reads of day, paper and API pages plus authenticated upvotes (POST and DELETE).
    "mixed": "mixed",
}
MIXED_USERS = 64
INGEST_TIMEOUT_S = 1800
SUMMARY = re.compile(
    r"(?P<new>\d+) new, (?P<updated>\d+) updated, (?P<unchanged>\d+) unchanged, "
    r"(?P<rejected>\d+) rejected, (?P<featured>\d+) put on"
)
DEFAULT_ENDPOINTS = "home,api_daily,paper"
GOAL_RPS, GOAL_P99_MS = 1000, 100
# Endpoints also measured on the floor app (bench/floor_app.py) serving the same bytes, and
# the goal against it: requests/s at least 0.8 of the floor's, p99 at most 1.5 times.
FLOOR_ENDPOINTS = ("home", "api_daily")
FLOOR_RPS_RATIO, FLOOR_P99_RATIO = 0.8, 1.5
# ``--accept-encoding``: sent with every request (and when recording the floor's bytes, so
# the floor app answers the same compressed body); empty: none, an uncompressed body.
ACCEPT_ENCODING = [""]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """GET ``url`` (with ``--accept-encoding``); (status, body as sent) for any HTTP status."""
    wanted = {"Accept-Encoding": ACCEPT_ENCODING[0]} if ACCEPT_ENCODING[0] else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=wanted), timeout=timeout
        ) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _group_pids(pgid: int) -> list[int]:
    """The processes in process group ``pgid`` (the server and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
                    pids.append(int(entry.name))
    return pids


def _group_rss_mib(pgid: int) -> float:
    """Resident memory of every process in the process group ``pgid``."""
    total = 0
    for pid in _group_pids(pgid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return round(total * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


@contextlib.contextmanager
def _serving(
    command: list[str],
    env: dict[str, str],
    folder: Path,
    name: str,
    ready_path: str,
    port: int,
    startup_timeout: float = 90,
    cwd: Path | None = None,
) -> Iterator[tuple[str, int]]:
    """Run ``command`` (a server on ``port``) until ``ready_path`` answers 200; yields (base
    URL, process group id).

    The server runs in its own session (process group) so that it and its worker processes
    are stopped together at the end, whatever happened.
    """
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as server_log:
        process = subprocess.Popen(
            command,
            cwd=cwd or folder,  # no stray .env from the working directory
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{log_path.read_text()}"
                )
            with contextlib.suppress(OSError):
                status, body = http_get(base + ready_path, timeout=2)
                if status == 200:
                    log(f"{name} up on {base}: {body[:200].decode(errors='replace')}")
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {startup_timeout} s")
            time.sleep(0.25)
        yield base, process.pid
    finally:
        _stop(process)
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        if tail:
            log(f"{name} log (last lines): " + " | ".join(tail))


@contextlib.contextmanager
def running_server(
    url: str, workers: int, folder: Path, checkout: Path | None = None
) -> Iterator[tuple[str, int]]:
    """``dailypapers serve`` on a free loopback port; yields (base URL, process group id).

    ``checkout``: another checkout of dailypapers whose code the server runs instead (its
    ``src/`` first on PYTHONPATH, ahead of this environment's installed copy)."""
    port = free_port()
    env = {
        **os.environ,
        **({"PYTHONPATH": str(checkout.resolve() / "src")} if checkout else {}),
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_DATA_DIR": str(folder / "data"),
        "DAILYPAPERS_ENVIRONMENT": "development",
        # The mixed load votes as fast as it can: measure the server, not the rate limiter.
        "DAILYPAPERS_RATE_LIMIT_UPVOTE": "off",
    }
    command = [sys.executable, "-m", "dailypapers", "serve", "--host", "127.0.0.1"]
    # --no-jobs: measure the web server, not an index rebuild by the job runner inside it.
    command += ["--port", str(port), "--workers", str(workers), "--no-jobs"]
    with _serving(command, env, folder, "server", "/health", port) as served:
        yield served


# Written by uvicorn itself, or hop-by-hop (urllib asks for `Connection: close`).
UVICORN_WRITES = frozenset({"date", "server", "content-length", "transfer-encoding", "connection"})


@contextlib.contextmanager
def running_floor(
    base: str, paths: list[str], workers: int, folder: Path
) -> Iterator[tuple[str, int]]:
    """The floor app (``bench/floor_app.py``) answering ``paths`` with the bytes (body and
    headers) the real server at ``base`` sends for them now, under the uvicorn settings
    ``dailypapers serve`` uses (same worker count, no access log, no proxy headers); yields
    (base URL, pgid)."""
    recorded = {}
    for path in paths:
        wanted = {"Accept-Encoding": ACCEPT_ENCODING[0]} if ACCEPT_ENCODING[0] else {}
        request = urllib.request.Request(base + path, headers=wanted)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            kind = response.headers.get("content-type", "application/octet-stream")
            coding = response.headers.get("content-encoding", "")
            # Every header the site sent, so the client parses the same response from both
            # (wrk's Lua `response` hook builds a table of them for each response).
            headers = [
                (name.lower(), value)
                for name, value in response.headers.items()
                if name.lower() not in UVICORN_WRITES
            ]
        recorded[path] = {
            "content_type": kind,
            "body": body.hex(),
            "content_encoding": coding,
            "headers": headers,
        }
    pages = folder / "floor-pages.json"
    pages.write_bytes(orjson.dumps(recorded))
    port = free_port()
    env = {**os.environ, "DAILYPAPERS_BENCH_FLOOR": str(pages)}
    command = [sys.executable, "-m", "uvicorn", "bench.floor_app:create", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log", "--no-proxy-headers"]
    with _serving(command, env, folder, "floor", paths[0], port, cwd=BENCH.parent) as served:
        yield served


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it has not gone in 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    # Workers that outlived the master would still be in the group (which keeps its id).
    if _group_pids(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def run_wrk(
    url: str, *, duration: float, connections: int, threads: int, paths_file: Path | None
) -> dict[str, Any]:
    """One wrk run against ``url``; the figures from ``wrk_report.lua``."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s"]
    command += ["--timeout", "10s", "--latency", "-s", str(LUA), url]
    env = {
        **os.environ,
        "WRK_PATHS_FILE": str(paths_file) if paths_file else "",
        "WRK_ACCEPT_ENCODING": ACCEPT_ENCODING[0],
    }
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, Any] = orjson.loads(line.removeprefix("WRK_JSON "))
            return result
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")


def mixed_paths(ids: list[str], latest_day: str, tokens: list[str]) -> list[str]:
    """A shuffled mix: 60% HTML pages, 20% API reads, 20% upvote writes (half withdrawals).

    Each (user, paper) pair is voted then un-voted, so counts keep moving both ways.
    """
    rng = random.Random(1)
    reads = ["/", f"/papers?date={latest_day}", "/api/daily_papers"]
    lines: list[str] = []
    for n in range(2000):
        paper = ids[n % len(ids)]
        roll = n % 10
        if roll < 4:
            lines.append(f"/papers/{paper}")
        elif roll < 6:
            lines.append(reads[n % len(reads)] if roll == 4 else "/")
        elif roll < 8:
            lines.append(f"/api/papers/{paper}" if roll == 6 else "/api/daily_papers")
        else:
            token = tokens[n % len(tokens)]
            target = ids[rng.randrange(min(len(ids), 200))]
            method = "POST" if roll == 8 else "DELETE"
            lines.append(f"{method} /api/papers/{target}/upvote {token}")
    rng.shuffle(lines)
    first_read = next(i for i, line in enumerate(lines) if " " not in line)
    lines.insert(0, lines.pop(first_read))
    return lines


def create_voters(url: str, count: int) -> list[str]:
    """``count`` verified users with one API token each; their tokens."""
    from dailypapers.community import accounts
    from dailypapers.storage.engine import make_engine

    engine = make_engine(url)
    tokens = []
    try:
        with engine.begin() as conn:
            for n in range(count):
                user = accounts.create_user(
                    conn,
                    email=f"voter{n}@bench.example",
                    password="bench password",
                    username=f"voter{n}",
                )
                tokens.append(accounts.create_api_token(conn, user_id=user["id"], name="bench"))
    finally:
        engine.dispose()
    return tokens


def endpoint_paths(
    name: str, ids: list[str], latest_day: str, tokens: list[str] | None = None
) -> list[str]:
    """The concrete paths requested for endpoint ``name``."""
    template = ENDPOINTS[name]
    if name == "mixed":
        return mixed_paths(ids, latest_day, tokens or [])
    if "{id}" in template:
        return [template.replace("{id}", arxiv_id) for arxiv_id in ids]
    day = dt.date.fromisoformat(latest_day)
    year, week, _ = day.isocalendar()
    return [template.format(week=f"{year}-W{week:02d}", month=f"{day:%Y-%m}")]


@contextlib.contextmanager
def sampling(prefix: str | None, name: str, pid: int, duration: float) -> Iterator[None]:
    """With ``prefix``, record the server (all workers) with py-spy into ``prefix.name.txt``.

    The output is py-spy's collapsed-stack ("raw") format, one line per stack with a sample
    count, which flamegraph tools read.  The sampler costs CPU, so figures measured under it
    are not comparable with plain runs.
    """
    if not prefix:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    target = Path(f"{prefix}.{name}.txt")
    command = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
    command += ["--duration", str(max(1, int(duration) - 1)), "--nonblocking", "-o", str(target)]
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        try:
            sampler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()
        log(f"{name}: py-spy samples in {target}")


@contextlib.contextmanager
def concurrent_ingest(
    url: str, snapshot: Path | None, folder: Path, papers: int
) -> Iterator[dict[str, Any]]:
    """With ``snapshot``, run ``dailypapers ingest snapshot`` while the block runs.

    Yields a dict that is filled in when the block ends: the ingest is then waited for (it
    may outlast the load) and its exit status, counts and seconds are recorded.
    """
    figures: dict[str, Any] = {}
    if snapshot is None:
        yield figures
        return
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_DATA_DIR": str(folder / "data"),
        "DAILYPAPERS_ENVIRONMENT": "development",
    }
    command = [sys.executable, "-m", "dailypapers", "ingest", "snapshot", str(snapshot)]
    command.append("--no-progress")
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    load_ended = None
    try:
        yield figures
        load_ended = time.perf_counter() - started
    finally:
        try:
            out, err = process.communicate(timeout=INGEST_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        seconds = time.perf_counter() - started
        match = SUMMARY.search(out)
        counts = {k: int(v) for k, v in match.groupdict().items()} if match else {}
        featured = counts.get("featured", 0)
        figures.update(
            papers=papers,
            exit_code=process.returncode,
            # Every held-back paper accounted for (stored or rejected) and a clean exit.
            completed=process.returncode == 0 and sum(counts.values()) - featured == papers,
            counts=counts,
            seconds=round(seconds, 2),
            # True when the ingest ran through the whole measured load.
            outlasted_load=load_ended is not None and seconds >= load_ended,
            summary=out.strip().splitlines()[-1:] or None,
            stderr_tail=err.strip().splitlines()[-3:],
        )
        log(f"concurrent ingest: exit {process.returncode} in {seconds:.1f} s: {out.strip()}")


def measure(
    name: str,
    base: str,
    paths: list[str],
    folder: Path,
    args: argparse.Namespace,
    pgid: int,
    ingest: tuple[str, Path, int] | None = None,
    label: str | None = None,
    warmup: bool = True,
) -> dict[str, Any]:
    """Check that ``name`` answers 200, warm it up, then measure it; the figures.

    ``label`` names the run in logs and files (the floor app's runs are ``NAME_floor``).
    """
    label = label or name
    status, body = http_get(base + paths[0])
    if status != 200:
        raise RuntimeError(f"GET {paths[0]} answered {status}: {body[:300]!r}")
    paths_file = folder / f"{label}.paths"
    paths_file.write_text("\n".join(paths) + "\n")
    load = {"connections": args.connections, "threads": args.threads, "paths_file": paths_file}
    if warmup and args.warmup > 0:
        run_wrk(base + paths[0], duration=args.warmup, **load)
    log(f"{label}: wrk {args.duration:g} s on {ENDPOINTS[name]} ({len(paths)} paths)")
    url, snapshot, held = ingest or ("", None, 0)
    with (
        sampling(args.py_spy, label, pgid, args.duration),
        concurrent_ingest(url, snapshot, folder, held) as ingest_figures,
    ):
        result = run_wrk(base + paths[0], duration=args.duration, **load)
    latency, errors = result["latency_ms"], result["errors"]
    rps = result["requests_per_s"]
    socket_errors = sum(errors[key] for key in ("connect", "read", "write", "timeout"))
    extra = {}
    if ingest_figures:
        extra = {
            "concurrent_ingest": ingest_figures,
            "http_errors": socket_errors + result["non_2xx"],
        }
    return {
        "endpoint": ENDPOINTS[name],
        "name": name,
        "example": paths[0],
        "distinct_paths": len(paths),
        "duration_s": result["duration_s"],
        "requests": result["requests"],
        "requests_per_s": rps,
        "p50_ms": latency["p50"],
        "p90_ms": latency["p90"],
        "p99_ms": latency["p99"],
        "p999_ms": latency["p999"],
        "max_ms": latency["max"],
        "mean_ms": latency["mean"],
        "errors": sum(errors[key] for key in ("connect", "read", "write", "timeout")),
        "errors_detail": errors,
        "non_2xx": result["non_2xx"],
        "response_bytes": len(body),
        # Fewer than one request a second: the server hung (e.g. its connection pool starved).
        "stalled": result["requests"] < max(1, args.duration),
        "goal_met": rps >= GOAL_RPS and latency["p99"] < GOAL_P99_MS,
        **extra,
    }


def combine_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for several runs of one endpoint: requests/s over all of them, the median of
    each latency percentile, the worst maximum, errors summed."""
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["duration_s"] for r in rounds)
    combined = {**rounds[0], "requests": requests, "duration_s": round(seconds, 3)}
    combined["requests_per_s"] = round(requests / seconds, 1) if seconds else 0.0
    for key in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms"):
        combined[key] = statistics.median(r[key] for r in rounds)
    combined["max_ms"] = max(r["max_ms"] for r in rounds)
    for key in ("errors", "non_2xx"):
        combined[key] = sum(r[key] for r in rounds)
    combined["stalled"] = any(r["stalled"] for r in rounds)
    combined["goal_met"] = (
        combined["requests_per_s"] >= GOAL_RPS and combined["p99_ms"] < GOAL_P99_MS
    )
    return combined


def measure_against_floor(
    name: str,
    served: tuple[tuple[str, int], tuple[str, int]],
    paths: list[str],
    folder: Path,
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, float]]]:
    """``args.rounds`` runs of the real server, each followed at once by one of the floor app,
    so both see the same machine load; (real figures, floor figures, each round's pair)."""
    (base, pgid), (floor_base, floor_pgid) = served
    real_rounds, floor_rounds, pairs = [], [], []
    for n in range(args.rounds):
        real = measure(name, base, paths, folder, args, pgid, warmup=n == 0)
        floor = measure(
            name, floor_base, paths, folder, args, floor_pgid, label=f"{name}_floor", warmup=n == 0
        )
        real_rounds.append(real)
        floor_rounds.append(floor)
        pairs.append(
            {
                "requests_per_s": real["requests_per_s"],
                "floor_requests_per_s": floor["requests_per_s"],
                "p99_ms": real["p99_ms"],
                "floor_p99_ms": floor["p99_ms"],
                "load_avg_1m": load_average(),
            }
        )
    return combine_rounds(real_rounds), combine_rounds(floor_rounds), pairs


def floor_ratios(real: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """The real server's figures against the floor app's, and whether the goal is met."""
    rps = real["requests_per_s"] / floor["requests_per_s"] if floor["requests_per_s"] else 0.0
    p99 = real["p99_ms"] / floor["p99_ms"] if floor["p99_ms"] else float("inf")
    return {
        "rps_ratio_to_floor": round(rps, 3),
        "p99_ratio_to_floor": round(p99, 3),
        "p50_ratio_to_floor": round(real["p50_ms"] / floor["p50_ms"], 3)
        if floor["p50_ms"]
        else None,
        "floor_goal_met": rps >= FLOOR_RPS_RATIO and p99 <= FLOOR_P99_RATIO,
    }


def main() -> None:
    """Parse arguments, load the corpus, serve it and measure each endpoint."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--duration", type=float, default=30, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up seconds per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--endpoints",
        default=DEFAULT_ENDPOINTS,
        help=f"comma-separated, from {', '.join(ENDPOINTS)} (default: {DEFAULT_ENDPOINTS})",
    )
    parser.add_argument("--paper-ids", type=int, default=1000, help="papers to cycle through")
    parser.add_argument("--limit", type=int, help="only the first N papers of the feed")
    parser.add_argument(
        "--concurrent-ingest",
        type=int,
        default=0,
        metavar="N",
        help="hold the feed's last N papers back and ingest them (dailypapers ingest snapshot) "
        "while the mixed load runs",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs of each floored endpoint, alternating the real server and the floor app",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help=f"do not measure the floor app beside {', '.join(FLOOR_ENDPOINTS)}",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="sample the server with py-spy during each measured run (PREFIX.<endpoint>.txt)",
    )
    parser.add_argument(
        "--accept-encoding",
        default="",
        help="Accept-Encoding sent with every request, e.g. br or gzip (default: none), to "
        "measure compressed pages beside uncompressed ones",
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    ACCEPT_ENCODING[0] = args.accept_encoding
    names = [name.strip() for name in args.endpoints.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENDPOINTS]
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(unknown)}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    if args.concurrent_ingest and "mixed" not in names:
        parser.error("--concurrent-ingest runs beside the mixed load: add mixed to --endpoints")
    machine = machine_info()
    rows = load_feed(args.limit, args.feed)
    held = rows[len(rows) - args.concurrent_ingest :] if args.concurrent_ingest else []
    rows = rows[: len(rows) - len(held)]
    ids = sorted(row["id"] for row in rows)
    ids = random.Random(0).sample(ids, min(args.paper_ids, len(ids)))
    latest_day = max(row["first_seen"] for row in rows)
    folder = Path(tempfile.mkdtemp(prefix="dailypapers-bench-http-"))
    try:
        export = folder / "papers.jsonl"
        papers = write_jsonl(rows, export, export_record)
        del rows
        snapshot = folder / "held-back-snapshot.json"
        write_jsonl(held, snapshot, snapshot_record)
        with temp_database(args.backend, args.database_url) as url:
            report, seconds, _ = run_file_ingest(url, export, source="jsonl", settings=Settings())
            log(f"{report.summary()} in {seconds:.1f} s")
            common = {
                "bench": "http",
                "backend": args.backend,
                "database": database_version(url),
                "papers": papers,
                "connections": args.connections,
                "workers": args.workers,
                "wrk_threads": args.threads,
                "accept_encoding": args.accept_encoding,
            }
            tokens = create_voters(url, MIXED_USERS) if "mixed" in names else []
            floored = [] if args.no_floor else [n for n in names if n in FLOOR_ENDPOINTS]
            with contextlib.ExitStack() as servers:
                base, pgid = servers.enter_context(running_server(url, args.workers, folder))
                if floored:
                    floor_paths = [endpoint_paths(n, ids, latest_day)[0] for n in floored]
                    floor = running_floor(base, floor_paths, args.workers, folder)
                    floor_base, floor_pgid = servers.enter_context(floor)
                for name in names:
                    paths = endpoint_paths(name, ids, latest_day, tokens)
                    ingest = (url, snapshot, len(held)) if held and name == "mixed" else None
                    before = {"load_avg_1m_before": load_average()}
                    if name in floored:
                        served = ((base, pgid), (floor_base, floor_pgid))
                        figures, floor_figures, pairs = measure_against_floor(
                            name, served, paths, folder, args
                        )
                    else:
                        figures = measure(name, base, paths, folder, args, pgid, ingest)
                    rss = _group_rss_mib(pgid)
                    after = {"server_rss_mib": rss, "load_avg_1m_after": load_average()}
                    if name in floored:
                        after["floor"] = {
                            **floor_figures,
                            "server_rss_mib": _group_rss_mib(floor_pgid),
                        }
                        after.update(floor_ratios(figures, floor_figures))
                        after["rounds"] = pairs
                    emit({**common, **before, **figures, **after, "machine": machine})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
