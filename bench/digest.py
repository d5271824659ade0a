"""Digest throughput: 10,000 confirmed subscribers, digests built and delivered over SMTP.

The bundled sample (about 3,000 real arXiv papers with their embeddings) is loaded, papers get
random upvotes, 20 % of the subscribers are users with upvotes (so they get "similar to what
you upvoted" picks), and every subscriber has mixed preferences (trending count, followed
categories, keywords and authors). A loopback aiosmtpd server runs in a separate process and
counts the messages per recipient. Timed: one ``digest send --period daily`` run
(``dailypapers.email.send.run``: build, render, claim, send, mark), end to end.

    .venv/bin/python bench/digest.py
    .venv/bin/python bench/digest.py --backend postgresql --subscribers 2000

Prints one JSON line per backend. Goal (issue): <= 60 s for 10,000 subscribers, exactly one
message each.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import datetime as dt
import multiprocessing
import random
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import backends, emit, log, machine_info, temp_database
from sqlalchemy import Engine, func, insert, select, update

from dailypapers.demo import load_sample
from dailypapers.email.send import run
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import daily_entries, papers, subscriptions, users, votes

KEYWORDS = [
    "diffusion",
    "transformer",
    "reinforcement learning",
    "benchmark",
    "agents",
    "retrieval",
    "quantization",
    "vision",
    "reasoning",
    "robot",
]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR"]


def _smtp_server(port: int, ready: Any, done: Any, results: Any) -> None:
    from aiosmtpd.controller import Controller

    counts: Counter[str] = Counter()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            counts.update(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    done.wait()
    controller.stop()
    results.put(dict(counts))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _populate(engine: Engine, subscribers: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        ids = list(conn.execute(select(papers.c.id)).scalars())
        authors = [a for row in conn.execute(select(papers.c.authors).limit(300)) for a in row[0]]
        for pid in rng.sample(ids, min(len(ids), 1500)):
            conn.execute(
                update(papers).where(papers.c.id == pid).values(upvotes=rng.randint(1, 60))
            )
        voters = subscribers // 5
        conn.execute(
            insert(users),
            [
                {
                    "username": f"u{n}",
                    "display_name": f"User {n}",
                    "email": f"u{n}@example.com",
                    "created_at": now,
                    "email_verified_at": now,
                }
                for n in range(voters)
            ],
        )
        user_ids = list(conn.execute(select(users.c.id).order_by(users.c.id)).scalars())
        conn.execute(
            insert(votes),
            [
                {"user_id": uid, "paper_id": pid, "created_at": now}
                for uid in user_ids
                for pid in rng.sample(ids, 5)
            ],
        )
        rows = []
        for n in range(subscribers):
            voter = n < voters
            rows.append(
                {
                    "email": f"u{n}@example.com" if voter else f"s{n}@example.com",
                    "user_id": user_ids[n] if voter else None,
                    "status": "active",
                    "period": "daily",
                    "trending_count": rng.choice([5, 10, 15]),
                    "categories": rng.sample(CATEGORIES, rng.choice([0, 0, 1, 2])),
                    "keywords": rng.sample(KEYWORDS, rng.choice([0, 1, 2])),
                    "authors": rng.sample(authors, rng.choice([0, 0, 0, 1])),
                    "similar": True,
                    "bounces": 0,
                    "created_at": now,
                    "confirmed_at": now,
                }
            )
        conn.execute(insert(subscriptions), rows)
        latest = conn.execute(select(func.max(daily_entries.c.day))).scalar_one()
    return {"papers": len(ids), "voters": voters, "latest_day": latest}


def bench_backend(
    backend: str, args: argparse.Namespace, machine: dict[str, Any]
) -> dict[str, Any]:
    """Load, populate, start the SMTP server, time one send run."""
    with temp_database(backend, args.database_url) as url, tempfile.TemporaryDirectory() as data:
        port = _free_port()
        settings = Settings(
            data_dir=Path(data),
            database_url=url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            base_url="https://papers.example.org",
            secret_key="bench-secret-bench-secret-bench-secret",
        )
        engine = make_engine(url)
        log(f"{backend}: loading the sample")
        load_sample(engine, settings)
        facts = _populate(engine, args.subscribers, args.seed)
        day = facts["latest_day"]
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        ready, done = multiprocessing.Event(), multiprocessing.Event()
        results: Any = multiprocessing.Queue()
        server = multiprocessing.Process(target=_smtp_server, args=(port, ready, done, results))
        server.start()
        ready.wait(30)
        log(f"{backend}: sending to {args.subscribers} subscribers")
        started = time.perf_counter()
        report = run(engine, settings, period="daily", date=day)
        seconds = time.perf_counter() - started
        time.sleep(0.5)
        done.set()
        counts: dict[str, int] = results.get(timeout=60)
        server.join(30)
        engine.dispose()
    exactly_once = len(counts) == args.subscribers and set(counts.values()) == {1}
    return {
        "benchmark": "digest_send",
        "backend": backend,
        "subscribers": args.subscribers,
        "seconds": round(seconds, 2),
        "messages_per_second": round(report.sent / seconds, 1),
        "sent": report.sent,
        "failed": report.failed,
        "empty": report.empty,
        "content_groups": report.groups,
        "received": sum(counts.values()),
        "exactly_once": exactly_once,
        "corpus_papers": facts["papers"],
        "subscribers_with_upvotes": facts["voters"],
        "digest_day": str(day),
        "machine": machine,
    }


def main() -> None:
    """Parse arguments and run the benchmark on each backend."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="admin URL of an existing PostgreSQL server")
    args = parser.parse_args()
    machine = machine_info()
    for backend in backends(args.backend):
        emit(bench_backend(backend, args, machine))


if __name__ == "__main__":
    main()
