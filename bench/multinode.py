"""Many web nodes on one PostgreSQL: readiness of new nodes and freshness of new papers.

One PostgreSQL (a throwaway server, or ``--database-url``), a base corpus loaded and indexed
through one node's CLI (the bundled sample with its precomputed vectors: ``demo --no-serve``,
plus ``--extra`` papers of the shared daily feed with the sample's vectors borrowed, to make
the base bigger without hours of embedding), then ``--nodes`` ``dailypapers serve``
processes started with empty data directories on loopback (the first takes part in index
upkeep, the others are ``--no-jobs`` web nodes). Measured:

- ``ready_seconds``: per node, from process start until ``/readyz`` answers 200 (it has
  downloaded the published build and loaded the model);
- then ``--new`` papers of the feed are ingested through the CLI (``ingest jsonl``), and for
  ``--probe`` of them, per node, the seconds from the end of the ingest until an exact-title
  search (keyword) and a semantic query (the first 200 characters of the abstract, top 10)
  find them (p50, max). ``DAILYPAPERS_INDEX_REBUILD_DELTA`` is set to half of ``--new`` so a
  rebuild is published and every node switches while it is being searched;
- ``errors``: responses other than 200 from any node during that phase (goal: 0).

    .venv/bin/python bench/multinode.py --new 60 --probe 10
    .venv/bin/python bench/multinode.py --extra 20000 --new 200 --probe 20

Prints one JSON line. Goals (issue): nodes ready <= 3 min at 75k papers; new papers found
everywhere within 60 s; no errors while builds publish and switch.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import contextlib
import gzip
import json
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from bench.common import (
    add_common_arguments,
    database_version,
    emit,
    load_feed,
    log,
    machine_info,
    temp_database,
)
from bench.http import _serving, free_port, http_get
from bench.ingest import export_record, write_jsonl
from sqlalchemy import func, select

from dailypapers.demo import sample_path
from dailypapers.index.embedder import default_embedder
from dailypapers.storage.embeddings import store, text_hash
from dailypapers.storage.engine import make_engine, write_transaction
from dailypapers.storage.papers import texts_of
from dailypapers.storage.schema import embeddings, index_generations, papers


def _cli(args: list[str], env: dict[str, str], folder: Path) -> float:
    """Run ``dailypapers ARGS``; its wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dailypapers", *args],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"dailypapers {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def _env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_DATA_DIR": str(data_dir),
        "DAILYPAPERS_SECRET_KEY": "bench-" + "k" * 40,
        **extra,
    }


@contextlib.contextmanager
def _nodes(
    url: str, folder: Path, count: int, extra_env: dict[str, str]
) -> Iterator[list[tuple[str, float]]]:
    """``count`` serve processes with empty data dirs; yields (base URL, seconds to ready)."""
    with contextlib.ExitStack() as stack:
        started: list[tuple[str, float]] = []
        for i in range(count):
            port = free_port()
            env = _env(url, folder / f"node{i}", **extra_env)
            command = [sys.executable, "-m", "dailypapers", "serve", "--host", "127.0.0.1"]
            command += ["--port", str(port)] + ([] if i == 0 else ["--no-jobs"])
            began = time.monotonic()
            base, _ = stack.enter_context(
                _serving(command, env, folder, f"node{i}", "/livez", port, startup_timeout=300)
            )
            started.append((base, began))
        ready: list[tuple[str, float]] = []
        for base, began in started:
            while True:
                status, _ = http_get(base + "/readyz", timeout=10)
                if status == 200:
                    break
                if time.monotonic() - began > 600:
                    raise RuntimeError(f"{base} not ready after 600 s")
                time.sleep(0.2)
            ready.append((base, time.monotonic() - began))
            log(f"{base} ready after {ready[-1][1]:.1f} s")
        yield ready


def _search(base: str, q: str, mode: str, limit: int) -> tuple[int, list[str]]:
    query = urllib.parse.urlencode({"q": q, "mode": mode, "limit": limit})
    try:
        status, body = http_get(f"{base}/api/papers/search?{query}", timeout=30)
    except OSError as exc:  # refused or reset: an error of that node
        log(f"{base}: {exc}")
        return -1, []
    if status != 200:
        return status, []
    return status, [item["paper"]["id"] for item in json.loads(body)]


def _borrow_vectors(engine: Any, ids: list[str]) -> None:
    """Give the extra base papers the sample's vectors (cycled, with noise) under their own
    text hash: filler that is not embedded again, as a real site's papers are not."""
    key = default_embedder().key
    with engine.connect() as conn:
        pool = np.stack(
            [
                np.asarray(v, dtype=np.float32)
                for v in conn.execute(select(embeddings.c.vector)).scalars()
            ]
        )
    rng = np.random.default_rng(0)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        with engine.connect() as conn:
            texts = texts_of(conn=conn, ids=chunk)
        chunk = [pid for pid in chunk if pid in texts]
        vectors = pool[rng.integers(0, len(pool), len(chunk))]
        vectors = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = [(pid, text_hash(*texts[pid])) for pid in chunk]
        with write_transaction(engine) as conn:
            store(conn=conn, model=key, items=items, vectors=vectors.astype(np.float32))


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "max": None}
    return {"p50": round(statistics.median(values), 2), "max": round(max(values), 2)}


def main() -> None:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--extra", type=int, default=0, help="feed papers added to the base")
    parser.add_argument("--new", type=int, default=60, help="papers ingested after start")
    parser.add_argument("--probe", type=int, default=10, help="new papers looked for")
    parser.add_argument("--follow-seconds", type=float, default=10.0)
    parser.add_argument("--give-up", type=float, default=300.0, help="seconds per probe")
    parser.add_argument("--timeout-minutes", type=float, default=60)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("watchdog: out of time"))
    signal.alarm(int(args.timeout_minutes * 60))

    with gzip.open(sample_path(), "rt") as handle:
        known = {json.loads(line)["id"] for line in handle}
    feed = [r for r in load_feed(path=args.feed) if r["id"] not in known]
    extra, new = feed[: args.extra], feed[args.extra : args.extra + args.new]
    folder = Path(tempfile.mkdtemp(prefix="dailypapers-multinode-"))
    result: dict[str, Any] = {"bench": "multinode", "machine": machine_info()}
    with temp_database("postgresql", args.database_url) as url:
        loader = _env(url, folder / "loader")
        result["base_load_seconds"] = round(_cli(["demo", "--no-serve"], loader, folder), 1)
        engine = make_engine(url)
        if extra:
            path = folder / "extra.jsonl"
            write_jsonl(extra, path, export_record)
            _cli(["ingest", "jsonl", str(path)], loader, folder)
            _borrow_vectors(engine, [r["id"] for r in extra])
            result["base_build_seconds"] = round(
                _cli(["index", "--no-progress", "--no-embed"], loader, folder), 1
            )
        with engine.connect() as conn:
            result["papers"] = conn.execute(select(func.count()).select_from(papers)).scalar()
            result["base_bytes"] = conn.execute(
                select(index_generations.c.bytes).order_by(index_generations.c.id.desc())
            ).scalar()
        node_env = {
            "DAILYPAPERS_INDEX_FOLLOW_SECONDS": str(args.follow_seconds),
            "DAILYPAPERS_INDEX_REBUILD_DELTA": str(max(1, args.new // 2)),
        }
        with _nodes(url, folder, args.nodes, node_env) as ready:
            result["ready_seconds"] = [round(seconds, 1) for _, seconds in ready]
            path = folder / "new.jsonl"
            write_jsonl(new, path, export_record)
            _cli(["ingest", "jsonl", str(path)], loader, folder)
            ingested = time.monotonic()
            probes = new[: args.probe]
            found: dict[tuple[str, int, str], float] = {}
            errors = requests = 0
            while len(found) < len(probes) * len(ready) * 2:
                for base, _ in ready:
                    for i, row in enumerate(probes):
                        for kind, q, mode, limit in (
                            ("title", row["title"], "keyword", 5),
                            ("semantic", row["abstract"][:200], "semantic", 10),
                        ):
                            if (base, i, kind) in found:
                                continue
                            status, ids = _search(base, q, mode, limit)
                            requests += 1
                            errors += status != 200
                            if row["id"] in ids:
                                found[(base, i, kind)] = time.monotonic() - ingested
                if time.monotonic() - ingested > args.give_up:
                    break
                time.sleep(0.5)
            # Keep searching every node until each serves a build published after the ingest
            # (the runner's rebuild): errors while it is published and switched count too.
            switched = time.monotonic()
            while time.monotonic() - ingested < args.give_up * 3:
                with engine.connect() as conn:
                    newest = conn.execute(
                        select(index_generations.c.build, index_generations.c.papers)
                        .order_by(index_generations.c.id.desc())
                        .limit(1)
                    ).one()
                serving = []
                for base, _ in ready:
                    status, ids = _search(base, probes[0]["title"], "hybrid", 5)
                    requests += 1
                    errors += status != 200
                    try:
                        health = json.loads(http_get(base + "/health", timeout=30)[1])
                        serving.append(health["index"].get("serving"))
                    except (OSError, ValueError, KeyError):
                        errors += 1
                        serving.append(None)
                if newest.papers >= int(result["papers"]) + len(new) and all(
                    name == newest.build for name in serving
                ):
                    result["rebuilt_and_switched_seconds"] = round(time.monotonic() - ingested, 1)
                    break
                time.sleep(1)
            result["searched_through_switch_seconds"] = round(time.monotonic() - switched, 1)
            for kind in ("title", "semantic"):
                seconds = [s for (_, _, k), s in found.items() if k == kind]
                result[f"found_{kind}_seconds"] = _percentiles(seconds)
                result[f"found_{kind}"] = f"{len(seconds)}/{len(probes) * len(ready)}"
            result["errors"] = errors
            result["requests"] = requests
            result["base_papers_after"] = newest.papers
            alive = []
            for base, _ in ready:
                try:
                    alive.append(http_get(base + "/livez", timeout=5)[0] == 200)
                except OSError:
                    alive.append(False)
            result["nodes_alive_at_end"] = alive
        engine.dispose()
        result["postgresql"] = database_version(url)
    result.update({"nodes": args.nodes, "new": len(new), "probe": args.probe})
    result["follow_seconds"] = args.follow_seconds
    result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    emit(result)


if __name__ == "__main__":
    main()
