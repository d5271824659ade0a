"""The ingest stage: normalise, upsert in batches, feature new papers, checkpoint, report.

Each batch and its checkpoint are committed in one transaction, so a run that dies at any
point resumes from the last committed batch and stores nothing twice. Every transaction that
writes is a ``write_transaction`` (on SQLite it takes the write lock at BEGIN, so a busy site's
votes and log-ins make it wait, never fail with "database is locked"). A record is never able
to stop a run: any exception while normalising it, and a database refusing its values, reject
that record with the reason, and the rest of its batch is stored. One run per source and
arguments at a time (``stage_lock``): a second one says "already running".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Engine

from dailypapers.ingest.normalize import (
    Rejected,
    announced_at,
    listing_fields,
    listing_origin,
    normalize,
    strip_controls,
)
from dailypapers.records import Listing, Paper, RawPaper
from dailypapers.storage import daily, papers, runs
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.locks import stage_lock

RecordFactory = Callable[[str | None], Iterable[RawPaper]]


@dataclass(frozen=True, slots=True)
class FeatureRule:
    """Puts newly announced papers from chosen categories on their day's list."""

    categories: frozenset[str]
    cross_lists: bool = False

    def day_for(
        self, raw: RawPaper, paper: Paper, is_new: bool, day: dt.date | None = None
    ) -> dt.date | None:
        """The day to feature ``paper`` on (``day``: the record's own, parsed), or None."""
        if not self.categories:
            return None
        announce = (raw.announce_type or "").lower()
        if announce.startswith("replace") or (not is_new and announce != "new"):
            return None
        if announce == "cross" and not self.cross_lists:
            return None
        cats = set(paper.categories) if self.cross_lists else {paper.primary_category}
        if not cats & self.categories:
            return None
        return day or paper.published_at.date()


@dataclass(slots=True)
class IngestReport:
    """What one ingest run did."""

    run_id: int
    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    featured: int = 0
    resumed_from: int | None = None
    rejects: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counters as a dict (stored with the run)."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "featured": self.featured,
        }

    def summary(self) -> str:
        """One line for the operator."""
        resumed = f" (resumed run {self.resumed_from})" if self.resumed_from else ""
        return (
            f"ingest {self.source} run {self.run_id}{resumed}: {self.new} new, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected, "
            f"{self.featured} put on a day's list"
        )


def _batches(records: Iterable[RawPaper], size: int) -> Iterator[list[RawPaper]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def run_ingest(
    *,
    engine: Engine,
    source: str,
    params: dict[str, Any],
    records: RecordFactory,
    rule: FeatureRule | None = None,
    explicit_days: bool = False,
    batch_size: int = 2000,
    on_batch: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Run one ingest; resumes an unfinished run with the same source and parameters.

    ``records(resume)`` returns the source's records starting after the checkpoint ``resume``.
    ``explicit_days`` puts every record that names a day on that day's list (HF daily
    papers, our own export). Raises ``AlreadyRunning`` while a run with the same source and
    parameters is in progress (here or on another node).
    """
    key = json.dumps(params, sort_keys=True, default=str)
    digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    label = f"ingest {source} with the same arguments"
    with stage_lock(engine, f"ingest {source} {digest}", wait=False, label=label):
        return _run_locked(engine, source, key, records, rule, explicit_days, batch_size, on_batch)


def _run_locked(
    engine: Engine,
    source: str,
    key: str,
    records: RecordFactory,
    rule: FeatureRule | None,
    explicit_days: bool,
    batch_size: int,
    on_batch: Callable[[IngestReport], None] | None,
) -> IngestReport:
    with write_transaction(engine) as conn:
        previous = runs.find_resumable(conn=conn, source=source, params=key)
        run_id = runs.start_run(conn=conn, source=source, params=key, resumed=previous)
    report = IngestReport(run_id=run_id, source=source)
    checkpoint = None
    if previous is not None:
        report.resumed_from = previous["id"]
        for name, value in previous.items():
            if name in report.counts():
                setattr(report, name, value)
        checkpoint = previous["checkpoint"]
    target = _Target(engine, report, rule, explicit_days, source)
    try:
        for batch in _batches(records(checkpoint), batch_size):
            prepared, rejects = _prepare(batch)
            _store(target, prepared, rejects, batch[-1].cursor)
            if on_batch is not None:
                on_batch(report)
    except BaseException as exc:
        # Best effort: when the database itself failed (disk full, connection lost), the run
        # stays "running", which resumes the same way; the original error is what is raised.
        with contextlib.suppress(Exception), write_transaction(engine) as conn:
            runs.finish_run(conn=conn, run_id=run_id, status="failed", error=_describe(exc))
        raise
    with write_transaction(engine) as conn:
        runs.finish_run(conn=conn, run_id=run_id, status="done")
    return report


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return strip_controls(text)[:500]


@dataclass(frozen=True, slots=True)
class _Prepared:
    raw: RawPaper
    paper: Paper
    day: dt.date | None
    submitter: str | None
    upvotes: int | None
    listed_at: dt.datetime | None = None
    submitter_fullname: str | None = None


def _ref(raw: RawPaper) -> str:
    ref = raw.ref or raw.arxiv_id
    return strip_controls(ref if isinstance(ref, str) and ref else "?")[:200]


def _prepare(batch: Sequence[RawPaper]) -> tuple[list[_Prepared], list[tuple[str, str]]]:
    """Normalise each record on its own: any exception rejects that record, with its reason."""
    good: list[_Prepared] = []
    rejects: list[tuple[str, str]] = []
    for raw in batch:
        try:
            paper = normalize(raw)
            day, submitter, upvotes = listing_fields(raw)
            listed_at, fullname = listing_origin(raw)
        except Rejected as exc:
            rejects.append((_ref(raw), strip_controls(str(exc))[:500]))
        except Exception as exc:  # a record must never stop a feed
            rejects.append((_ref(raw), f"unreadable record: {_describe(exc)}"))
        else:
            good.append(_Prepared(raw, paper, day, submitter, upvotes, listed_at, fullname))
    return good, rejects


@dataclass(frozen=True, slots=True)
class _Target:
    """What every batch of one run is stored with."""

    engine: Engine
    report: IngestReport
    rule: FeatureRule | None
    explicit_days: bool
    source: str


def _store(
    target: _Target,
    prepared: Sequence[_Prepared],
    rejects: list[tuple[str, str]],
    checkpoint: str | None,
) -> None:
    """Store ``prepared`` with the checkpoint; if the database refuses a value, store the rest.

    The refused record is found by halving (each half committed with its own last cursor as
    checkpoint, so resuming stays exact) and rejected with the database's reason.
    """
    try:
        _commit(target, prepared, rejects, checkpoint)
    except Exception as exc:
        if not runs.refused_data(exc):
            raise
        if len(prepared) > 1:
            half = len(prepared) // 2
            first, rest = prepared[:half], prepared[half:]
            _store(target, first, [], first[-1].raw.cursor)
            _store(target, rest, rejects, checkpoint)
            return
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""]
        refused = [
            (_ref(item.raw), f"refused by the database: {reason[0][:300]}") for item in prepared
        ]
        _commit(target, [], rejects + refused, checkpoint)


def _commit(
    target: _Target,
    prepared: Sequence[_Prepared],
    rejects: list[tuple[str, str]],
    checkpoint: str | None,
) -> None:
    report, rule, explicit_days = target.report, target.rule, target.explicit_days
    with write_transaction(target.engine) as conn:
        result = papers.upsert_papers(conn=conn, batch=[item.paper for item in prepared])
        new_ids = set(result.new)
        listings: list[Listing] = []
        for item in prepared:
            arxiv_id = item.paper.arxiv_id
            if explicit_days and item.day is not None:
                listings.append(
                    Listing(
                        arxiv_id,
                        item.day,
                        target.source,
                        item.submitter,
                        item.upvotes,
                        item.listed_at or announced_at(item.day),
                        item.submitter_fullname,
                    )
                )
            elif rule is not None:
                day = rule.day_for(item.raw, item.paper, arxiv_id in new_ids, item.day)
                if day is not None:
                    # Featured automatically: on the list since the day's announcement.
                    listings.append(
                        Listing(arxiv_id, day, "feed-rule", listed_at=announced_at(day))
                    )
        featured = daily.add_listings(conn=conn, listings=listings)
        # Repeats of one id inside a batch are stored once; count the extra copies as unchanged.
        duplicates = len(prepared) - len(result.new) - len(result.updated) - len(result.unchanged)
        counts = report.counts()
        counts["new"] += len(result.new)
        counts["updated"] += len(result.updated)
        counts["unchanged"] += len(result.unchanged) + duplicates
        counts["rejected"] += len(rejects)
        counts["featured"] += len(featured)
        runs.save_progress(
            conn=conn,
            run_id=report.run_id,
            checkpoint=checkpoint,
            counts=counts,
            rejects=rejects,
        )
        if result.new or result.updated or featured:
            runs.bump_revision(conn=conn)
    # Only a committed batch counts (a refused one is retried in halves).
    for name, value in counts.items():
        setattr(report, name, value)
    report.rejects.extend(rejects[: max(0, 100 - len(report.rejects))])
