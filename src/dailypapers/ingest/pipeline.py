"""The ingest stage: normalise, upsert in batches, feature new papers, checkpoint, report.

Each batch and its checkpoint are committed in one transaction, so a run that dies at any
point resumes from the last committed batch and stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Engine

from dailypapers.ingest.normalize import Rejected, normalize, parse_day
from dailypapers.records import Listing, Paper, RawPaper
from dailypapers.storage import daily, papers, runs

RecordFactory = Callable[[str | None], Iterable[RawPaper]]


@dataclass(frozen=True, slots=True)
class FeatureRule:
    """Puts newly announced papers from chosen categories on their day's list."""

    categories: frozenset[str]
    cross_lists: bool = False

    def day_for(self, raw: RawPaper, paper: Paper, is_new: bool) -> dt.date | None:
        """The day to feature ``paper`` on, or None when the rule does not apply."""
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
        return parse_day(raw.day) if raw.day else paper.published_at.date()


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
    papers, our own export).
    """
    key = json.dumps(params, sort_keys=True, default=str)
    with engine.begin() as conn:
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
    try:
        for batch in _batches(records(checkpoint), batch_size):
            _store_batch(engine, report, batch, rule, explicit_days, source)
            if on_batch is not None:
                on_batch(report)
    except BaseException as exc:
        with engine.begin() as conn:
            runs.finish_run(conn=conn, run_id=run_id, status="failed", error=_describe(exc))
        raise
    with engine.begin() as conn:
        runs.finish_run(conn=conn, run_id=run_id, status="done")
    return report


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__


def _store_batch(
    engine: Engine,
    report: IngestReport,
    batch: Sequence[RawPaper],
    rule: FeatureRule | None,
    explicit_days: bool,
    source: str,
) -> None:
    good: list[tuple[RawPaper, Paper]] = []
    rejects: list[tuple[str, str]] = []
    for raw in batch:
        try:
            good.append((raw, normalize(raw)))
        except Rejected as exc:
            rejects.append((raw.ref or raw.arxiv_id or "?", str(exc)))
    with engine.begin() as conn:
        result = papers.upsert_papers(conn=conn, batch=[paper for _, paper in good])
        new_ids = set(result.new)
        listings: list[Listing] = []
        for raw, paper in good:
            if explicit_days and raw.day:
                try:
                    day = parse_day(raw.day)
                except Rejected as exc:
                    rejects.append((raw.ref or paper.arxiv_id, str(exc)))
                    continue
                assert day is not None
                listings.append(Listing(paper.arxiv_id, day, source, raw.submitted_by, raw.upvotes))
            elif rule is not None:
                rule_day = rule.day_for(raw, paper, paper.arxiv_id in new_ids)
                if rule_day is not None:
                    listings.append(Listing(paper.arxiv_id, rule_day, "feed-rule"))
        featured = daily.add_listings(conn=conn, listings=listings)
        report.new += len(result.new)
        report.updated += len(result.updated)
        # Repeats of one id inside a batch are stored once; count the extra copies as unchanged.
        duplicates = len(good) - len(result.new) - len(result.updated) - len(result.unchanged)
        report.unchanged += len(result.unchanged) + duplicates
        report.rejected += len(rejects)
        report.featured += len(featured)
        report.rejects.extend(rejects[: max(0, 100 - len(report.rejects))])
        runs.save_progress(
            conn=conn,
            run_id=report.run_id,
            checkpoint=batch[-1].cursor,
            counts=report.counts(),
            rejects=rejects,
        )
        if result.new or result.updated or featured:
            runs.bump_revision(conn=conn)
