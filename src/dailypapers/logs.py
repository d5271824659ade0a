"""Logging for every process (``serve``, its workers, ``jobs`` and the other commands): one
handler on standard error, readable text or one JSON object per line, level by setting.

The request id of the HTTP request being answered (``X-Request-ID``, see
``web/observability.py``) is kept in a context variable and added to every line logged while
answering it, whichever logger writes the line.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
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
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not when created)."""

    @property
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


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
