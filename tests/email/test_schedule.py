"""The schedule inside ``serve``: due time, once across workers, started with the app."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.email import subscribers
from dailypapers.email.schedule import run_due
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.email.conftest import DAY, Collector

MONDAY_NINE = dt.datetime.fromisoformat(f"{DAY}T09:00:00+00:00")


def test_schedule_runs_once_per_day_across_workers(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    subscribers.add(site, email="d@example.com", confirmed=True, prefs=subscribers.preferences())
    weekly = subscribers.preferences(period="weekly")
    subscribers.add(site, email="w@example.com", confirmed=True, prefs=weekly)
    settings = mail_settings.model_copy(update={"digest_schedule_at": "08:30"})
    assert run_due(site, mail_settings, now=MONDAY_NINE) is None  # schedule off
    assert run_due(site, settings, now=MONDAY_NINE - dt.timedelta(hours=1)) is None  # too early
    with ThreadPoolExecutor(4) as pool:  # four workers wake up at once
        results = list(
            pool.map(lambda n: run_due(site, settings, now=MONDAY_NINE, owner=f"w{n}"), range(4))
        )
    done = [r for r in results if r is not None]
    assert len(done) == 1 and [r.key for r in done[0]] == ["daily:2026-06-08", "weekly:2026-W24"]
    assert sorted(m["To"] for m in mailbox.messages) == ["d@example.com", "w@example.com"]
    assert run_due(site, settings, now=MONDAY_NINE + dt.timedelta(hours=2)) is None
    tuesday = run_due(site, settings, now=MONDAY_NINE + dt.timedelta(days=1))
    assert tuesday is not None and [r.key for r in tuesday] == ["daily:2026-06-09"]


def test_the_app_starts_the_schedule_only_when_set(mail_settings: Settings, engine: Engine) -> None:
    def running() -> bool:
        return any(t.name == "digests" for t in threading.enumerate())

    with TestClient(create_app(mail_settings, engine)):
        assert not running()
    settings = mail_settings.model_copy(update={"digest_schedule_at": "23:59"})
    with TestClient(create_app(settings, engine)):
        assert running()
