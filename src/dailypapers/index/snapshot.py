"""Search snapshots: the keyword index, filter data and vectors of every paper, built by
``dailypapers index`` into ``<data_dir>/index/<build>/`` and switched atomically.

Searches keep using the previous snapshot while a new one is built; each worker process
notices the switch on its next search (one read of ``CURRENT`` and a ``stat`` per file) and
memory-maps the new files.

A snapshot is checked when it is opened (every file present with the size its manifest
records, arrays of consistent shapes): a missing, truncated or garbled file, or a ``CURRENT``
that names no usable build, raises :class:`IndexUnavailable`, the one error every caller
handles. The store then serves the newest older build that opens, and says what is wrong.
``build_snapshot`` opens a new build before switching to it, and removes the temporary
folders of builds that were killed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from dailypapers.index import ann
from dailypapers.index.keyword import IndexedDoc, KeywordIndex, Terms, Vocabulary, term_ids

EPOCH = dt.date(1970, 1, 1)
KEEP_BUILDS = 2
BUILD_NAME = re.compile(r"^build-[0-9]{8}T[0-9]{12}$")
TMP_NAME = re.compile(r"^\.tmp-(?P<stamp>[0-9T]+)(?:-(?P<pid>[0-9]+)@(?P<host>.+))?$")
# A temporary build folder untouched this long belongs to a dead build whatever its owner.
STALE_TMP_SECONDS = 6 * 3600
# How long a failure to open a build is remembered before it is tried again.
RETRY_SECONDS = 30.0
# Postings arrays up to this many entries are range-checked whenever they are opened.
DEEP_CHECK_ENTRIES = 32_000_000
# Entries read at a time by that check.
CHECK_BLOCK = 1 << 20
FIELDS = ("title", "author", "category")

log = logging.getLogger(__name__)

State = Literal["ok", "missing", "broken"]


class IndexUnavailable(Exception):
    """The search index cannot be used: not built yet (``missing``) or damaged (``broken``)."""

    def __init__(self, state: State, reason: str, build: str | None = None) -> None:
        self.state = state
        self.reason = reason
        self.build = build
        super().__init__(f"{build}: {reason}" if build else reason)

    @property
    def notice(self) -> str:
        """What a visitor is told (no file names)."""
        if self.state == "missing":
            return "The search index is not built yet: run `dailypapers index`."
        return (
            "Search is unavailable: the search index is damaged. "
            "The site's operator can rebuild it with `dailypapers index`."
        )


@dataclass(slots=True)
class SnapshotPaper:
    """What a snapshot keeps of one paper."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: dt.date


class _Damaged(Exception):
    """A check of a snapshot's files failed."""


def _describe(exc: BaseException) -> str:
    """An error in a few words, without absolute paths."""
    if isinstance(exc, _Damaged):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        name = Path(str(exc.filename)).name if exc.filename else ""
        return f"{name}: {exc.strerror}" if name else exc.strerror
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise _Damaged(reason)


class Snapshot:
    """One built snapshot, checked and memory-mapped (raises :class:`IndexUnavailable`)."""

    vectors: npt.NDArray[np.float32] | None

    def __init__(self, directory: Path, *, deep: bool | None = None) -> None:
        self.directory = directory
        try:
            self._open(directory)
            self._check(deep)
        except Exception as exc:  # anything that stops a build from opening means broken
            raise IndexUnavailable("broken", _describe(exc), directory.name) from exc
        if self.ann is not None and self.vectors is not None:
            # Rows come from the graph's float16 copy: vectors.npy stays unread (ann.py).
            # GraphRows answers what searches ask of the array (rows, ``@``, shape, dtype).
            rows = ann.GraphRows(self.ann, self.vectors.shape)
            self.vectors = cast("npt.NDArray[np.float32]", rows)

    def _open(self, directory: Path) -> None:
        self.meta: dict[str, Any] = json.loads((directory / "snapshot.json").read_text())
        _require(isinstance(self.meta, dict), "snapshot.json: not an object")
        files: dict[str, int] = self.meta.get("files") or {}
        for name, size in files.items():
            path = directory / Path(name).name
            if not path.is_file():
                raise _Damaged(f"{name} is missing")
            actual = path.stat().st_size
            _require(actual == size, f"{name} is truncated or damaged ({actual} bytes of {size})")
        listed = set(files) or {p.name for p in directory.iterdir() if p.is_file()}
        self.files = sorted({*listed, "snapshot.json"})
        self.fingerprint = self._fingerprint()
        self.doc_ids: npt.NDArray[np.str_] = np.load(directory / "doc_ids.npy")
        self.published: npt.NDArray[np.int32] = np.load(directory / "published.npy", mmap_mode="r")
        self.keyword = KeywordIndex.load(directory)
        vectors = directory / "vectors.npy"
        self.vectors = np.load(vectors, mmap_mode="r") if vectors.exists() else None
        self.model: str | None = self.meta.get("model")
        self.ann: Any | None = ann.load(directory)

    def _check(self, deep: bool | None) -> None:
        """Shapes and bounds that searches rely on (``deep``: every posting as well)."""
        n = len(self.doc_ids)
        _require(self.doc_ids.ndim == 1, "doc_ids.npy: not a list")
        _require(int(self.meta.get("papers", -1)) == n, "doc_ids.npy: wrong number of papers")
        _require(bool(n < 2 or np.all(self.doc_ids[1:] > self.doc_ids[:-1])), "doc_ids unsorted")
        _require(
            self.published.shape == (n,) and self.published.dtype == np.int32,
            "published.npy: wrong shape",
        )
        keyword = self.keyword
        _require(keyword.n_docs == n, "keyword.json: wrong number of papers")
        _require(set(FIELDS) <= set(keyword.fields), "keyword.json: a filter field is missing")
        if deep is None:
            deep = len(keyword.indices) <= DEEP_CHECK_ENTRIES
        _require(len(keyword.data) == len(keyword.indices), "bm25: data and indices differ")
        _check_postings("bm25", keyword.vocabulary, keyword.indptr, keyword.indices, n, deep)
        for name, postings in keyword.fields.items():
            _check_postings(name, postings.vocabulary, postings.indptr, postings.indices, n, deep)
        if self.model is not None:
            _require(self.vectors is not None, "vectors.npy is missing")
        if self.vectors is not None:
            _require(
                self.vectors.ndim == 2
                and self.vectors.shape[0] == n
                and self.vectors.dtype == np.float32,
                "vectors.npy: wrong shape",
            )
            if self.ann is not None:
                _require(
                    self.ann.ndim == self.vectors.shape[1] and len(self.ann) <= n,
                    "vectors.usearch: does not match the vectors",
                )

    def _fingerprint(self) -> list[tuple[int, int, int]]:
        if not hasattr(self, "_paths"):
            self._paths = [os.path.join(self.directory, name) for name in self.files]
        stats = [os.stat(path) for path in self._paths]
        return [(s.st_ino, s.st_size, s.st_mtime_ns) for s in stats]

    def unchanged(self) -> bool:
        """Whether its files are still the ones opened (a truncated mapped file kills the
        process that reads it, so a changed file is noticed before it is read)."""
        try:
            return self._fingerprint() == self.fingerprint
        except OSError:
            return False

    @property
    def name(self) -> str:
        """The build's folder name."""
        return self.directory.name

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


def _check_postings(
    name: str,
    vocabulary: Vocabulary,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    n_docs: int,
    deep: bool,
) -> None:
    _require(
        indptr.ndim == 1 and len(indptr) == len(vocabulary) + 1, f"{name}: wrong vocabulary size"
    )
    _require(int(indptr[0]) == 0 and int(indptr[-1]) == len(indices), f"{name}: wrong offsets")
    _require(bool(np.all(np.diff(indptr) >= 0)), f"{name}: offsets out of order")
    ids = term_ids(vocabulary)
    _require(
        not len(ids) or (int(ids.min()) >= 0 and int(ids.max()) < len(vocabulary)),
        f"{name}: bad term ids",
    )
    if isinstance(vocabulary, Terms):
        starts = vocabulary.starts
        _require(
            starts.ndim == 1
            and len(starts) == len(ids) + 1
            and int(starts[0]) == 0
            and int(starts[-1]) == len(vocabulary.blob)
            and bool(np.all(np.diff(starts) >= 0)),
            f"{name}: bad term table",
        )
    if deep and len(indices):
        low, high = _bounds(indices)
        _require(low >= 0 and high < n_docs, f"{name}: bad paper numbers")


def _bounds(values: npt.NDArray[np.int64]) -> tuple[int, int]:
    """The smallest and largest of ``values``. A memory-mapped array is read from its file
    in blocks instead, so that checking every posting leaves none of its pages resident in
    this process (each worker would otherwise hold all of them: 65 MiB at 75k papers)."""
    if not isinstance(values, np.memmap) or not values.filename:
        return int(values.min()), int(values.max())
    low, high = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    with open(values.filename, "rb") as handle:
        handle.seek(values.offset)
        left = values.size
        while left:
            block = np.fromfile(handle, dtype=values.dtype, count=min(CHECK_BLOCK, left))
            _require(len(block) > 0, f"{Path(values.filename).name}: truncated")
            low, high = min(low, int(block.min())), max(high, int(block.max()))
            left -= len(block)
    return low, high


def build_snapshot(
    root: Path,
    papers: list[SnapshotPaper],
    vectors: dict[str, npt.NDArray[np.float32]],
    *,
    model: str | None,
    revision: int,
    watermark: dt.datetime | None = None,
) -> Path:
    """Write a new snapshot under ``root``, open it, and only then make it current.

    ``watermark``: papers changed after it are not in the build (the live delta's start).
    Raises :class:`IndexUnavailable` (``CURRENT`` unchanged) when the new build cannot be
    opened; a failed build leaves no temporary folder behind.
    """
    root.mkdir(parents=True, exist_ok=True)
    clean_stale_builds(root)
    papers = sorted(papers, key=lambda p: p.arxiv_id)
    keyword = KeywordIndex.build(
        IndexedDoc(p.title, p.abstract, p.authors, p.categories) for p in papers
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    directory = root / f"build-{stamp}"
    tmp = root / f".tmp-{stamp}-{os.getpid()}@{socket.gethostname()}"
    tmp.mkdir()
    try:
        extra = {"watermark": watermark.isoformat() if watermark else None}
        _write(tmp, keyword, papers, vectors, model=model, revision=revision, extra=extra)
        Snapshot(tmp, deep=True)  # refuse to switch to what cannot be opened
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    switch_current(root, directory)
    return directory


def temporary_dir(root: Path) -> Path:
    """A new temporary build folder under ``root`` (named so ``clean_stale_builds`` knows
    its owner)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    tmp = root / f".tmp-{stamp}-{os.getpid()}@{socket.gethostname()}"
    tmp.mkdir()
    return tmp


def switch_current(root: Path, directory: Path) -> None:
    """Make ``directory`` (a build folder under ``root``) current, atomically, then remove
    builds older than the newest ``KEEP_BUILDS``."""
    pointer = root / f"CURRENT.tmp-{os.getpid()}-{threading.get_ident()}"
    with pointer.open("w") as handle:
        handle.write(directory.name)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, root / "CURRENT")
    _prune(root, keep=directory.name)


def current_name(root: Path) -> str | None:
    """The build ``CURRENT`` names (None when there is none or it names no build)."""
    try:
        name = (root / "CURRENT").read_text(errors="replace").strip()
    except OSError:
        return None
    return name if BUILD_NAME.match(name) else None


def _write(
    tmp: Path,
    keyword: KeywordIndex,
    papers: list[SnapshotPaper],
    vectors: dict[str, npt.NDArray[np.float32]],
    *,
    model: str | None,
    revision: int,
    extra: dict[str, Any],
) -> None:
    keyword.save(tmp)
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
    files = {}
    for path in sorted(tmp.iterdir()):
        with path.open("rb") as handle:  # on disk before CURRENT names it
            os.fsync(handle.fileno())
        files[path.name] = path.stat().st_size
    meta = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "papers": len(papers),
        "embedded": len(vectors),
        "model": model,
        "revision": revision,
        "files": files,
        **extra,
    }
    with (tmp / "snapshot.json").open("w") as handle:
        handle.write(json.dumps(meta))
        handle.flush()
        os.fsync(handle.fileno())


def _prune(root: Path, keep: str) -> None:
    builds = sorted(p for p in root.glob("build-*") if p.is_dir())
    for old in builds[:-KEEP_BUILDS]:
        if old.name != keep:
            # Workers that still map old files keep reading them until they switch.
            shutil.rmtree(old, ignore_errors=True)


def clean_stale_builds(root: Path, *, now: float | None = None) -> list[str]:
    """Remove temporary folders of builds that died (their process is gone, or they were
    left untouched for ``STALE_TMP_SECONDS``); returns their names."""
    now = time.time() if now is None else now
    host = socket.gethostname()
    removed = []
    for path in root.glob(".tmp-*"):
        match = TMP_NAME.match(path.name)
        try:
            idle = now - path.stat().st_mtime
        except OSError:
            continue
        owner_gone = bool(
            match and match["pid"] and match["host"] == host and not _alive(int(match["pid"]))
        )
        if owner_gone or idle > STALE_TMP_SECONDS:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@dataclass(slots=True)
class IndexStatus:
    """What ``/health`` says about the search index."""

    state: State
    build: str | None = None
    serving: str | None = None
    built_at: str | None = None
    age_seconds: int | None = None
    papers: int | None = None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The non-empty fields."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(slots=True)
class _Opened:
    pointer: str | None
    snapshot: Snapshot | None
    error: IndexUnavailable | None
    at: float


class SnapshotStore:
    """Hands out the current snapshot of a data directory, reloading after a switch.

    When the build ``CURRENT`` names cannot be opened, the newest older build that opens is
    served instead (and the problem reported); with none, :class:`IndexUnavailable`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._opened: _Opened | None = None
        self._broken: dict[str, tuple[float, IndexUnavailable]] = {}

    def _pointer(self) -> str | None:
        try:
            return (self.root / "CURRENT").read_text(errors="replace").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"unreadable CURRENT: {_describe(exc)}"

    def _fresh(self, opened: _Opened | None, pointer: str | None) -> bool:
        if opened is None or opened.pointer != pointer:
            return False
        if opened.snapshot is not None and not opened.snapshot.unchanged():
            return False
        return opened.error is None or time.monotonic() - opened.at < RETRY_SECONDS

    def _state(self) -> _Opened:
        pointer = self._pointer()
        opened = self._opened
        if self._fresh(opened, pointer):
            assert opened is not None
            return opened
        with self._lock:
            if not self._fresh(self._opened, pointer):
                self._opened = self._open(pointer)
            return self._opened  # type: ignore[return-value]

    def current(self) -> Snapshot:
        """The snapshot searches use; raises :class:`IndexUnavailable` when there is none."""
        opened = self._state()
        if opened.snapshot is None:
            assert opened.error is not None
            raise opened.error
        return opened.snapshot

    def _builds(self) -> list[str]:
        try:
            names = [p.name for p in self.root.iterdir() if BUILD_NAME.match(p.name)]
        except OSError:
            return []
        return sorted(names, reverse=True)

    def _load(self, name: str) -> Snapshot:
        remembered = self._broken.get(name)
        if remembered and time.monotonic() - remembered[0] < RETRY_SECONDS:
            raise remembered[1]
        previous = self._opened.snapshot if self._opened else None
        if previous is not None and previous.name == name and previous.unchanged():
            return previous
        try:
            return Snapshot(self.root / name)
        except IndexUnavailable as exc:
            self._broken[name] = (time.monotonic(), exc)
            raise

    def _open(self, pointer: str | None) -> _Opened:
        builds = self._builds()
        error: IndexUnavailable | None = None
        if pointer is None and not builds:
            error = IndexUnavailable("missing", "not built yet: run `dailypapers index`")
        elif pointer is None:
            error = IndexUnavailable("broken", "the CURRENT file is missing")
        elif not BUILD_NAME.match(pointer):
            error = IndexUnavailable("broken", f"CURRENT names no build ({pointer[:40]!r})")
        else:
            try:
                return _Opened(pointer, self._load(pointer), None, time.monotonic())
            except IndexUnavailable as exc:
                error = exc
        if error.state == "broken":
            log.error("search index: %s", error)
            for name in builds:
                if name == pointer:
                    continue
                with suppress(IndexUnavailable):
                    fallback = self._load(name)
                    log.warning("search index: serving the older build %s", name)
                    return _Opened(pointer, fallback, error, time.monotonic())
        return _Opened(pointer, None, error, time.monotonic())

    @contextmanager
    def use(self) -> Iterator[Snapshot]:
        """The current snapshot for one search; a failure that a fresh check of its files
        explains marks the build broken and becomes :class:`IndexUnavailable`."""
        snapshot = self.current()
        try:
            yield snapshot
        except (IndexError, ValueError, KeyError, EOFError, OSError) as exc:
            try:
                Snapshot(snapshot.directory, deep=True)
            except IndexUnavailable as problem:
                with self._lock:
                    self._broken[snapshot.name] = (time.monotonic(), problem)
                    self._opened = None
                raise problem from exc
            raise

    def status(self) -> IndexStatus:
        """State of the index for ``/health``: ok, missing or broken, with build and age."""
        try:
            opened = self._state()
        except Exception as exc:  # /health must answer whatever the files hold
            return IndexStatus("broken", problem=_describe(exc))
        if opened.error is not None and opened.error.state == "missing":
            return IndexStatus("missing", problem=opened.error.reason)
        status = IndexStatus("ok" if opened.error is None else "broken", build=opened.pointer)
        if opened.error is not None:
            status.problem = str(opened.error)
        snapshot = opened.snapshot
        if snapshot is not None:
            status.serving = snapshot.name
            status.papers = snapshot.n_docs
            status.built_at = str(snapshot.meta.get("built_at") or "") or None
            with suppress(TypeError, ValueError):
                built = dt.datetime.fromisoformat(str(status.built_at))
                status.age_seconds = int((dt.datetime.now(dt.UTC) - built).total_seconds())
        return status
