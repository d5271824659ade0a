"""The API's JSON bodies (written by orjson, api/responses.py) are exactly what each route's
response model would write: same fields, same order, same bytes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import Engine

from dailypapers.api import shapes
from dailypapers.ingest.pipeline import run_ingest
from tests.core.helpers import raw


def _same_as_model(body: bytes, model: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    assert adapter.dump_json(adapter.validate_json(body), by_alias=True) == body


def test_api_bodies_are_what_their_models_write(client: TestClient, engine: Engine) -> None:
    records = [
        raw("2606.00001", day="2026-06-01", title="Énergie $\\alpha$-stable — “quoted” 数学"),
        raw("2606.00002", day="2026-06-01", authors=["A. B.", "Ł. Ż."]),
        raw("2606.00003", day="2026-06-01", categories=["cs.CL"]),
    ]
    run_ingest(engine=engine, source="t", params={}, records=lambda _: records, explicit_days=True)
    checks: list[tuple[str, Any]] = [
        ("/api/daily_papers?date=2026-06-01", list[shapes.DailyEntryOut]),
        ("/api/daily_papers?month=2026-06&sort=trending", list[shapes.DailyEntryOut]),
        ("/api/daily_papers?date=2020-01-01", list[shapes.DailyEntryOut]),
        ("/api/papers/2606.00001", shapes.PaperOut),
        ("/api/papers/2606.00002v3", shapes.PaperOut),
    ]
    for path, model in checks:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        _same_as_model(response.content, model)
    assert len(client.get("/api/daily_papers?date=2026-06-01").json()) == 3


def test_timestamps_and_author_ids_keep_their_form() -> None:
    """HF's timestamp form from every kind of datetime (aware UTC from the database, naive,
    another offset; milliseconds truncated), and author ids that are sha256 of 'author',
    the paper and the position (stable across releases: clients keep them)."""
    import datetime as dt
    import hashlib

    from dailypapers.api.shapes import _author_items, _hex_id, _hex_ids
    from dailypapers.timefmt import hf_time

    assert hf_time(dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)) == (
        "2025-01-02T03:04:05.678Z"
    )
    assert hf_time(dt.datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05.000Z"
    minus3 = dt.timezone(dt.timedelta(hours=-3))
    assert hf_time(dt.datetime(2025, 1, 2, 23, 0, 0, 999, tzinfo=minus3)) == (
        "2025-01-03T02:00:00.000Z"
    )
    assert hf_time(None) is None
    names = ["Ada Lovelace", "Émilie du Châtelet"] + [f"Author {n}" for n in range(11)]
    items = _author_items("2501.00001", names)
    assert [i["name"] for i in items] == names and not any(i["hidden"] for i in items)
    assert items[0]["_id"] == hashlib.sha256(b"author\x002501.00001\x000").hexdigest()[:24]
    assert items[12]["_id"] == hashlib.sha256(b"author\x002501.00001\x0012").hexdigest()[:24]
    assert len({i["_id"] for i in items}) == len(names)
    lasts = ["b", "", "é", "12"]
    assert _hex_ids("a", "", last=lasts) == [_hex_id("a", "", x) for x in lasts]
