"""Logging for every process (``serve``, its workers, ``jobs`` and the other commands): one
handler on standard error, readable text or one JSON object per line, level by setting.

The request id of the HTTP request being answered (``X-Request-ID``, see
``web/observability.py``) is kept in a context variable and added to every line logged while
answering it, whichever logger writes the line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import time
from contextvars import ContextVar
from typing import Any

import orjson

request_id: ContextVar[str] = ContextVar("request_id", default="")

# Extra fields (``log.info(..., extra={...})``) copied into JSON lines and text lines.
FIELDS = (
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
    "client",
    "job",
    "outcome",
)
_MARK = "_dailypapers_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        for name in FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [request id]``, the traceback on the following lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as readable text."""
        line = super().format(record)
        rid = getattr(record, "request_id", None) or request_id.get()
        return f"{line} [{rid}]" if rid and "\n" not in line else line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when lines are written (not when created).

    Lines below WARNING (the access log's one per request, above all) are gathered and written
    together: every ``FLUSH_LINES`` lines, or ``FLUSH_SECONDS`` after the first one waiting,
    by a small background thread when nothing else comes. A write and a flush per request cost
    as much as the rest of a cached page's logging. A WARNING or worse is written at once,
    after the lines before it, and so is everything on exit (``logging.shutdown``).
    """

    FLUSH_LINES = 64
    FLUSH_SECONDS = 0.2

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._first_at = 0.0
        self._wake = threading.Event()
        self._flusher_pid = 0

    @property
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted line; write the queue when it is due (called under the lock)."""
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line + "\n")
        now = time.monotonic()
        if len(self._pending) == 1:
            self._first_at = now
        if (
            record.levelno >= logging.WARNING
            or len(self._pending) >= self.FLUSH_LINES
            or now - self._first_at >= self.FLUSH_SECONDS
        ):
            self._write()
        elif len(self._pending) == 1:
            self._start_flusher()
            self._wake.set()

    def flush(self) -> None:
        """Write every waiting line and flush standard error."""
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def _write(self) -> None:
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        # Standard error closed (ValueError) or full (OSError): logging never raises.
        with contextlib.suppress(OSError, ValueError):
            stream = self.stream
            stream.write(text)
            stream.flush()

    def _start_flusher(self) -> None:
        # One thread per process (a forked worker starts its own), asleep until a line waits.
        if self._flusher_pid == os.getpid():
            return
        self._flusher_pid = os.getpid()
        self._wake = threading.Event()
        threading.Thread(target=self._flush_later, name="log-flusher", daemon=True).start()

    def _flush_later(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(self.FLUSH_SECONDS)
            self.flush()


def configure_logging(*, level: str, fmt: str) -> None:
    """Send every logger's records at ``level`` or above to standard error in ``fmt``.

    Idempotent: a second call replaces the handler the first one installed (and nothing else).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    # Uvicorn's own loggers propagate to the root handler instead of printing their own lines.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Except its access lines: the app writes one per request itself (web/observability.py,
    # with route and request id), and uvicorn writes its own whenever this logger reaches a
    # handler, which doubled every request's logging (about a tenth of a cached page's CPU).
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
