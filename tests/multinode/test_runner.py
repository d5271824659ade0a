"""One job runner per site, elected through leases in the database; index upkeep; --no-jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select

from dailypapers.cli import cli
from dailypapers.index.build import IndexReport
from dailypapers.jobs.rebuild import RebuildFailed, rebuild_in_child
from dailypapers.jobs.runner import Runner
from dailypapers.settings import Settings
from dailypapers.storage import leases
from dailypapers.storage.locks import stage_lock
from dailypapers.storage.schema import embeddings
from dailypapers.storage.schema import leases as leases_table
from tests.multinode.conftest import ingest
from tests.search.conftest import Memoised
from tests.search.test_index_stage import Renamed

T0 = dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def _runner(engine: Engine, settings: Settings, name: str, clock: Clock, **kw: Any) -> Runner:
    quick = settings.model_copy(update={"semantic_search": False, "jobs_lease_seconds": 60})
    return Runner(engine, quick, holder=name, clock=clock, **kw)


def test_a_crashed_runners_lease_expires_and_another_takes_over(
    engine: Engine, settings: Settings
) -> None:
    clock = Clock()
    done: list[str] = []
    a = _runner(engine, settings, "node-a", clock, daily=lambda: done.append("a"))
    b = _runner(engine, settings, "node-b", clock, daily=lambda: done.append("b"))
    a.heartbeat()
    b.heartbeat()
    assert a.index.held and a.jobs is not None and a.jobs.held
    assert not b.index.held and b.jobs is not None and not b.jobs.held
    a.work()
    b.work()
    assert done == ["a"]
    clock.advance(40)
    a.heartbeat()  # renewed until T0 + 100 s
    clock.advance(50)
    b.heartbeat()
    assert not b.index.held
    # Node A crashes: no more renewals. Its lease runs out, and B takes both roles over.
    clock.advance(11)
    b.heartbeat()
    assert b.index.held and b.jobs.held
    b.work()
    assert done == ["a", "b"]
    with engine.connect() as conn:
        row = leases.holder_of(conn=conn, name="jobs")
    assert row is not None and row["holder"] == "node-b"
    # A comes back: it is told it lost the lease and stands by.
    a.heartbeat()
    assert not a.index.held and not a.jobs.held


def test_an_expired_lease_row_left_by_a_dead_process_is_taken(
    engine: Engine, settings: Settings
) -> None:
    clock = Clock()
    with engine.begin() as conn:
        conn.execute(
            insert(leases_table).values(
                name="index",
                holder="gone:4242:dead",
                acquired_at=T0 - dt.timedelta(hours=1),
                expires_at=T0 - dt.timedelta(seconds=1),
            )
        )
    runner = _runner(engine, settings, "node-c", clock)
    runner.heartbeat()
    assert runner.index.held
    runner.release()
    with engine.connect() as conn:
        assert leases.holder_of(conn=conn, name="index") is None


def test_the_runner_embeds_new_papers_and_rebuilds_past_the_threshold(
    engine: Engine,
    settings: Settings,
    make_node: Any,
    embedder: Memoised,
    rows: list[dict[str, Any]],
    spare_rows: list[dict[str, Any]],
) -> None:
    clock = Clock()
    upkeep = settings.model_copy(update={"index_rebuild_delta": 3, "jobs_lease_seconds": 60})
    runner = Runner(engine, upkeep, holder="node-a", clock=clock, embedder=embedder)
    node = make_node("a")  # the runner builds into the data directory of its settings
    runner.settings = upkeep.model_copy(update={"data_dir": node.settings.data_dir})
    ingest(engine, rows, "corpus")
    runner.heartbeat()
    first = runner.work()["index"]
    assert isinstance(first, IndexReport) and first.papers == len(rows)  # no build yet
    ingest(engine, spare_rows[:1], "one")
    assert runner.work()["index"] == 1  # embedded once, for every node
    node.follower.poll()
    assert (
        node.search(spare_rows[0]["abstract"][:300], "semantic", limit=3)[0] == spare_rows[0]["id"]
    )
    ingest(engine, spare_rows[1:4], "more")
    rebuilt = runner.work()["index"]
    assert isinstance(rebuilt, IndexReport) and rebuilt.papers == len(rows) + 4
    assert node.follower.poll().delta_papers == 0 or engine.dialect.name == "sqlite"
    assert runner.work()["index"] == 0  # nothing new
    # A day later, one new paper is reason enough to rebuild.
    clock.now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    ingest(engine, spare_rows[4:5], "late")
    late = runner.work()["index"]
    assert isinstance(late, IndexReport) and late.papers == len(rows) + 5


def test_a_new_embedding_model_rebuilds_once_with_every_paper_re_embedded(
    engine: Engine,
    settings: Settings,
    make_node: Any,
    embedder: Memoised,
    rows: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    upkeep = settings.model_copy(update={"index_rebuild_delta": 100, "jobs_lease_seconds": 60})
    data_dir = make_node("a").settings.data_dir
    before = Runner(engine, upkeep, holder="node-a", clock=Clock(), embedder=embedder)
    before.settings = upkeep.model_copy(update={"data_dir": data_dir})
    ingest(engine, rows[:6], "corpus")
    before.heartbeat()
    assert isinstance(before.work()["index"], IndexReport)
    assert before.work()["index"] == 0  # nothing new: no rebuild
    before.release()
    # An upgrade ships another model: the next round rebuilds, re-embedding every paper.
    newer = Renamed(embedder, "all-MiniLM-L6-v2;onnx-next;sha256=" + "2" * 16)
    after = Runner(engine, upkeep, holder="node-a", clock=Clock(), embedder=newer)
    after.settings = before.settings
    after.heartbeat()
    with caplog.at_level("INFO", logger="dailypapers.jobs"):
        rebuilt = after.work()["index"]
    assert isinstance(rebuilt, IndexReport) and rebuilt.embedded == 6
    assert "another embedding model's" in caplog.text
    assert after.work()["index"] == 0  # once
    with engine.connect() as conn:
        models = set(conn.execute(select(embeddings.c.model)).scalars())
    assert newer.key in models


@pytest.mark.parametrize("flag", ["--jobs", "--no-jobs"])
def test_serve_takes_part_in_index_upkeep_unless_no_jobs(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(k))
    monkeypatch.setattr(Runner, "start", lambda self, seconds: started.append(self) or _idle())
    result = CliRunner().invoke(cli, ["serve", flag], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runners = [s for s in started if isinstance(s, Runner)]
    assert len(runners) == (1 if flag == "--jobs" else 0)
    assert ("index upkeep: on" in result.output) == (flag == "--jobs")


def _idle() -> Any:
    import threading

    thread = threading.Thread(target=lambda: None)
    thread.start()
    return thread, threading.Event()


def test_serve_rebuilds_in_a_child_process_at_low_priority(
    engine: Engine,
    settings: Settings,
    cli_env: dict[str, str],
    rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child reads the settings from the environment, as under `serve`.
    monkeypatch.setenv("DAILYPAPERS_SEMANTIC_SEARCH", "false")
    quick = settings.model_copy(update={"semantic_search": False, "jobs_lease_seconds": 60})
    runner = Runner(engine, quick, holder="serve", clock=Clock(), isolate_builds=True)
    ingest(engine, rows, "corpus")
    runner.heartbeat()
    report = runner.work()["index"]
    assert isinstance(report, IndexReport) and report.papers == len(rows)
    assert report.snapshot and (settings.index_dir / "CURRENT").exists()
    # While another process builds, the child says so and the round waits for the next one.
    with stage_lock(engine, "index", wait=False):
        assert rebuild_in_child() is None


def test_a_failing_child_rebuild_is_an_error_naming_it(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILYPAPERS_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(RebuildFailed, match="index rebuild exited with"):
        rebuild_in_child()
