"""Search snapshots: the keyword index, filter data and vectors of every paper, built by
``dailypapers index`` into ``<data_dir>/index/<build>/`` and switched atomically.

Searches keep using the previous snapshot while a new one is built; each worker process
notices the switch on its next search (one ``stat`` call) and memory-maps the new files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dailypapers.index import ann
from dailypapers.index.keyword import IndexedDoc, KeywordIndex

EPOCH = dt.date(1970, 1, 1)
KEEP_BUILDS = 2


@dataclass(slots=True)
class SnapshotPaper:
    """What a snapshot keeps of one paper."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: dt.date


class Snapshot:
    """One built snapshot, memory-mapped."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.meta = json.loads((directory / "snapshot.json").read_text())
        self.doc_ids: npt.NDArray[np.str_] = np.load(directory / "doc_ids.npy")
        self.published: npt.NDArray[np.int32] = np.load(directory / "published.npy", mmap_mode="r")
        self.keyword = KeywordIndex.load(directory)
        vectors = directory / "vectors.npy"
        self.vectors: npt.NDArray[np.float32] | None = (
            np.load(vectors, mmap_mode="r") if vectors.exists() else None
        )
        self.model: str | None = self.meta.get("model")
        self.ann: Any | None = ann.load(directory)

    @property
    def n_docs(self) -> int:
        """Number of papers in the snapshot."""
        return len(self.doc_ids)

    def positions(self, ids: list[str]) -> npt.NDArray[np.int64]:
        """Document numbers of ``ids`` (-1 for ids not in this snapshot)."""
        if not ids or not self.n_docs:
            return np.full(len(ids), -1, dtype=np.int64)
        wanted = np.asarray(ids)
        pos = np.searchsorted(self.doc_ids, wanted)
        pos = np.minimum(pos, self.n_docs - 1)
        return np.where(self.doc_ids[pos] == wanted, pos, -1).astype(np.int64)

    def day_number(self, day: dt.date) -> int:
        """Days since 1970-01-01 (the unit of ``published``)."""
        return (day - EPOCH).days


def build_snapshot(
    root: Path,
    papers: list[SnapshotPaper],
    vectors: dict[str, npt.NDArray[np.float32]],
    *,
    model: str | None,
    revision: int,
) -> Path:
    """Write a new snapshot under ``root`` and make it current; returns its directory."""
    papers = sorted(papers, key=lambda p: p.arxiv_id)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    directory = root / f"build-{stamp}"
    tmp = root / f".tmp-{stamp}"
    tmp.mkdir(parents=True)
    KeywordIndex.build(
        IndexedDoc(p.title, p.abstract, p.authors, p.categories) for p in papers
    ).save(tmp)
    np.save(tmp / "doc_ids.npy", np.asarray([p.arxiv_id for p in papers], dtype=np.str_))
    np.save(
        tmp / "published.npy",
        np.asarray([(p.published - EPOCH).days for p in papers], dtype=np.int32),
    )
    if model is not None:
        dim = next(iter(vectors.values())).shape[0] if vectors else 384
        matrix = np.zeros((len(papers), dim), dtype=np.float32)
        for number, paper in enumerate(papers):
            vector = vectors.get(paper.arxiv_id)
            if vector is not None:
                matrix[number] = vector
        np.save(tmp / "vectors.npy", matrix)
        ann.build(matrix, tmp)
    meta = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "papers": len(papers),
        "embedded": len(vectors),
        "model": model,
        "revision": revision,
    }
    (tmp / "snapshot.json").write_text(json.dumps(meta))
    tmp.rename(directory)
    pointer = root / "CURRENT.tmp"
    pointer.write_text(directory.name)
    os.replace(pointer, root / "CURRENT")
    _prune(root, keep=directory.name)
    return directory


def _prune(root: Path, keep: str) -> None:
    builds = sorted(p for p in root.glob("build-*") if p.is_dir())
    for old in builds[:-KEEP_BUILDS]:
        if old.name != keep:
            # Workers that still map old files keep reading them until they switch.
            shutil.rmtree(old, ignore_errors=True)


class SnapshotStore:
    """Hands out the current snapshot of a data directory, reloading after a switch."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._loaded: tuple[str, Snapshot] | None = None

    def current(self) -> Snapshot | None:
        """The current snapshot, or None when ``dailypapers index`` has not run yet."""
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        loaded = self._loaded
        if loaded is not None and loaded[0] == name:
            return loaded[1]
        with self._lock:
            if self._loaded is None or self._loaded[0] != name:
                self._loaded = (name, Snapshot(self.root / name))
            return self._loaded[1]
