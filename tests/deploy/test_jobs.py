"""``dailypapers jobs``: index and digests once a day, once across runners, each step logged."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from dailypapers.cli.jobs import run_day, run_if_due
from dailypapers.cli.main import cli
from dailypapers.logs import JsonFormatter
from dailypapers.settings import Settings
from dailypapers.storage.locks import AlreadyRunning, stage_lock

MONDAY = dt.datetime(2026, 6, 8, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    """Keyword-only search (no model to load), the day's work at 06:00 UTC."""
    return settings.model_copy(update={"semantic_search": False, "jobs_at": "06:00"})


def test_a_monday_indexes_and_sends_both_digests(
    engine: Engine, quiet: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Steps run in order and each logs its report with job and outcome fields."""
    caplog.set_level(logging.INFO, logger="dailypapers.jobs")
    results = run_day(engine, quiet, day=MONDAY.date(), ingest=False)
    assert [(r.job, r.outcome) for r in results] == [
        ("index", "ok"),
        ("digest daily", "ok"),
        ("digest weekly", "ok"),
    ]
    assert (quiet.index_dir / "CURRENT").exists()
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    assert [(line["job"], line["outcome"]) for line in lines] == [
        ("index", "ok"),
        ("digest daily", "ok"),
        ("digest weekly", "ok"),
    ]
    assert "indexed" in lines[0]["message"] or lines[0]["message"].startswith("index:")


def test_the_day_runs_once_across_runners(engine: Engine, quiet: Settings) -> None:
    """Before jobs_at nothing runs; after it the first runner claims the day, others skip."""
    assert run_if_due(engine, quiet, now=MONDAY.replace(hour=5), ingest=False) is None
    first = run_if_due(engine, quiet, now=MONDAY, ingest=False)
    assert first is not None and all(r.outcome == "ok" for r in first)
    assert run_if_due(engine, quiet, now=MONDAY.replace(hour=9), ingest=False) is None
    tuesday = run_if_due(engine, quiet, now=MONDAY + dt.timedelta(days=1), ingest=False)
    assert tuesday is not None and [r.job for r in tuesday] == ["index", "digest daily"]


def test_a_second_runner_is_refused_while_one_runs(engine: Engine, quiet: Settings) -> None:
    """The ``jobs`` stage lock: a run while another holds it says so and does nothing."""
    with stage_lock(engine, "jobs", wait=False), pytest.raises(AlreadyRunning):
        run_day(engine, quiet, day=MONDAY.date(), ingest=False)


def test_a_failed_step_is_logged_and_the_next_runs(
    engine: Engine, quiet: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index that fails does not stop the digests; the step says failed."""

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("dailypapers.cli.jobs._index", broken)
    results = run_day(engine, quiet, day=MONDAY.date(), ingest=False)
    assert [(r.job, r.outcome) for r in results][:2] == [
        ("index", "failed"),
        ("digest daily", "ok"),
    ]
    assert results[0].summary == "disk on fire"


def test_jobs_once_command(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``dailypapers jobs --once --no-ingest`` prints each step and exits 0."""
    monkeypatch.setenv("DAILYPAPERS_SEMANTIC_SEARCH", "false")
    result = CliRunner().invoke(cli, ["jobs", "--once", "--no-ingest"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "index: ok:" in result.output


def test_the_runner_loop_does_the_day_once_and_stops(
    engine: Engine, quiet: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dailypapers jobs`` (no --once): claims today, runs it, keeps polling, stops on request."""
    from dailypapers.cli import jobs as runner
    from dailypapers.storage.schema import job_locks

    monkeypatch.setattr(runner, "POLL_SECONDS", 0.01)
    settings = quiet.model_copy(update={"jobs_at": "00:00"})
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run_forever, args=(engine, settings), kwargs={"stop": stop, "ingest": False}
    )
    thread.start()
    key = f"jobs:{dt.datetime.now(dt.UTC).date().isoformat()}"
    try:
        while thread.is_alive():  # wait for the day's run to be recorded as finished
            with engine.connect() as conn:
                row = conn.execute(select(job_locks).where(job_locks.c.key == key)).first()
            if row is not None and row.finished_at is not None:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert row is not None and row.finished_at is not None
    assert (settings.index_dir / "CURRENT").exists()


def test_metrics_show_when_the_runner_last_finished(engine: Engine, quiet: Settings) -> None:
    """/metrics has the time of the runner's last finished day (alert when it is old)."""
    from fastapi.testclient import TestClient

    from dailypapers.web.app import create_app

    run_if_due(engine, quiet, now=MONDAY, ingest=False)
    app = create_app(quiet.model_copy(update={"metrics_token": "t" * 20}), engine)
    with TestClient(app) as client:
        text = client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 20}).text
    line = next(ln for ln in text.splitlines() if ln.startswith("dailypapers_jobs_last_finished"))
    assert line.startswith('dailypapers_jobs_last_finished_timestamp_seconds{runner="jobs"} ')
    assert float(line.split()[-1]) > MONDAY.timestamp() - 86400 * 365 * 10
