"""Temporary failures of the database or the disk: a clear 503 page or JSON (with
``Retry-After``) instead of a 500, and what ``/health`` says about storage.

A write refused for lack of space (SQLite's "database or disk is full", PostgreSQL's
disk_full, ``ENOSPC``) rolls back whole, so nothing half-written is left: the visitor is told
nothing was saved, and the failure is remembered for ``/health``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine

from dailypapers.storage.failures import UNAVAILABLE, storage_full
from dailypapers.web.render import page, wants_json

# A failure this recent makes /health say "full" even when space came back since.
RECENT_SECONDS = 60.0
# Less free space than this on the data or database volume counts as full.
FULL_BELOW_BYTES = 1 << 20
FULL_MESSAGE = (
    "The site cannot save anything right now: its storage is full. Nothing you sent was "
    "saved; please try again later."
)
DOWN_MESSAGE = "The database is not answering right now. Please try again in a moment."

log = logging.getLogger(__name__)


class StorageAlarm:
    """The last write refused for lack of space in this process, and free space."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self._lock = threading.Lock()
        self._last: tuple[float, str] | None = None

    def record(self, exc: BaseException) -> None:
        """Remember a refused write."""
        with self._lock:
            self._last = (time.time(), str(exc).splitlines()[0][:200] if str(exc) else "full")

    def free_bytes(self) -> int | None:
        """Least free space among the data and database volumes (None when unknown)."""
        free = []
        for path in self.paths:
            while not path.exists() and path != path.parent:
                path = path.parent
            try:
                free.append(shutil.disk_usage(path).free)
            except OSError:
                continue
        return min(free) if free else None

    def status(self) -> dict[str, Any]:
        """``{"state": "ok" | "full", "free_bytes": ..., "last_full_error": ...}``."""
        free = self.free_bytes()
        with self._lock:
            last = self._last
        ago = time.time() - last[0] if last else None
        full = (free is not None and free < FULL_BELOW_BYTES) or (
            ago is not None and ago < RECENT_SECONDS
        )
        status: dict[str, Any] = {"state": "full" if full else "ok", "free_bytes": free}
        if last is not None and ago is not None:
            status["last_full_error"] = {"seconds_ago": int(ago), "error": last[1]}
        return status


def _answer(request: Request, title: str, message: str, retry_after: int) -> Response:
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=503, headers=headers)
    try:
        response: Response = page(request, "notice.html", {"title": title, "message": message}, 503)
    except Exception:  # the page itself needs the database (the visitor's session)
        response = HTMLResponse(
            f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>", 503
        )
    response.headers.update(headers)
    return response


def on_database_error(request: Request, exc: Exception) -> Response:
    """503 for a database that is full, down, locked past its timeout or out of connections."""
    if storage_full(exc):
        request.app.state.storage_alarm.record(exc)
        log.error("write refused, storage full: %s", exc)
        return _answer(request, "Storage full", FULL_MESSAGE, 60)
    log.error("database unavailable: %s", exc)
    return _answer(request, "Database unavailable", DOWN_MESSAGE, 10)


def on_os_error(request: Request, exc: Exception) -> Response:
    """503 for a file write refused for lack of space; other OS errors stay errors."""
    if not storage_full(exc):
        raise exc
    request.app.state.storage_alarm.record(exc)
    log.error("write refused, storage full: %s", exc)
    return _answer(request, "Storage full", FULL_MESSAGE, 60)


def install(app: FastAPI, *, data_dir: Path, engine: Engine) -> None:
    """Register the 503 handlers and the storage alarm ``/health`` reads."""
    paths = [data_dir]
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        paths.append(Path(database).resolve().parent)
    app.state.storage_alarm = StorageAlarm(paths)
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, on_database_error)
    app.add_exception_handler(OSError, on_os_error)
