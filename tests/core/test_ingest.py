"""Ingest: idempotent upserts, versions, rejects, the feature rule and resuming after a crash."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest
from sqlalchemy import Engine, func, select

from dailypapers.ingest.pipeline import FeatureRule, run_ingest
from dailypapers.records import RawPaper
from dailypapers.storage import papers as paper_repo
from dailypapers.storage.schema import daily_entries, ingest_rejects, ingest_runs, paper_categories
from tests.core.helpers import raw

RULE = FeatureRule(frozenset({"cs.LG"}))


def ingest(engine: Engine, records: list[RawPaper], **kwargs: object):  # type: ignore[no-untyped-def]
    params = kwargs.pop("params", {"test": 1})
    return run_ingest(
        engine=engine,
        source="test",
        params=params,  # type: ignore[arg-type]
        records=lambda resume: _after(records, resume),
        **kwargs,  # type: ignore[arg-type]
    )


def _after(records: list[RawPaper], resume: str | None) -> Iterator[RawPaper]:
    started = resume is None
    for record in records:
        if started:
            yield record
        elif record.cursor == resume:
            started = True


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_ingest_twice_is_idempotent(engine: Engine) -> None:
    records = [raw(f"2606.{n:05d}") for n in range(1, 6)]
    first = ingest(engine, records, params={"run": 1})
    second = ingest(engine, records, params={"run": 2})
    assert (first.new, first.updated, first.unchanged) == (5, 0, 0)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 5)
    with engine.connect() as conn:
        assert paper_repo.count_papers(conn=conn) == 5
    assert count(engine, paper_categories) == 10


def test_newer_version_replaces_older_and_older_never_wins(engine: Engine) -> None:
    ingest(engine, [raw("2606.00001v1", title="Old title")], params={"r": 1})
    report = ingest(engine, [raw("2606.00001v3", title="New title")], params={"r": 2})
    assert report.updated == 1
    stale = ingest(engine, [raw("2606.00001v2", title="Stale title")], params={"r": 3})
    assert stale.unchanged == 1
    with engine.connect() as conn:
        row = paper_repo.get_paper(conn=conn, arxiv_id="2606.00001")
    assert row is not None
    assert (row["version"], row["title"]) == (3, "New title")


def test_changed_metadata_of_same_version_is_an_update(engine: Engine) -> None:
    ingest(engine, [raw("2606.00001", categories=["cs.LG"])], params={"r": 1})
    report = ingest(
        engine, [raw("2606.00001", categories=["cs.CL", "cs.LG"], doi="10.1/x")], params={"r": 2}
    )
    assert report.updated == 1
    with engine.connect() as conn:
        cats = (
            conn.execute(select(paper_categories.c.category).order_by(paper_categories.c.category))
            .scalars()
            .all()
        )
    assert cats == ["cs.CL", "cs.LG"]


def test_duplicates_in_one_batch_are_stored_once(engine: Engine) -> None:
    report = ingest(engine, [raw("2606.00001"), raw("2606.00001", cursor="again")])
    assert (report.new, report.unchanged) == (1, 1)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (RawPaper(error="invalid JSON", ref="line 3"), "invalid JSON"),
        (raw("not-an-id"), "not an arXiv id"),
        (raw("2606.00009", title="  "), "missing title"),
        (raw("2606.00009", abstract=""), "missing abstract"),
        (raw("2606.00009", categories=["???"]), "no valid category"),
        (raw("2606.00009", published="yesterday-ish"), "unreadable date"),
        (raw("2606.00009", published=None), "missing publication date"),
    ],
)
def test_malformed_records_are_rejected_with_a_reason_and_do_not_stop_the_run(
    engine: Engine, record: RawPaper, reason: str
) -> None:
    report = ingest(engine, [raw("2606.00001"), record, raw("2606.00002")])
    assert (report.new, report.rejected) == (2, 1)
    assert reason in report.rejects[0][1]
    with engine.connect() as conn:
        stored = conn.execute(select(ingest_rejects.c.reason)).scalars().all()
    assert len(stored) == 1 and reason in stored[0]


def test_feature_rule_lists_new_papers_of_chosen_categories(engine: Engine) -> None:
    records = [
        raw("2606.00001", categories=["cs.LG"], day="2026-06-02"),
        raw("2606.00002", categories=["cs.CL", "cs.LG"], day="2026-06-02"),
        raw("2606.00003", categories=["cs.LG"], day="2026-06-02", announce_type="cross"),
        raw("2606.00004", categories=["cs.LG"], day="2026-06-02", announce_type="replace"),
    ]
    report = ingest(engine, records, rule=RULE)
    assert report.featured == 1
    with engine.connect() as conn:
        listed = conn.execute(select(daily_entries.c.paper_id, daily_entries.c.day)).all()
    assert [(p, d.isoformat()) for p, d in listed] == [("2606.00001", "2026-06-02")]


def test_cross_lists_are_featured_when_enabled(engine: Engine) -> None:
    records = [raw("2606.00002", categories=["cs.CL", "cs.LG"], announce_type="cross")]
    report = ingest(engine, records, rule=FeatureRule(frozenset({"cs.LG"}), cross_lists=True))
    assert report.featured == 1


def test_explicit_days_keep_upvotes_and_submitter(engine: Engine) -> None:
    records = [raw("2606.00001", day="2026-06-03", upvotes=64, submitted_by="akhaliq")]
    report = ingest(engine, records, explicit_days=True)
    assert report.featured == 1
    again = ingest(
        engine,
        [raw("2606.00001", day="2026-06-09", upvotes=3)],
        explicit_days=True,
        params={"x": 2},
    )
    assert again.featured == 0
    with engine.connect() as conn:
        row = paper_repo.get_paper(conn=conn, arxiv_id="2606.00001")
        entry = conn.execute(select(daily_entries)).mappings().one()
    assert row is not None and row["upvotes"] == 64
    assert entry["submitter_name"] == "akhaliq" and entry["day"].isoformat() == "2026-06-03"


class Crash(Exception):
    pass


def _crashing(records: list[RawPaper], after: int, resume: str | None) -> Iterable[RawPaper]:
    for index, record in enumerate(_after(records, resume)):
        if resume is None and index == after:
            raise Crash("source died")
        yield record


def test_interrupted_run_resumes_from_checkpoint_without_doubling(engine: Engine) -> None:
    records = [raw(f"2606.{n:05d}", categories=["cs.LG"]) for n in range(1, 26)]
    seen: list[str | None] = []

    def factory(resume: str | None) -> Iterable[RawPaper]:
        seen.append(resume)
        return _crashing(records, 12, resume)

    with pytest.raises(Crash):
        run_ingest(engine=engine, source="t", params={}, records=factory, batch_size=5, rule=RULE)
    with engine.connect() as conn:
        assert paper_repo.count_papers(conn=conn) == 10  # two whole batches committed
        failed = conn.execute(select(ingest_runs)).mappings().one()
    assert failed["status"] == "failed" and "source died" in failed["error"]
    report = run_ingest(
        engine=engine, source="t", params={}, records=factory, batch_size=5, rule=RULE
    )
    assert seen == [None, "2606.00010"]
    assert report.resumed_from == failed["id"]
    assert (report.new, report.unchanged, report.featured) == (25, 0, 25)
    with engine.connect() as conn:
        assert paper_repo.count_papers(conn=conn) == 25
    assert count(engine, daily_entries) == 25
    # A third run starts afresh (the last one finished) and changes nothing.
    third = run_ingest(
        engine=engine, source="t", params={}, records=lambda r: _after(records, r), batch_size=5
    )
    assert third.resumed_from is None and third.unchanged == 25


def test_a_poorer_source_never_erases_known_fields(engine: Engine) -> None:
    rich = raw("2606.00001", categories=["cs.LG"], doi="10.1/x", journal_ref="JMLR")
    ingest(engine, [rich], params={"r": 1})
    poor = ingest(engine, [raw("2606.00001", categories=[], doi=None)], params={"r": 2})
    assert poor.unchanged == 1
    with engine.connect() as conn:
        row = paper_repo.get_paper(conn=conn, arxiv_id="2606.00001")
    assert row is not None
    assert (row["categories"], row["doi"], row["journal_ref"]) == (["cs.LG"], "10.1/x", "JMLR")


def test_papers_without_categories_are_stored(engine: Engine) -> None:
    report = ingest(engine, [raw("2606.00001", categories=[])])
    assert report.new == 1
