"""Our own JSON-lines export format (``dailypapers export``), read back for ``ingest jsonl``.

One JSON object per line with the fields of ``dailypapers.export.paper_record``; plain or gzip.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.guard import one_record


def open_maybe_gzip(path: Path) -> IO[bytes]:
    """Open a file for binary reading, decompressing when it starts with the gzip magic."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise SourceError(f"cannot open {path}: {exc.strerror}") from None
    if handle.read(2) == b"\x1f\x8b":
        handle.close()
        return cast(IO[bytes], gzip.open(path, "rb"))
    handle.seek(0)
    return handle


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_jsonl(path: Path, *, resume: str | None = None) -> Iterator[RawPaper]:
    """Yield one record per line; bad lines become error records. Cursor is the line number."""
    skip = int(resume) if resume else 0
    with open_maybe_gzip(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if number <= skip or not line.strip():
                    continue
                yield one_record(str(number), f"line {number}", _record, line, number)
        except (EOFError, OSError) as exc:
            raise SourceError(f"{path}: file is truncated or corrupt ({exc})") from None


def _record(line: bytes, number: int) -> RawPaper:
    ref, cursor = f"line {number}", str(number)
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return RawPaper(error=f"invalid JSON ({exc.msg})", ref=ref, cursor=cursor)
    if not isinstance(data, dict):
        return RawPaper(error="line is not a JSON object", ref=ref, cursor=cursor)
    authors = data.get("authors") or []
    categories = data.get("categories") or []
    if not isinstance(authors, list) or not isinstance(categories, list):
        return RawPaper(error="authors and categories must be lists", ref=ref, cursor=cursor)
    upvotes = data.get("upvotes")
    return RawPaper(
        arxiv_id=_text(data.get("id")),
        version=data["version"] if isinstance(data.get("version"), int) else None,
        title=_text(data.get("title")),
        abstract=_text(data.get("abstract")),
        authors=[str(a) for a in authors],
        categories=[str(c) for c in categories],
        primary_category=_text(data.get("primary_category")),
        published=_text(data.get("published")),
        updated=_text(data.get("updated")),
        comment=_text(data.get("comment")),
        journal_ref=_text(data.get("journal_ref")),
        doi=_text(data.get("doi")),
        license=_text(data.get("license")),
        day=_text(data.get("day")),
        submitted_by=_text(data.get("submitted_by")),
        listed_at=_text(data.get("listed_at")),
        upvotes=upvotes if isinstance(upvotes, int) and upvotes >= 0 else None,
        ref=ref,
        cursor=cursor,
    )
