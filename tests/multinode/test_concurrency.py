"""Concurrent `index` runs (every node's cron) never crash, and embedding writes are upserts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from dailypapers.index.build import IndexReport, run_index
from dailypapers.storage import embeddings
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.locks import AlreadyRunning
from dailypapers.storage.schema import embeddings as embeddings_table
from tests.multinode.conftest import ingest


def _together(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started at once; each one's result or error."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = work(i)
        except Exception as exc:  # recorded: the test says which errors are allowed
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_index_runs_never_crash(
    engine: Engine, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    ingest(engine, rows, "corpus")
    roots = [tmp_path / f"node-{i}" / "index" for i in range(4)]
    outcomes = _together(
        4, lambda i: run_index(engine=engine, root=roots[i], embedder=None, model=None)
    )
    assert all(isinstance(o, IndexReport | AlreadyRunning) for o in outcomes), outcomes
    assert any(isinstance(o, IndexReport) for o in outcomes)
    # Run again one after the other: each builds.
    for root in roots[:2]:
        assert run_index(engine=engine, root=root, embedder=None).papers == len(rows)


def test_embedding_writes_are_idempotent_under_a_race(
    engine: Engine, rows: list[dict[str, Any]]
) -> None:
    ingest(engine, rows[:20], "corpus")
    items = [(r["id"], f"hash-{r['id']}") for r in rows[:20]]
    vectors = np.eye(20, 384, dtype=np.float32)

    def write(i: int) -> None:
        for _ in range(5):
            with write_transaction(engine) as conn:
                embeddings.store(conn=conn, model="m", items=items, vectors=vectors * (i + 1))

    outcomes = _together(3, write)
    assert outcomes == [None, None, None]
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(embeddings_table)).scalar_one()
        vector = embeddings.vector_of(conn=conn, paper_id=rows[0]["id"], model="m")
    assert count == 20 and vector is not None and float(vector.max()) in (1.0, 2.0, 3.0)
