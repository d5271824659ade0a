"""Entry point and shared plumbing: settings, engine, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dailypapers import __version__
from dailypapers.records import SourceError
from dailypapers.settings import Settings
from dailypapers.storage.engine import engine_from_settings
from dailypapers.storage.migrate import upgrade

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Settings and a lazily created engine shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None
        self._migrated = False

    @property
    def settings(self) -> Settings:
        """Settings from the environment."""
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "settings"
                raise click.ClickException(f"invalid setting {field}: {first['msg']}") from None
        return self._settings

    @property
    def plain_engine(self) -> Engine:
        """The database engine as it is (no migration)."""
        if self._engine is None:
            self._engine = engine_from_settings(self.settings)
        return self._engine

    @property
    def engine(self) -> Engine:
        """The database engine, migrated to the latest schema."""
        engine = self.plain_engine
        if not self._migrated:
            upgrade(engine)
            self._migrated = True
        return engine

    def close(self) -> None:
        """Release database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_context = click.make_pass_decorator(Context, ensure=True)


def one_line_errors(func: F) -> F:
    """Turn expected failures into one clear line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SourceError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            message = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).splitlines()[0]
            raise click.ClickException(f"database error: {message}") from None
        except OSError as exc:
            raise click.ClickException(
                f"{exc.strerror or exc}: {exc.filename or ''}".strip()
            ) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dailypapers")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """dailypapers: a self-hostable hub for research papers.

    Settings come from DAILYPAPERS_* environment variables (see docs/settings.md).
    """
    state = ctx.ensure_object(Context)
    ctx.call_on_close(state.close)


def _register() -> None:
    from dailypapers.cli import db, ingest, search, serve

    cli.add_command(db.db)
    cli.add_command(ingest.ingest)
    cli.add_command(ingest.export)
    cli.add_command(serve.serve)
    cli.add_command(serve.demo)
    cli.add_command(search.index)
    cli.add_command(search.search)
    from dailypapers.cli import users

    cli.add_command(users.user)
    cli.add_command(users.token)

    from dailypapers.cli import digest

    cli.add_command(digest.digest)
    cli.add_command(digest.subscriber)


_register()


def main() -> None:
    """Run the command line (console script entry point)."""
    sys.exit(cli.main(prog_name="dailypapers", standalone_mode=True))
