"""One bad record never stops a source: a parser's surprise becomes an error record.

Every source parses its records one at a time through ``one_record``; anything a single record
makes the parser raise (other than ``SourceError``, which is about the whole source) turns into
a ``RawPaper`` with ``error`` set and the record's cursor, so ingest rejects it with the reason
and the checkpoint moves past it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

from dailypapers.records import RawPaper, SourceError

P = ParamSpec("P")


def one_record(
    cursor: str | None,
    ref: str,
    parse: Callable[P, RawPaper],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> RawPaper:
    """``parse(*args, **kwargs)``, or an error record saying why it failed."""
    try:
        return parse(*args, **kwargs)
    except SourceError:
        raise
    except Exception as exc:
        reason = f"unreadable record: {type(exc).__name__}: {exc}"[:300]
        return RawPaper(error=reason, ref=ref, cursor=cursor)
