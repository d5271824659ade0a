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
