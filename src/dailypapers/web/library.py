"""Importing a library on the web: the upload form, and a progress page that refreshes
itself until the import is done, then lists what matched and what did not.

The upload is stored and parsed in the background (``library/imports.py``), so the POST
answers at once whatever the file's size. Uploads are bounded (``import_max_kb``: a larger
body is refused with 413 before it is read), rate limited per user (``rate_limit_import``),
and a user has at most ``MAX_ACTIVE`` imports waiting or running.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import RowMapping

from dailypapers.community.actions import require_active
from dailypapers.community.errors import ActionError
from dailypapers.library.imports import MAX_ACTIVE, ImportWorker, start_import
from dailypapers.storage import library, lists
from dailypapers.storage.engine import write_transaction
from dailypapers.web.accounts import Csrf, login_required, redirect
from dailypapers.web.auth import check_csrf, current_user, limit
from dailypapers.web.deps import connect
from dailypapers.web.params import PathId
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)
STALE = dt.timedelta(minutes=2)  # an import queued or running unmoved this long lost its worker


@dataclass(slots=True, frozen=True)
class Imported:
    """An import of the visitor's, its entries and the list it filled."""

    row: RowMapping
    entries: list[RowMapping]
    target: RowMapping | None


_WORKER_LOCK = threading.Lock()


def worker(request: Request) -> ImportWorker:
    """The process's import worker (tests put one of their own on ``app.state``)."""
    with _WORKER_LOCK:
        found: ImportWorker | None = getattr(request.app.state, "library_worker", None)
        if found is None:
            found = ImportWorker(request.app.state.engine)
            request.app.state.library_worker = found
    return found


def _form(request: Request, status: int = 200, error: str | None = None) -> Response:
    limit_kb = request.app.state.settings.import_max_kb
    context = {"title": "Import your library", "error": error, "limit_mb": limit_kb / 1024}
    return page(request, "library_import.html", context, status)


@router.get("/lists/import")
def import_form(request: Request) -> Response:
    """The upload form."""
    if current_user(request) is None:
        return login_required(request)
    return _form(request)


@router.post("/lists/import")
def upload(
    request: Request, csrf_token: Csrf = "", file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Store an uploaded library and start importing it; on to its progress page."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    require_active(user)
    limit(request, "import", f"user:{user['id']}")
    if file is None or not file.filename:
        return _form(request, 422, "Choose a file to upload.")
    payload = file.file.read()
    if not payload.strip():
        return _form(request, 422, "This file is empty.")
    engine = request.app.state.engine
    with connect(request) as conn:
        if library.active_imports(conn=conn, user_id=user["id"]) >= MAX_ACTIVE:
            raise ActionError("Wait for your imports in progress to finish first.", 429)
    import_id = start_import(
        engine, user_id=user["id"], filename=file.filename.replace("\n", " "), payload=payload
    )
    worker(request).submit(import_id)
    return redirect(f"/lists/imports/{import_id}")


def _resume_stale(request: Request, user_id: int) -> None:
    """Hand imports that have not moved for ``STALE`` (their server stopped before or while
    running them) to this worker."""
    before = dt.datetime.now(dt.UTC) - STALE
    with connect(request) as conn:
        stale = library.stale_imports(conn=conn, user_id=user_id, before=before)
    for import_id in stale:
        worker(request).submit(import_id, stale_before=before)


def _import(request: Request, import_id: int) -> Imported | Response:
    user = current_user(request)
    if user is None:
        return login_required(request)
    with connect(request) as conn:
        row = library.get_import(conn=conn, import_id=import_id)
        if row is None or row["user_id"] != user["id"]:
            raise ActionError("No import of yours here.", 404)
        entries = library.import_entries(conn=conn, import_id=import_id)
        target = lists.list_by_id(conn=conn, list_id=row["list_id"]) if row["list_id"] else None
    return Imported(row, entries, target)


@router.get("/lists/imports/{import_id}.json")
def progress_json(request: Request, import_id: PathId) -> Response:
    """An import's progress as JSON (what a script polls)."""
    found = _import(request, import_id)
    if isinstance(found, Response):
        return found
    keys = ("id", "filename", "format", "status", "total", "processed", "matched", "error")
    body = {key: found.row[key] for key in keys}
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


@router.get("/lists/imports/{import_id}")
def progress(request: Request, import_id: PathId) -> Response:
    """An import's progress (refreshing every few seconds while it runs), then its report."""
    found = _import(request, import_id)
    if isinstance(found, Response):
        return found
    if found.row["status"] in library.ACTIVE:
        _resume_stale(request, found.row["user_id"])
    context = {
        "title": "Library import",
        "imp": found.row,
        "target": found.target,
        "matched": [e for e in found.entries if e["paper_id"]],
        "unmatched": [e for e in found.entries if not e["paper_id"]],
        "running": found.row["status"] in library.ACTIVE,
    }
    return page(request, "library_progress.html", context)


@router.post("/lists/imports/{import_id}/delete")
def forget(request: Request, import_id: PathId, csrf_token: Csrf = "") -> Response:
    """Forget an import's library (the list it filled stays)."""
    check_csrf(request, csrf_token)
    found = _import(request, import_id)
    if isinstance(found, Response):
        return found
    with write_transaction(request.app.state.engine) as conn:
        library.delete_import(conn=conn, import_id=import_id)
    return redirect("/lists?forgotten=1")
