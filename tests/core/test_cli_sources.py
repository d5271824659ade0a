"""``dailypapers ingest`` against recorded arXiv and Hugging Face responses on a loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from dailypapers.storage.schema import daily_entries, papers
from tests.conftest import fixture_path
from tests.core.test_cli import run
from tests.sources.recorded_http import RecordedServer

FIXTURES = Path(__file__).resolve().parents[1] / "sources" / "fixtures"


@pytest.fixture
def arxiv_env(
    cli_env: dict[str, str], arxiv_server: RecordedServer, monkeypatch: pytest.MonkeyPatch
) -> RecordedServer:
    monkeypatch.setenv("DAILYPAPERS_ARXIV_API_URL", f"{arxiv_server.url}/api/query")
    monkeypatch.setenv("DAILYPAPERS_ARXIV_OAI_URL", f"{arxiv_server.url}/oai2")
    monkeypatch.setenv("DAILYPAPERS_ARXIV_RSS_URL", f"{arxiv_server.url}/atom")
    return arxiv_server


def stored(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars())


def test_ingest_arxiv_api_by_ids(arxiv_env: RecordedServer, engine: Engine) -> None:
    output = run("ingest", "arxiv-api", "--id", "1707.08567")
    assert "1 new" in output
    old_style = run("ingest", "arxiv-api", "--id", "astro-ph/0601001")
    assert "1 new" in old_style
    assert stored(engine) == ["1707.08567", "astro-ph/0601001"]
    user_agents = {r.headers.get("User-Agent") for r in arxiv_env.requests}
    assert all(ua and ua.startswith("dailypapers/") for ua in user_agents)


def test_ingest_arxiv_api_errors_lose_nothing(arxiv_env: RecordedServer, engine: Engine) -> None:
    run("ingest", "arxiv-api", "--id", "1707.08567")
    asked = len(arxiv_env.requests)
    output = run("ingest", "arxiv-api", "--id", "abc", ok=False)
    # Refused before any request (test_cli_ingest_checks.py), not by arXiv's error feed.
    assert "not an arXiv id: 'abc'" in output and "Traceback" not in output
    assert len(arxiv_env.requests) == asked
    missing = run("ingest", "arxiv-api", "--id", "0000.0000")
    assert "0 new" in missing
    assert stored(engine) == ["1707.08567"]


def test_ingest_oai_retries_after_503(arxiv_env: RecordedServer, engine: Engine) -> None:
    output = run("ingest", "oai", "--from", "2015-01-01", "--until", "2015-01-03")
    assert "2 new" in output
    statuses = [r.path for r in arxiv_env.requests if r.path == "/oai2"]
    assert len(statuses) == 2  # the recorded 503 (Retry-After: 10), then the 200


def test_ingest_rss_from_server_and_file(arxiv_env: RecordedServer, engine: Engine) -> None:
    arxiv_env.add_text("/atom/cs.LG+cs.CL", (FIXTURES / "atom_cs.LG+cs.CL.xml").read_text())
    output = run("ingest", "rss", "--category", "cs.LG", "--category", "cs.CL")
    assert " new" in output and "0 new" not in output
    with engine.connect() as conn:
        featured = conn.execute(select(func.count()).select_from(daily_entries)).scalar_one()
    assert featured >= 1
    again = run("ingest", "rss", "--file", str(FIXTURES / "rss_cs.LG+cs.CL.xml"))
    assert "rejected" in again


def test_ingest_hf_daily_by_date(arxiv_env: RecordedServer, engine: Engine) -> None:
    body = fixture_path("hf-daily-papers", "daily_papers_2024-10-25_excerpt.json").read_text()
    arxiv_env.add_text("/api/daily_papers?date=2024-10-25", body)
    output = run(
        "ingest", "hf-daily", "--date", "2024-10-25", "--url", f"{arxiv_env.url}/api/daily_papers"
    )
    assert "2 new" in output and "2 put on a day's list" in output
