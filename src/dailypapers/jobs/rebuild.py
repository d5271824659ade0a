"""An index rebuild in a child process at low CPU priority, for the runner inside ``serve``.

Built in the serving process itself, a rebuild (minutes at 75k papers, tens at 1M) competes
with requests for the interpreter lock and the cores: on a busy 2-core node a search waited
over 30 s while the runner rebuilt beside it (bench/multinode.py). In a child process at
``nice`` +10 the build only gets the CPU the web workers leave. The child reads the same
settings (the environment ``serve`` runs with) and prints its report as one JSON line.

    python -m dailypapers.jobs.rebuild      # what the runner starts; exit 3: another build runs
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from sqlalchemy import Engine

from dailypapers.index.build import IndexReport, run_index
from dailypapers.index.embedder import Embedder
from dailypapers.settings import Settings

NICENESS = 10
BUSY = 3  # exit status: another process holds the index lock


class RebuildFailed(RuntimeError):
    """The child process failed; the message ends with what it printed last."""


def rebuild_in_child() -> IndexReport | None:
    """Run the rebuild in a child process and wait for it; None when another build runs."""
    done = subprocess.run(
        [sys.executable, "-m", "dailypapers.jobs.rebuild"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == BUSY:
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise RebuildFailed(f"index rebuild exited with {done.returncode}: {tail}")
    return IndexReport(**json.loads(lines[-1]))


def rebuild(*, engine: Engine, settings: Settings, embedder: Embedder | None) -> IndexReport:
    """Rebuild the index in this process (``AlreadyRunning`` when another process builds)."""
    return run_index(
        engine=engine,
        root=settings.index_dir,
        embedder=embedder,
        batch_size=settings.embed_batch_size,
        model=None if embedder is None else embedder.key,
    )


def main() -> int:
    """Rebuild as ``tick`` would, at low priority; the report on stdout."""
    os.nice(NICENESS)
    from dailypapers.index.embedder import default_embedder
    from dailypapers.storage.engine import engine_from_settings
    from dailypapers.storage.locks import AlreadyRunning

    settings = Settings()
    engine = engine_from_settings(settings)
    try:
        report = rebuild(
            engine=engine,
            settings=settings,
            embedder=default_embedder(settings.embedding_engine)
            if settings.semantic_search
            else None,
        )
    except AlreadyRunning:
        return BUSY
    finally:
        engine.dispose()
    print(json.dumps(dataclasses.asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
