"""Issue 11, data and concurrency: ingest under live traffic, hostile records, concurrent runs.

Items replayed here: 1 (an ingest beside votes and rate-limited log-ins on SQLite completes),
3 (no record stops a feed: any normalisation error or value the database refuses rejects that
record only), 6 (two ingests, index runs or migrations at once: the second waits or says
"already running") and 19 (terminal escapes and control characters are stripped at ingest).
"""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from dailypapers.community import accounts
from dailypapers.community.ratelimit import RateLimited
from dailypapers.community.ratelimit import check as rate_check
from dailypapers.index.build import run_index
from dailypapers.ingest.normalize import Rejected, normalize, parse_datetime, strip_controls
from dailypapers.ingest.pipeline import FeatureRule, IngestReport, run_ingest
from dailypapers.records import RawPaper
from dailypapers.settings import Settings
from dailypapers.storage import migrate
from dailypapers.storage.engine import make_engine
from dailypapers.storage.locks import AlreadyRunning, stage_lock
from dailypapers.storage.schema import daily_entries, ingest_rejects, ingest_runs, papers
from dailypapers.web.app import create_app
from tests.conftest import BACKENDS, pg_database
from tests.core.helpers import raw
from tests.core.test_cli import run as run_cli

_ids = itertools.count(1)


def fresh_id() -> str:
    """A new-style arXiv id not used before in this test session."""
    return f"2607.{next(_ids):05d}"


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def generated(n: int, start: int = 1) -> list[RawPaper]:
    """``n`` valid papers, a third of them in the feed's category, each naming its day."""
    return [
        raw(
            f"2608.{i:05d}",
            title=f"Generated paper {i}",
            abstract=f"Abstract number {i}.\nIt wraps.",
            categories=["cs.LG"] if i % 3 == 0 else ["math.CO"],
            published=f"2026-08-{1 + i % 28:02d}T10:00:00Z",
            day=f"2026-08-{1 + i % 28:02d}",
        )
        for i in range(start, start + n)
    ]


def after(records: Sequence[RawPaper], resume: str | None) -> Iterator[RawPaper]:
    """The records after the cursor ``resume`` (all of them for None)."""
    started = resume is None
    for record in records:
        if started:
            yield record
        elif record.cursor == resume:
            started = True


def ingest(engine: Engine, records: Sequence[RawPaper], **kwargs: Any) -> IngestReport:
    params = kwargs.pop("params", {"records": len(records), "first": records[0].arxiv_id})
    return run_ingest(
        engine=engine,
        source="test",
        params=params,
        records=lambda resume: after(records, resume),
        **kwargs,
    )


# --- Item 1: ingest under live traffic --------------------------------------------------


class Traffic:
    """A client voting through the API and a log-in form's rate-limit writes, until stopped."""

    def __init__(self, client: TestClient, engine: Engine, token: str, ids: list[str]) -> None:
        self.client, self.engine, self.token, self.ids = client, engine, token, ids
        self.writes = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.wrote = threading.Condition()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        for n in itertools.count():
            if self.stop.is_set():
                return
            paper = self.ids[n % len(self.ids)]
            method = self.client.post if n % 2 == 0 else self.client.delete
            try:
                response = method(f"/api/papers/{paper}/upvote", headers=headers)
                if response.status_code >= 500:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                # What a log-in attempt writes: a counter row per client address.
                rate_check(self.engine, key=f"login:10.0.0.{n % 7}", rate="100000/minute")
            except RateLimited as exc:  # pragma: no cover - the budget is far away
                self.errors.append(str(exc))
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            with self.wrote:
                self.writes += 1
                self.wrote.notify_all()

    def wait_for_writes(self, more: int) -> None:
        """Block until the traffic made ``more`` further writes (readiness, not a timer)."""
        with self.wrote:
            target = self.writes + more
            while self.writes < target and not self.errors:
                self.wrote.wait(5)

    def __enter__(self) -> Traffic:
        self.thread.start()
        self.wait_for_writes(3)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_upvote": "100000/minute", "cache_vote_lag": 0})


def test_ingest_beside_votes_and_logins_completes_with_idle_counts(
    engine: Engine, live_settings: Settings, tmp_path: Path
) -> None:
    voted = generated(5, start=90001)
    ingest(engine, voted, params={"voted": 1})
    with engine.begin() as conn:
        user = accounts.create_user(
            conn, email="voter@example.org", password="correct horse battery", username="voter"
        )
        token = accounts.create_api_token(conn, user_id=user["id"], name="t")
    records = generated(3000)
    # The same ingest on an idle database gives the reference counts.
    idle = make_engine(f"sqlite:///{tmp_path / 'idle.sqlite3'}")
    migrate.upgrade(idle)
    rule = FeatureRule(frozenset({"cs.LG"}))
    expected = ingest(idle, records, batch_size=250, rule=rule).counts()
    idle.dispose()
    assert expected["new"] == 3000 and expected["featured"] == 1000

    with TestClient(create_app(live_settings, engine)) as client:
        ids = [r.arxiv_id for r in voted if r.arxiv_id]
        with Traffic(client, engine, token, ids) as traffic:
            # Between every two batches the site writes at least twice more.
            report = ingest(
                engine,
                records,
                batch_size=250,
                rule=rule,
                on_batch=lambda _: traffic.wait_for_writes(2),
            )
        assert traffic.errors == []
        assert traffic.writes > 24
    assert report.counts() == expected
    assert count(engine, papers) == 3005
    with engine.connect() as conn:
        run = conn.execute(select(ingest_runs).where(ingest_runs.c.id == report.run_id)).one()
    assert run.status == "done"


# --- Item 3: no record stops a feed ------------------------------------------------------

HOSTILE: list[dict[str, Any]] = [
    {"published": "9999-12-31T23:59:59-05:00"},  # OverflowError in astimezone
    {"published": "0001-01-01T00:00:00+05:00"},
    {"published": "Fri, 31 Dec 9999 23:59:59 -0500"},
    {"published": dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))},
    {"published": 12345},
    {"published": ["2026-01-01"]},
    {"day": "9999-12-31T23:59:59-05:00"},
    {"day": "not a day"},
    {"updated": "9999-12-31T23:59:59-05:00"},
    {"title": 42},
    {"title": None},
    {"title": "x" * 5000},
    {"abstract": {"a": 1}},
    {"authors": [None, 3, ["x"]]},
    {"authors": "not a list"},
    {"categories": [None]},
    {"categories": ["cs." + "L" * 100]},
    {"primary_category": 7},
    {"version": "two"},
    {"version": 10**30},
    {"version": -1},
    {"arxiv_id": 2607.1},
    {"arxiv_id": "\x00"},
    {"arxiv_id": "2607.\ud800"},
    {"error": "bad JSON: \x1b[31mred\x1b[0m\x00"},
    {"upvotes": 10**30, "submitted_by": "s" * 1000},
    {"upvotes": "many", "submitted_by": {"name": "x"}},
    {"comment": "nul\x00byte", "doi": "\ud83d", "license": "\x1b]8;;http://evil\x07x"},
    {"title": "\ud800\udfff lone surrogates \udc80"},
]


def hostile(fields: dict[str, Any]) -> RawPaper:
    arxiv_id = fresh_id()
    base = raw(arxiv_id, cursor=arxiv_id)
    for name, value in fields.items():
        setattr(base, name, value)
    return base


@pytest.mark.parametrize("explicit_days", [False, True])
def test_hostile_records_are_rejected_and_their_batch_is_stored(
    engine: Engine, explicit_days: bool
) -> None:
    valid = [raw(fresh_id(), day="2026-06-01") for _ in range(10)]
    bad = [hostile(fields) for fields in HOSTILE]
    mixed = [record for pair in itertools.zip_longest(valid, bad) for record in pair if record]
    report = ingest(engine, mixed, batch_size=7, explicit_days=explicit_days)
    assert report.new + report.rejected == len(mixed)
    assert report.new >= len(valid)
    with engine.connect() as conn:
        stored = set(conn.execute(select(papers.c.id)).scalars())
        run = conn.execute(select(ingest_runs)).mappings().one()
        reasons = list(conn.execute(select(ingest_rejects.c.reason)).scalars())
    assert {r.arxiv_id for r in valid} <= stored
    assert run["status"] == "done" and run["rejected"] == report.rejected
    assert any("date out of range" in reason for reason in reasons)
    assert all("\x00" not in reason and "\x1b" not in reason for reason in reasons)


def test_far_dates_are_rejected_with_a_reason() -> None:
    for value in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "1200-01-01"):
        with pytest.raises(Rejected, match="date out of range"):
            parse_datetime(value)
    with pytest.raises(Rejected, match="date out of range"):
        normalize(raw(published="9999-12-31T23:59:59-05:00"))


def test_a_database_refusal_rejects_one_record_and_stores_the_rest(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the database refuses (whatever the reason) costs that record only."""
    from sqlalchemy.exc import DataError

    from dailypapers.storage import papers as paper_repo

    poison = fresh_id()
    upsert = paper_repo.upsert_papers

    def refusing(*, conn: Any, batch: Iterable[Any]) -> Any:
        batch = list(batch)
        if any(p.arxiv_id == poison for p in batch):
            raise DataError("INSERT", {}, Exception("value too long for type character"))
        return upsert(conn=conn, batch=batch)

    monkeypatch.setattr(paper_repo, "upsert_papers", refusing)
    records = [raw(fresh_id()) for _ in range(6)] + [raw(poison)] + [raw(fresh_id())]
    report = ingest(engine, records, batch_size=100)
    assert (report.new, report.rejected) == (7, 1)
    assert report.rejects == [
        (poison, "refused by the database: value too long for type character")
    ]
    assert count(engine, papers) == 7
    # Resuming after the halves' checkpoints is exact: a new run stores nothing twice.
    again = ingest(engine, records, batch_size=100, params={"again": 1})
    assert (again.unchanged, again.rejected) == (7, 1)


def test_a_real_refusal_from_the_database_costs_one_record(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the submitter bound lifted, PostgreSQL's varchar(200) refuses one row inside COPY."""
    from dailypapers.ingest import normalize as normalize_module

    monkeypatch.setattr(normalize_module, "MAX_SUBMITTER", 10_000)
    long_one = raw(fresh_id(), day="2026-06-02", submitted_by="n" * 500)
    records = [raw(fresh_id(), day="2026-06-02", submitted_by="ok") for _ in range(5)]
    report = ingest(engine, [*records[:2], long_one, *records[2:]], explicit_days=True)
    if engine.dialect.name == "postgresql":
        assert (report.new, report.rejected) == (5, 1)
        assert report.rejects[0][0] == long_one.arxiv_id
        assert report.rejects[0][1].startswith("refused by the database: value too long")
    else:  # SQLite does not enforce the width
        assert (report.new, report.rejected) == (6, 0)
    assert count(engine, daily_entries) == report.new


def test_snapshot_with_a_far_date_ingests_through_the_cli(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    def line(arxiv_id: str, created: str) -> bytes:
        row = {
            "id": arxiv_id,
            "title": "T",
            "abstract": "A",
            "authors": "Ada Lovelace",
            "categories": "cs.LG",
            "versions": [{"version": "v1", "created": created}],
        }
        return orjson.dumps(row) + b"\n"

    path = tmp_path / "snapshot.json"
    path.write_bytes(
        line("2607.90001", "Mon, 2 Apr 2007 19:18:42 GMT")
        + line("2607.90002", "9999-12-31T23:59:59-05:00")
        + b'{"id": "2607.90003", "title": ["x"], "versions": 5}\n'
        + line("2607.90004", "Tue, 3 Apr 2007 19:18:42 GMT")
    )
    output = run_cli("ingest", "snapshot", str(path), "--no-progress")
    assert "2 new" in output and "2 rejected" in output
    assert "date out of range" in output
    # The feed is not stuck: the next run starts afresh and finds nothing new.
    assert "2 unchanged" in run_cli("ingest", "snapshot", str(path), "--no-progress")


def test_a_parser_surprise_in_one_feed_item_becomes_an_error_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dailypapers.sources import rss

    feed = (Path(__file__).parents[1] / "sources" / "fixtures" / "rss_cs.LG+cs.CL.xml").read_text()
    expected = list(rss.parse_listing(feed))
    parse_item = rss._parse_rss_item

    calls = itertools.count()

    def surprising(item: Any, feed_date: str | None) -> RawPaper:
        if next(calls) == 0:  # the first item makes the parser raise
            raise OverflowError("date value out of range")
        return parse_item(item, feed_date)

    monkeypatch.setattr(rss, "_parse_rss_item", surprising)
    got = list(rss.parse_listing(feed))
    assert len(got) == len(expected) and len(expected) > 1
    assert got[0].error == "unreadable record: OverflowError: date value out of range"
    assert got[0].cursor == "1" and got[1:] == expected[1:]


def _text() -> st.SearchStrategy[str]:
    return st.text(
        alphabet=st.characters(codec=None, exclude_categories=()), max_size=60
    ) | st.sampled_from(
        ["", " ", "\x1b[2J", "9999-12-31T23:59:59-05:00", "2026-13-45", "0000-00-00", "\ud800"]
    )


_ANY = st.none() | _text() | st.integers() | st.floats() | st.lists(_text(), max_size=3)
_DATES = (
    _ANY
    | st.datetimes(timezones=st.timezones() | st.none())
    | st.dates()
    | st.builds(lambda d: d.isoformat(), st.datetimes(timezones=st.timezones()))
)
RAW_RECORDS = st.builds(
    RawPaper,
    arxiv_id=st.none() | _text() | st.from_regex(r"\A\d{4}\.\d{5}(v\d{1,4})?\Z") | st.integers(),
    title=_ANY,
    abstract=_ANY,
    authors=st.lists(_ANY, max_size=4) | _ANY,
    categories=st.lists(_ANY, max_size=3) | _ANY,
    primary_category=_ANY,
    published=_DATES,
    updated=_DATES,
    version=st.none() | st.integers() | _text(),
    comment=_ANY,
    journal_ref=_ANY,
    doi=_ANY,
    license=_ANY,
    day=_DATES,
    submitted_by=_ANY,
    upvotes=st.none() | st.integers() | _text(),
    announce_type=_ANY,
    ref=_text(),
    cursor=st.none() | _text(),
    error=st.none() | _text(),
)


@given(RAW_RECORDS)
@hyp_settings(max_examples=400, deadline=None, database=None)
def test_normalize_raises_nothing_but_rejected(record: RawPaper) -> None:
    try:
        paper = normalize(record)
    except Rejected:
        return
    for value in (paper.title, paper.abstract, *paper.authors, paper.comment, paper.license):
        assert value is None or value == strip_controls(value)
    assert dt.datetime(1900, 1, 1, tzinfo=dt.UTC) <= paper.published_at


@given(st.lists(RAW_RECORDS, min_size=1, max_size=6))
@hyp_settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_fuzzed_batches_never_stop_a_run_and_keep_their_valid_records(
    engine: Engine, records: list[RawPaper]
) -> None:
    valid = [raw(fresh_id()) for _ in range(3)]
    batch = [valid[0], *records[:3], valid[1], *records[3:], valid[2]]
    for position, record in enumerate(batch):
        record.cursor = f"{id(batch)}-{position}"
    report = ingest(engine, batch, params={"fuzz": id(batch), "n": next(_ids)}, batch_size=4)
    assert report.new + report.updated + report.unchanged + report.rejected == len(batch)
    with engine.connect() as conn:
        found = set(
            conn.execute(select(papers.c.id).where(papers.c.id.in_([v.arxiv_id for v in valid])))
            .scalars()
            .all()
        )
    assert found == {v.arxiv_id for v in valid}


# --- Item 19: control characters -----------------------------------------------------------


def test_terminal_escapes_and_control_characters_are_stripped_at_ingest(engine: Engine) -> None:
    arxiv_id = fresh_id()
    record = raw(
        arxiv_id,
        title="\x1b[31mRed\x1b[0m title\x07 with\x00 bell",
        abstract="First\x1b]0;owned\x07 line\r\nsecond \x9b2J line.\n\nNew\x08 paragraph\x7f.",
        authors=["Ada\x1b[1m Lovelace\x1b[m", "\x1b[2J\x1b[H"],
        comment="12 pages\x1bc",
        journal_ref="J\x85 Ref",
        license="\x1b]8;;http://evil.example\x1b\\http://creativecommons.org/licenses/by/4.0/",
        day="2026-06-01",
        submitted_by="sub\x1b[5mmitter\x00",
    )
    ingest(engine, [record], explicit_days=True)
    with engine.connect() as conn:
        row = conn.execute(select(papers).where(papers.c.id == arxiv_id)).mappings().one()
        listing = conn.execute(select(daily_entries)).mappings().one()
    assert row["title"] == "Red title with bell"
    assert row["abstract"] == "First line second line.\n\nNew paragraph."
    assert row["authors"] == ["Ada Lovelace"]
    assert row["comment"] == "12 pages"
    assert row["journal_ref"] == "J Ref"
    assert row["license"] == "http://creativecommons.org/licenses/by/4.0/"
    assert listing["submitter_name"] == "submitter"
    assert strip_controls("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


# --- Item 6: concurrent runs -----------------------------------------------------------------


def test_a_second_ingest_with_the_same_arguments_refuses_while_the_first_runs(
    engine: Engine,
) -> None:
    records = generated(40, start=50001)
    inside = threading.Event()
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def slow(resume: str | None) -> Iterator[RawPaper]:
        for n, record in enumerate(after(records, resume)):
            if n == 20:
                inside.set()
                release.wait()
            yield record

    def first() -> None:
        outcome["report"] = run_ingest(
            engine=engine, source="test", params={"same": 1}, records=slow, batch_size=10
        )

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait()
    try:
        with pytest.raises(AlreadyRunning, match="already running"):
            run_ingest(
                engine=engine,
                source="test",
                params={"same": 1},
                records=lambda r: after(records, r),
            )
        # Other arguments are another run: it may go ahead.
        other = ingest(engine, generated(3, start=60001), params={"other": 1})
        assert other.new == 3
    finally:
        release.set()
        thread.join()
    assert outcome["report"].new == 40
    assert count(engine, papers) == 43
    with engine.connect() as conn:
        statuses = list(conn.execute(select(ingest_runs.c.status)).scalars())
    assert statuses == ["done", "done"]


def test_cli_ingest_says_already_running(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    import hashlib
    import json

    path = tmp_path / "papers.jsonl"
    path.write_bytes(b"")
    stat = path.stat()
    params = {"path": str(path.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    key = json.dumps(params, sort_keys=True, default=str)
    digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    with stage_lock(engine, f"ingest jsonl {digest}", wait=False):
        output = run_cli("ingest", "jsonl", str(path), ok=False)
    assert "another ingest jsonl with the same arguments is already running" in output
    assert "0 new" in run_cli("ingest", "jsonl", str(path))


class BlockingEmbedder:
    """A deterministic 384-d embedder whose first call waits until released."""

    key = "test-blocking-384"
    dim = 384

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> Any:
        self.entered.set()
        self.release.wait()
        rng = np.random.default_rng(len(texts))
        vectors = rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_two_index_runs_at_once_never_crash(engine: Engine, settings: Settings) -> None:
    ingest(engine, generated(12, start=70001))
    embedder = BlockingEmbedder()
    outcome: dict[str, Any] = {}

    def first() -> None:
        outcome["report"] = run_index(
            engine=engine, root=settings.index_dir, embedder=embedder, batch_size=5
        )

    thread = threading.Thread(target=first)
    thread.start()
    embedder.entered.wait()
    try:
        with pytest.raises(AlreadyRunning, match="another index is already running"):
            run_index(engine=engine, root=settings.index_dir, embedder=embedder)
    finally:
        embedder.release.set()
        thread.join()
    assert outcome["report"].embedded == 12
    # Once the first has finished, the next run goes ahead and has nothing to embed.
    assert run_index(engine=engine, root=settings.index_dir, embedder=embedder).embedded == 0


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty (never migrated) database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with pg_database(request.getfixturevalue("pg_server"), "dp_empty") as url:
        yield url


def test_nodes_starting_together_on_an_empty_database_both_migrate(empty_db_url: str) -> None:
    engines = [make_engine(empty_db_url) for _ in range(3)]
    results: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def node(engine: Engine) -> None:
        start.wait()
        try:
            results.append(migrate.upgrade(engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert errors == []
    head = migrate.head_revision()
    assert sorted(results, key=lambda r: r[0] or "") == [(None, head)] + [(head, head)] * 2


LOCK_HOLDER = """
import sys, time
from dailypapers.storage.engine import make_engine
from dailypapers.storage.locks import stage_lock
with stage_lock(make_engine(sys.argv[1]), "index", wait=False):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_killed_run_releases_its_lock(db_url: str, engine: Engine) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, db_url], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with pytest.raises(AlreadyRunning), stage_lock(engine, "index", wait=False):
                pass
        finally:
            holder.kill()
            holder.wait()
    with stage_lock(engine, "index", wait=True):  # released by the kernel or the server
        pass
