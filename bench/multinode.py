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

``--docs N`` grows the base to N papers with replicas of the extra feed papers, made as
``bench/search_corpus.py`` makes them (perturbed text, synthetic ids ``2701.xxxxx``, the
source's vector plus noise, loaded with COPY, then the pgvector HNSW index built once), so
nothing is embedded. Reported as well: the base build's seconds (the ``index`` run that
builds and publishes it), its size and how it is stored, and the preparation steps' seconds.
``--no-rebuild`` keeps the freshness phase to the live delta (no rebuild of a big base).

    .venv/bin/python bench/multinode.py --new 60 --probe 10
    .venv/bin/python bench/multinode.py --extra 20000 --new 200 --probe 20
    .venv/bin/python bench/multinode.py --extra 71461 --docs 1000000 --new 20 --probe 5 \
        --no-rebuild --ready-timeout 1800 --timeout-minutes 95

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
import atexit
import contextlib
import gzip
import json
import shutil
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
from bench.search_corpus import build_hnsw, store_replica_vectors, write_replicas
from sqlalchemy import func, select

from dailypapers.demo import sample_path
from dailypapers.index.embedder import default_embedder
from dailypapers.storage.embeddings import store, text_hash
from dailypapers.storage.engine import make_engine, write_transaction
from dailypapers.storage.generations import CHUNK_BYTES
from dailypapers.storage.papers import texts_of
from dailypapers.storage.schema import embeddings, index_chunks, index_generations, papers


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
    url: str, folder: Path, count: int, extra_env: dict[str, str], ready_timeout: float = 600
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
                if time.monotonic() - began > ready_timeout:
                    raise RuntimeError(f"{base} not ready after {ready_timeout:.0f} s")
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


def _grow(
    engine: Any, loader: dict[str, str], folder: Path, rows: list[dict[str, Any]], count: int
) -> dict[str, float]:
    """Add ``count`` replicas of ``rows`` (ingested through the CLI) with noisy borrowed
    vectors, then build the HNSW index the bulk load dropped; seconds of each step."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    path = folder / "replicas.jsonl"
    sources = write_replicas(rows, count, path, seed=0)
    seconds["write_replicas"] = round(time.perf_counter() - started, 1)
    seconds["ingest_replicas"] = round(_cli(["ingest", "jsonl", str(path)], loader, folder), 1)
    path.unlink()
    log(f"{count} replicas ingested in {seconds['ingest_replicas']} s")
    started = time.perf_counter()
    store_replica_vectors(engine, default_embedder().key, sources, noise=0.02, seed=0)
    seconds["replica_vectors"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    build_hnsw(engine)
    seconds["hnsw_index"] = round(time.perf_counter() - started, 1)
    log(f"replica vectors {seconds['replica_vectors']} s, HNSW {seconds['hnsw_index']} s")
    return seconds


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
    parser.add_argument(
        "--docs", type=int, default=0, help="grow the base to this many papers with replicas"
    )
    parser.add_argument("--new", type=int, default=60, help="papers ingested after start")
    parser.add_argument("--probe", type=int, default=10, help="new papers looked for")
    parser.add_argument("--follow-seconds", type=float, default=10.0)
    parser.add_argument("--give-up", type=float, default=300.0, help="seconds per probe")
    parser.add_argument("--ready-timeout", type=float, default=600, help="seconds per node")
    parser.add_argument(
        "--no-rebuild",
        action="store_true",
        help="no rebuild after the new papers (they are found through the live delta only)",
    )
    parser.add_argument("--timeout-minutes", type=float, default=60)
    args = parser.parse_args()
    if args.docs and not args.extra:
        parser.error("--docs makes replicas of the --extra feed papers: give --extra too")
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("watchdog: out of time"))
    signal.alarm(int(args.timeout_minutes * 60))

    with gzip.open(sample_path(), "rt") as handle:
        known = {json.loads(line)["id"] for line in handle}
    feed = [r for r in load_feed(path=args.feed) if r["id"] not in known]
    extra, new = feed[: args.extra], feed[args.extra : args.extra + args.new]
    folder = Path(tempfile.mkdtemp(prefix="dailypapers-multinode-"))
    atexit.register(shutil.rmtree, folder, True)  # builds of a 1M base are gigabytes each
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
            if args.docs:
                with engine.connect() as conn:
                    count = conn.execute(select(func.count()).select_from(papers)).scalar_one()
                if args.docs > count:
                    result["prepare_seconds"] = _grow(
                        engine, loader, folder, extra, args.docs - count
                    )
            result["load_avg_1m_before_build"] = round(os.getloadavg()[0], 2)
            result["base_build_seconds"] = round(
                _cli(["index", "--no-progress", "--no-embed"], loader, folder), 1
            )
            finished = time.time()
            log(f"base built and published in {result['base_build_seconds']} s")
        with engine.connect() as conn:
            result["papers"] = conn.execute(select(func.count()).select_from(papers)).scalar()
            generation = conn.execute(
                select(index_generations).order_by(index_generations.c.id.desc()).limit(1)
            ).one()
            result["base_bytes"] = generation.bytes
            result["base_files_bytes"] = {
                name: f["size"] for name, f in generation.manifest["files"].items()
            }
            chunks = conn.execute(
                select(func.count(), func.max(func.length(index_chunks.c.data))).where(
                    index_chunks.c.generation_id == generation.id
                )
            ).one()
            result["base_storage"] = (
                f"{chunks[0]} bytea rows of index_chunks (<= {CHUNK_BYTES >> 20} MiB each, "
                f"largest {chunks[1]} B)"
            )
            if extra:  # from the generation row's insert (after hashing) to the run's end
                result["publish_insert_seconds"] = round(
                    finished - generation.created_at.timestamp(), 1
                )
        rebuild_delta = 10**9 if args.no_rebuild else max(1, args.new // 2)
        node_env = {
            "DAILYPAPERS_INDEX_FOLLOW_SECONDS": str(args.follow_seconds),
            "DAILYPAPERS_INDEX_REBUILD_DELTA": str(rebuild_delta),
        }
        result["load_avg_1m_before_nodes"] = round(os.getloadavg()[0], 2)
        with _nodes(url, folder, args.nodes, node_env, args.ready_timeout) as ready:
            result["ready_seconds"] = [round(seconds, 1) for _, seconds in ready]
            result["load_avg_1m_nodes_ready"] = round(os.getloadavg()[0], 2)
            emit({"partial": True, **result})  # the figures so far, should the rest fail
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
            while not args.no_rebuild and time.monotonic() - ingested < args.give_up * 3:
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
            if not args.no_rebuild:
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
