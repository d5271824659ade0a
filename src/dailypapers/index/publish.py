"""Search builds shared through the database, so any number of web nodes serve the same one.

``publish`` stores a finished build (every file of its folder, in chunks, with sizes and
SHA-256 hashes) as a new generation in one transaction and prunes old generations, keeping
``KEEP_GENERATIONS``. ``follow`` is what every node runs every few seconds: when the newest
generation is newer than the build it serves, it downloads the files into a temporary
folder of its own data directory, checks every size and hash, opens the build (the same
checks as a local build) and only then switches to it, atomically, as ``index`` does.

On SQLite (one node) there is nothing to publish: the local build is the one served.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from dailypapers.index.snapshot import (
    Snapshot,
    clean_stale_builds,
    current_name,
    switch_current,
    temporary_dir,
)
from dailypapers.storage import generations
from dailypapers.storage.engine import write_transaction

KEEP_GENERATIONS = 2
log = logging.getLogger(__name__)


class DownloadFailed(Exception):
    """A published build could not be downloaded or did not check out (the node keeps the
    build it serves and tries again on its next poll)."""


def shared(engine: Engine) -> bool:
    """Whether builds are published for other nodes (PostgreSQL) or only local (SQLite)."""
    return engine.dialect.name == "postgresql"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def publish(*, engine: Engine, directory: Path, chunk_bytes: int = generations.CHUNK_BYTES) -> int:
    """Store the build in ``directory`` as the newest generation; its id."""
    meta = json.loads((directory / "snapshot.json").read_text())
    names = sorted(p.name for p in directory.iterdir() if p.is_file())
    files: dict[str, dict[str, Any]] = {
        name: {"size": (directory / name).stat().st_size, "sha256": _sha256(directory / name)}
        for name in names
    }
    watermark = meta.get("watermark")
    with write_transaction(engine) as conn:
        generation = generations.add_generation(
            conn=conn,
            build=directory.name,
            watermark=dt.datetime.fromisoformat(watermark) if watermark else None,
            papers=int(meta.get("papers", 0)),
            size=sum(int(f["size"]) for f in files.values()),
            manifest={"files": files},
        )
        for name in names:
            with (directory / name).open("rb") as handle:
                seq = 0
                while block := handle.read(chunk_bytes):
                    generations.add_chunk(
                        conn=conn, generation_id=generation, file=name, seq=seq, data=block
                    )
                    seq += 1
        generations.prune(conn=conn, keep=KEEP_GENERATIONS)
    return generation


@contextmanager
def _follow_lock(root: Path) -> Iterator[None]:
    """One download at a time per data directory (the workers of a node share it)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".follow.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Followed:
    """The newest published build (None: none, or SQLite) and whether this call switched."""

    published: str | None
    switched: bool = False


def follow(*, engine: Engine, root: Path) -> Followed:
    """Switch to the newest published build when it is newer than the one served.

    Raises :class:`DownloadFailed` (or ``IndexUnavailable``) when the download does not
    check out; the build served stays.
    """
    if not shared(engine):
        return Followed(None)
    with engine.connect() as conn:
        newest = generations.latest(conn=conn)
    if newest is None:
        return Followed(None)
    build = str(newest["build"])
    if not _newer(build, current_name(root)):
        return Followed(build)
    with _follow_lock(root):
        if not _newer(build, current_name(root)):
            return Followed(build)  # another worker of this node switched while it waited
        directory = root / build
        if not directory.is_dir():
            _download(engine, root, newest)
        Snapshot(directory)  # raises IndexUnavailable when it does not open
        switch_current(root, directory)
    log.info("search index: switched to the published build %s", build)
    return Followed(build, switched=True)


def _newer(published: str, served: str | None) -> bool:
    # Build names are UTC timestamps (build-YYYYmmddTHHMMSSffffff): later sorts higher.
    return served is None or published > served


def _download(engine: Engine, root: Path, row: RowMapping) -> None:
    files: dict[str, dict[str, Any]] = row["manifest"]["files"]
    clean_stale_builds(root)
    tmp = temporary_dir(root)
    try:
        with engine.connect() as conn:
            for name, expected in files.items():
                if Path(name).name != name or name.startswith("."):
                    raise DownloadFailed(f"unsafe file name in generation: {name!r}")
                digest = hashlib.sha256()
                size = 0
                with (tmp / name).open("wb") as out:
                    for block in generations.chunks(
                        conn=conn, generation_id=int(row["id"]), file=name
                    ):
                        out.write(block)
                        digest.update(block)
                        size += len(block)
                    out.flush()
                    os.fsync(out.fileno())
                if size != expected["size"] or digest.hexdigest() != expected["sha256"]:
                    raise DownloadFailed(
                        f"{row['build']}/{name}: {size} bytes of {expected['size']} "
                        "or a wrong hash (pruned while downloading?)"
                    )
        Snapshot(tmp, deep=True)
        tmp.rename(root / str(row["build"]))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
