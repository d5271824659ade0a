"""Export every paper (with its day, submitter and upvotes) as JSON lines that ``ingest jsonl`` reads."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from dailypapers.storage import daily


def paper_record(row: RowMapping) -> dict[str, Any]:
    """The export form of one paper row joined with its daily entry."""
    return {
        "id": row["id"],
        "version": row["version"],
        "title": row["title"],
        "abstract": row["abstract"],
        "authors": row["authors"],
        "categories": row["categories"],
        "primary_category": row["primary_category"],
        "published": row["published_at"].isoformat(),
        "updated": row["updated_at"].isoformat(),
        "comment": row["comment"],
        "journal_ref": row["journal_ref"],
        "doi": row["doi"],
        "license": row["license"],
        "day": row["day"].isoformat() if row["day"] else None,
        "submitted_by": row["submitter"],
        "upvotes": row["upvotes"],
    }


def iter_export(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every paper in id order, in bounded memory."""
    with engine.connect() as conn:
        for batch in daily.iter_entries_with_papers(conn=conn):
            for row in batch:
                yield paper_record(row)


def write_export(engine: Engine, path: Path | None, out: IO[bytes] | None = None) -> int:
    """Write the export to ``path`` (gzip when it ends in .gz) or ``out``; returns the count."""
    count = 0
    if path is not None:
        handle: IO[bytes] = (
            gzip.open(path, "wb") if path.suffix == ".gz" else path.open("wb")  # type: ignore[assignment]
        )
    else:
        assert out is not None
        handle = out
    try:
        for record in iter_export(engine):
            handle.write(orjson.dumps(record) + b"\n")
            count += 1
    finally:
        if path is not None:
            handle.close()
    return count
