"""Logging for every process (``serve``, its workers, ``jobs`` and the other commands): one
handler on standard error, readable text or one JSON object per line, level by setting.

The request id of the HTTP request being answered (``X-Request-ID``, see
``web/observability.py``) is kept in a context variable and added to every line logged while
answering it, whichever logger writes the line.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import time
import weakref
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
ACCESS_LOGGER = "dailypapers.access"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        rid = getattr(record, "request_id", None) or request_id.get()
        fields = {name: record.__dict__[name] for name in FIELDS if name in record.__dict__}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return self._line(
            record.created, record.levelname, record.name, record.getMessage(), rid, fields
        )

    def access_line(self, created: float, message: str, rid: str, fields: dict[str, Any]) -> str:
        """What ``format`` writes for an access record with these values."""
        return self._line(created, "INFO", ACCESS_LOGGER, message, rid, fields)

    @staticmethod
    def _line(
        created: float, level: str, name: str, message: str, rid: str, fields: dict[str, Any]
    ) -> str:
        when = dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")
        entry = {"time": when, "level": level, "logger": name, "message": message}
        if rid:
            entry["request_id"] = rid
        entry.update(fields)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [request id]``, the traceback on the following lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second: tuple[int, str] = (-1, "")  # the last second and its text

    def format(self, record: logging.LogRecord) -> str:
        """The record as readable text."""
        rid = getattr(record, "request_id", None) or request_id.get()
        return _with_id(super().format(record), rid)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """``2026-11-29 15:52:55,703`` (local time), as logging's default."""
        return self._asctime(record.created)

    def access_line(self, created: float, message: str, rid: str, fields: dict[str, Any]) -> str:
        """What ``format`` writes for an access record with these values."""
        return _with_id(f"{self._asctime(created)} INFO {ACCESS_LOGGER}: {message}", rid)

    def _asctime(self, created: float) -> str:
        second = int(created)
        if second != self._second[0]:  # strftime once a second, not once a line
            self._second = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
        return f"{self._second[1]},{int((created - second) * 1000):03d}"


def _with_id(line: str, rid: str) -> str:
    """A one-line record ends with its request id (a traceback's lines are left alone)."""
    return f"{line} [{rid}]" if rid and "\n" not in line else line


# Access lines are written in batches: one write per line cost a cached page more than
# everything else the site does for it (bench/http.py). A batch stays within PIPE_BUF, the
# size up to which a write to a pipe is never interleaved with another process's (the workers
# of `serve` share one standard error), and waits at most BATCH_SECONDS (like nginx's
# ``access_log ... buffer= flush=``); any other record first writes out the waiting lines.
PIPE_BUF = 4096
BATCH_SECONDS = 0.2


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is written (not when created),
    access lines in batches."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: list[str] = []
        self._waiting_bytes = 0
        self._flusher_pid = 0  # the process whose flusher thread runs (none after a fork)
        self._closed = threading.Event()
        _BATCHING.add(self)

    @property
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        """Queue an access line; write any other record at once, after the queued lines."""
        if record.name != ACCESS_LOGGER:
            self._write_waiting()
            super().emit(record)
            return
        try:
            line = self.format(record)
        except Exception:  # logging reports its own failures (handleError)
            self.handleError(record)
            return
        self.queue_line(line)

    def queue_line(self, line: str) -> None:
        """Queue one access line, written within ``BATCH_SECONDS``."""
        line += self.terminator
        size = len(line.encode("utf-8", "replace"))
        self.acquire()  # re-entrant: ``handle`` holds it when ``emit`` gets here
        try:
            if self._waiting_bytes + size > PIPE_BUF:
                self._write_waiting()
            self._waiting.append(line)
            self._waiting_bytes += size
            if self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                flusher = threading.Thread(
                    target=self._flush_periodically, name="log-flush", daemon=True
                )
                flusher.start()
        finally:
            self.release()

    def flush(self) -> None:
        """Write the queued lines and flush the stream."""
        self.acquire()
        try:
            self._write_waiting()
        finally:
            self.release()
        super().flush()

    def close(self) -> None:
        """Write what waits and stop the flusher."""
        self.flush()
        self._closed.set()
        super().close()

    def _write_waiting(self) -> None:
        if not self._waiting:
            return
        text = "".join(self._waiting)
        self._waiting.clear()
        self._waiting_bytes = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # a closed or full stream must not fail a request
            self.handleError(logging.makeLogRecord({"msg": text[:200]}))

    def _flush_periodically(self) -> None:
        while not self._closed.wait(BATCH_SECONDS):
            if self._waiting:
                self.flush()

    def _forget_after_fork(self) -> None:
        # The parent writes what it had queued; the child has no flusher thread yet.
        self._waiting.clear()
        self._waiting_bytes = 0
        self._flusher_pid = 0


_ACCESS = logging.getLogger(ACCESS_LOGGER)


def access_writer() -> tuple[_StderrHandler, JsonFormatter | TextFormatter] | None:
    """The handler and formatter that write access lines, when they are the only place an
    access record would go (the set-up ``configure_logging`` makes); None otherwise (another
    handler or a filter is attached, as in tests): then log the record through ``logging``.

    ``web/observability.py`` then formats the line itself, without a ``LogRecord``: a third of
    what a cached page cost the site (the line is the same; tests/deploy/test_observability.py).
    """
    access = _ACCESS  # looked up once: getLogger takes logging's module lock on every call
    if access.handlers or access.filters or not access.propagate:
        return None
    handlers = logging.root.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if not isinstance(handler, _StderrHandler) or handler.filters or handler.level > logging.INFO:
        return None
    formatter = handler.formatter
    if not isinstance(formatter, JsonFormatter | TextFormatter):
        return None
    return handler, formatter


_BATCHING: weakref.WeakSet[_StderrHandler] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handler in list(_BATCHING):
        handler._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def configure_logging(*, level: str, fmt: str) -> None:
    """Send every logger's records at ``level`` or above to standard error in ``fmt``.

    Idempotent: a second call replaces the handler the first one installed (and nothing else).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
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
