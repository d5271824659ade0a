"""A site for the Hugging Face client tests, served live: the real HF daily-papers excerpt
imported as HF imports it, papers featured with no submitter, a member's submissions on
three days, a comment, a paper on no list, and a keyword index."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dailypapers.api.lists import EXAMPLE_TOKEN
from dailypapers.community import accounts, actions
from dailypapers.index.build import run_index
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.sources.hf_daily import parse_hf_daily
from dailypapers.storage import community, lists
from dailypapers.storage.engine import make_engine, write_transaction
from dailypapers.web.app import create_app
from tests.browser.live import LiveServer, fresh_database
from tests.conftest import fixture_path
from tests.core.helpers import raw
from tests.empty_arxiv import empty_arxiv

HF_EXCERPT = fixture_path("hf-daily-papers", "daily_papers_2024-10-25_excerpt.json")
MATH_ID = "2410.20001"
MATH_ABSTRACT = "We bound $\\alpha$-stable laws at cost $O(n^2)$ for all $n \\geq 1$."
SUBMITTED = ["2410.20007", "2410.20006", "2410.20005"]  # by ada, newest first
SUBMIT_DAYS = [dt.date(2024, 10, 25), dt.date(2024, 10, 23), dt.date(2024, 10, 22)]
UNLISTED = "2410.20008"
PASSWORD = "correct horse battery"


@dataclass
class HfSite:
    """The live server's URL and the ids the tests look for."""

    url: str
    hf_ids: list[str]
    token: str  # ada's API token


def _records() -> list[object]:
    return [
        raw(
            MATH_ID,
            title="Stable laws with $\\alpha$ bounds",
            abstract=MATH_ABSTRACT,
            day="2024-10-24",
            published="2024-10-23T17:00:00Z",
            categories=["cs.LG"],
            comment="12 pages",
        ),
        raw("2410.20002", title="Graph transformers", day="2024-10-24", categories=["cs.LG"]),
        raw("2410.20003", title="Older week paper", day="2024-10-14", categories=["cs.CL"]),
        raw("2409.20004", title="Previous month paper", day="2024-09-30", categories=["cs.CV"]),
        *(raw(i, title=f"Submitted paper {i}", categories=["cs.RO"]) for i in SUBMITTED),
        raw(UNLISTED, title="A paper on no list", categories=["cs.AI"]),
    ]


def fill(settings: Settings) -> tuple[list[str], str]:
    """Load the site; the ids of the HF-imported papers and an API token of ada's."""
    engine = make_engine(settings.effective_database_url)
    try:
        hf = list(parse_hf_daily(HF_EXCERPT.read_bytes()))
        report = run_ingest(
            engine=engine,
            source="hf_daily",
            params={"fixture": "2024-10-25"},
            records=lambda _: hf,
            explicit_days=True,
        )
        assert report.rejected == 0, report.summary()
        records = _records()
        report = run_ingest(
            engine=engine,
            source="t",
            params={"fixture": "hf-clients"},
            records=lambda _: records,  # type: ignore[arg-type,return-value]
            explicit_days=True,
        )
        assert report.rejected == 0, report.summary()
        with write_transaction(engine) as conn:
            ada = accounts.create_user(
                conn, email="ada@example.org", password=PASSWORD, username="ada"
            )
            for paper_id, day in zip(SUBMITTED, SUBMIT_DAYS, strict=True):
                community.submit_entry(conn=conn, paper_id=paper_id, day=day, user_id=ada["id"])
            token = accounts.create_api_token(conn, user_id=ada["id"], name="test")
            # A public list at the address the API's examples name (its JSON twin, saving).
            lists.create_list(
                conn=conn,
                user_id=ada["id"],
                name="Reading group",
                token=EXAMPLE_TOKEN,
                visibility="public",
            )
        actions.add_comment(engine, ada, MATH_ID, "Nice bound on $\\alpha$.", None)
        run_index(engine=engine, root=settings.index_dir, embedder=None)
    finally:
        engine.dispose()
    return [str(r.arxiv_id) for r in hf], token


@contextlib.contextmanager
def serve(request: pytest.FixtureRequest, folder: Path, backend: str) -> Iterator[HfSite]:
    """The filled site on a live uvicorn server; its base URL is the server's own."""
    with fresh_database(request, folder, backend, "hf") as url, empty_arxiv() as arxiv:
        settings = Settings(
            data_dir=folder / "data",
            database_url=url,
            semantic_search=False,
            arxiv_request_interval=0,
            arxiv_api_url=arxiv,
            **{name: "off" for name in Settings.model_fields if name.startswith("rate_limit_")},
        )
        hf_ids, token = fill(settings)
        engine = make_engine(url)
        app = create_app(settings, engine)
        try:
            with LiveServer(app) as server:
                app.state.settings = settings.model_copy(update={"base_url": server.url})
                yield HfSite(server.url, hf_ids, token)
        finally:
            engine.dispose()
