"""Export every paper (with its day, submitter and upvotes) as JSON lines for ``ingest jsonl``."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

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
        "listed_at": row["submitted_at"].isoformat() if row["submitted_at"] else None,
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
    with contextlib.ExitStack() as stack:
        if path is None:
            assert out is not None
            handle = out
        elif path.suffix == ".gz":
            handle = cast(IO[bytes], stack.enter_context(gzip.GzipFile(path, "wb")))
        else:
            handle = stack.enter_context(path.open("wb"))
        count = 0
        for record in iter_export(engine):
            handle.write(orjson.dumps(record) + b"\n")
            count += 1
    return count
