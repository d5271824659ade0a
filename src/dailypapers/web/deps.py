"""Request-scoped dependencies: the database connection and the settings."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy import Connection, Engine

from dailypapers.settings import Settings


def get_engine(request: Request) -> Engine:
    """The application's engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_conn(request: Request) -> Iterator[Connection]:
    """A read connection for the duration of one request."""
    with get_engine(request).connect() as conn:
        yield conn
