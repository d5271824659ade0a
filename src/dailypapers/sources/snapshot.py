"""The Kaggle arXiv metadata snapshot (``arxiv-metadata-oai-snapshot.json``).

JSON lines, one paper per line, plain or gzip-compressed (detected by the magic
bytes, not the file name).  The file is streamed line by line, so memory stays
flat for the full 2.7M-row, 4 GB dump.  A record's cursor is its line number;
``resume=<cursor>`` skips that many lines without parsing them.  A bad line
becomes an error record and reading goes on; a truncated or corrupt gzip stream
raises ``SourceError`` after the last complete line.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from dailypapers.records import RawPaper, SourceError

GZIP_MAGIC = b"\x1f\x8b"
_PROGRESS_EVERY = 8192  # lines between progress-bar updates
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def read_snapshot(
    path: Path, *, resume: str | None = None, progress: bool = False
) -> Iterator[RawPaper]:
    """Yield one RawPaper per line of a (possibly gzipped) snapshot file."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise SourceError(f"cannot open snapshot {path}: {exc.strerror or exc}") from None
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream: Iterable[bytes] = gzip.GzipFile(fileobj=raw) if compressed else raw
        total = os.fstat(raw.fileno()).st_size
        skip, lineno = (int(resume) if resume else 0), 0
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=path.name, disable=not progress
        ) as bar:
            try:
                lineno = sum(1 for _ in itertools.islice(stream, skip))
                if lineno < skip:
                    return
                for line in stream:
                    lineno += 1
                    if line.isspace():
                        continue
                    yield parse_line(line, lineno)
                    if lineno % _PROGRESS_EVERY == 0:
                        bar.update(raw.tell() - bar.n)
            except (EOFError, zlib.error, OSError) as exc:
                raise SourceError(
                    f"snapshot {path} is truncated or corrupt after line {lineno}: {exc}"
                ) from None
            bar.update(total - bar.n)


def parse_line(line: bytes | str, lineno: int) -> RawPaper:
    """One snapshot line as a RawPaper, or an error record saying what is wrong."""
    ref, cursor = f"line {lineno}", str(lineno)
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return RawPaper(error=f"bad JSON: {exc}", ref=ref, cursor=cursor)
    if not isinstance(row, dict):
        return RawPaper(error=f"not a JSON object: {type(row).__name__}", ref=ref, cursor=cursor)
    arxiv_id = row.get("id")
    if not arxiv_id or not isinstance(arxiv_id, str):
        return RawPaper(error="record without an id", ref=ref, cursor=cursor)
    try:
        return _paper(row, arxiv_id, ref, cursor)
    except Exception as exc:  # one bad record never stops the file (the id names it)
        return RawPaper(
            arxiv_id=arxiv_id, error=f"malformed record: {exc!r}"[:300], ref=ref, cursor=cursor
        )


def _paper(row: dict[str, Any], arxiv_id: str, ref: str, cursor: str) -> RawPaper:
    versions = row.get("versions")
    if versions:
        last = versions[-1]
        published, updated = versions[0].get("created"), last.get("created")
        label = last.get("version")
        version = int(label.lstrip("v")) if label else len(versions)
    else:
        published = updated = row.get("update_date")
        version = None
    parsed = row.get("authors_parsed")
    if parsed:
        authors = []
        for parts in parsed:  # hot loop: the common [last, first, ""] shape first
            if len(parts) >= 2 and parts[0] and parts[1] and (len(parts) < 3 or not parts[2]):
                authors.append(f"{parts[1]} {parts[0]}")
            elif name := _join_name(parts):
                authors.append(name)
    else:
        authors = [a for a in _AUTHOR_SPLIT.split(row.get("authors") or "") if a]
    categories = (row.get("categories") or "").split()
    return RawPaper(
        arxiv_id=arxiv_id,
        title=row.get("title"),
        abstract=row.get("abstract"),
        authors=authors,
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=published,
        updated=updated,
        version=version,
        comment=row.get("comments"),
        journal_ref=row.get("journal-ref"),
        doi=row.get("doi"),
        license=row.get("license"),
        ref=ref,
        cursor=cursor,
    )


def _join_name(parts: list[str]) -> str:
    """``[last, first, suffix]`` as ``"First Last Suffix"``."""
    last = parts[0]
    first = parts[1] if len(parts) > 1 else ""
    suffix = parts[2] if len(parts) > 2 else ""
    return " ".join(p for p in (first, last, suffix) if p)
