"""Probes for orchestrators and monitoring: ``/livez``, ``/readyz`` and Prometheus ``/metrics``.

- ``/livez``: the process answers (no database, no files): restart the container when not.
- ``/readyz``: 200 when the database answers, the search index opens and (with semantic
  search) the model is loaded; otherwise 503 with what is missing. The first probe starts
  loading the model in the background, so the probe itself never waits for it.
- ``/metrics``: off (404) unless ``metrics_token`` is set; then only with
  ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import functools
import hmac
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dailypapers.queries.search import Searcher
from dailypapers.storage.metrics import delivery_counts, ingest_run_counts, last_day_runs
from dailypapers.storage.migrate import current_revision, head_revision, known_revisions
from dailypapers.web.observability import Metrics, gauge

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


class ModelWarmth:
    """Loads the embedding model once, in a background thread, and says how far it got."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.state = "off" if searcher.embedder is None else "not loaded"
        self._lock = threading.Lock()

    def check(self) -> str:
        """``ok``, ``off``, ``loading`` or ``failed: ...``; starts the load the first time."""
        with self._lock:
            if self.state == "not loaded":
                self.state = "loading"
                threading.Thread(target=self._load, daemon=True, name="model-warmup").start()
            return self.state

    def _load(self) -> None:
        try:
            self.searcher.warm_up()
        except Exception as exc:  # reported by /readyz; a search will say so too
            self.state = f"failed: {str(exc)[:200]}"
        else:
            self.state = "ok"


@router.get("/livez")
async def livez() -> Response:
    """200 while the process answers requests."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
def readyz(request: Request) -> Response:
    """200 when the database, the search index and the model are ready; else 503 and why."""
    state = request.app.state
    checks: dict[str, Any] = {}
    try:
        checks["database"] = _schema_state(current_revision(state.engine))
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"error: {(str(exc).splitlines() or [repr(exc)])[0][:200]}"
    index = state.searcher.store.status()
    # A damaged newest build still serves the previous one: searches work, so it is ready.
    checks["index"] = "ok" if index.serving else f"{index.state}: {index.problem or 'no build'}"
    checks["model"] = state.model_warmth.check()
    missing = [name for name, value in checks.items() if value not in ("ok", "off")]
    body = {"status": "not ready" if missing else "ready", "missing": missing, "checks": checks}
    return JSONResponse(body, status_code=503 if missing else 200, headers=NO_STORE)


@functools.cache
def _revisions() -> tuple[str, frozenset[str]]:
    return head_revision(), known_revisions()


def _schema_state(current: str | None) -> str:
    """``ok`` when the schema is the code's (or newer: a rolling upgrade migrated it already)."""
    head, known = _revisions()
    if current is None:
        return "not migrated: run `dailypapers db upgrade`"
    if current != head and current in known:
        return f"schema {current} is older than {head}: run `dailypapers db upgrade`"
    return "ok"


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this worker's request metrics and the site's state."""
    state = request.app.state
    token: str = state.settings.metrics_token
    if not token:
        return JSONResponse({"error": "Not found"}, status_code=404)
    if not _authorized(request, token):
        return JSONResponse(
            {"error": "metrics need Authorization: Bearer <metrics_token>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry: Metrics = state.metrics
    parts = [registry.render(), _index_metrics(state.searcher, state.follower.state.delta_papers)]
    try:
        with state.engine.connect() as conn:
            runs = ingest_run_counts(conn=conn)
            deliveries = delivery_counts(conn=conn)
            day_runs = last_day_runs(conn=conn)
    except Exception:  # the database is down: the request metrics still answer
        parts.append(gauge("dailypapers_database_up", "Whether the database answered.", [({}, 0)]))
    else:
        parts.append(gauge("dailypapers_database_up", "Whether the database answered.", [({}, 1)]))
        parts.append(
            gauge(
                "dailypapers_ingest_runs",
                "Ingest runs recorded in the database, by source and status.",
                [({"source": r.source, "status": r.status}, r.runs) for r in runs],
            )
        )
        parts.append(
            gauge(
                "dailypapers_ingest_last_finished_timestamp_seconds",
                "When the latest ingest run of a source ended in a status (Unix time).",
                [
                    ({"source": r.source, "status": r.status}, r.last_finished.timestamp())
                    for r in runs
                    if r.last_finished is not None
                ],
            )
        )
        parts.append(
            gauge(
                "dailypapers_jobs_last_finished_timestamp_seconds",
                "When the latest daily run finished (Unix time), by runner: jobs or schedule.",
                [({"runner": kind}, when.timestamp()) for kind, when in sorted(day_runs.items())],
            )
        )
        parts.append(
            gauge(
                "dailypapers_digest_deliveries",
                "Digest deliveries recorded in the database, by period and status.",
                [({"period": p, "status": s}, n) for (p, s), n in sorted(deliveries.items())],
            )
        )
    return PlainTextResponse(
        "\n".join(parts) + "\n",
        media_type="text/plain; version=0.0.4; charset=utf-8",
        headers=NO_STORE,
    )


def _index_metrics(searcher: Searcher, delta_papers: int) -> str:
    status = searcher.store.status()
    lines = [
        gauge(
            "dailypapers_index_up",
            "Whether a search index build is being served.",
            [({"state": status.state}, 1 if status.serving else 0)],
        )
    ]
    if status.papers is not None:
        lines.append(
            gauge("dailypapers_index_papers", "Papers in the served index.", [({}, status.papers)])
        )
    lines.append(
        gauge(
            "dailypapers_index_delta_papers",
            "Papers changed since the served index was built (searched through the live delta).",
            [({}, delta_papers)],
        )
    )
    if status.age_seconds is not None:
        lines.append(
            gauge(
                "dailypapers_index_age_seconds",
                "Seconds since the served index was built.",
                [({}, status.age_seconds)],
            )
        )
    return "\n".join(lines)
