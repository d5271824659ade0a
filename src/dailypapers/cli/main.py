"""Entry point and shared plumbing: settings, engine, one-line errors."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dailypapers import __version__
from dailypapers.records import SourceError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dailypapers.settings import Settings

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
            from pydantic import ValidationError

            from dailypapers.settings import Settings

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
            from dailypapers.storage.engine import engine_from_settings

            self._engine = engine_from_settings(self.settings)
        return self._engine

    @property
    def engine(self) -> Engine:
        """The database engine, migrated to the latest schema."""
        engine = self.plain_engine
        if not self._migrated:
            from dailypapers.storage.migrate import upgrade

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
        except OSError as exc:
            raise click.ClickException(
                f"{exc.strerror or exc}: {exc.filename or ''}".strip()
            ) from None
        except Exception as exc:
            # Imported here: the commands that reach the database have loaded it already.
            from sqlalchemy.exc import SQLAlchemyError

            from dailypapers.index.embedder import ModelFileError
            from dailypapers.storage.locks import AlreadyRunning

            # A stage another process is running; a damaged model file or a missing engine.
            if isinstance(exc, (AlreadyRunning, ModelFileError)):
                raise click.ClickException(str(exc)) from None
            if not isinstance(exc, SQLAlchemyError):
                raise
            message = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).splitlines()[0]
            raise click.ClickException(f"database error: {message}") from None

    return wrapper  # type: ignore[return-value]


# Each command's module is imported only when that command runs (or --help lists them), so
# ``dailypapers --version`` and light commands do not pay for the web app, search or email.
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("dailypapers.cli.db", "db"),
    "demo": ("dailypapers.cli.serve", "demo"),
    "digest": ("dailypapers.cli.digest", "digest"),
    "export": ("dailypapers.cli.ingest", "export"),
    "index": ("dailypapers.cli.search", "index"),
    "ingest": ("dailypapers.cli.ingest", "ingest"),
    "jobs": ("dailypapers.cli.jobs", "jobs"),
    "search": ("dailypapers.cli.search", "search"),
    "serve": ("dailypapers.cli.serve", "serve"),
    "subscriber": ("dailypapers.cli.digest", "subscriber"),
    "token": ("dailypapers.cli.users", "token"),
    "user": ("dailypapers.cli.users", "user"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dailypapers")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """dailypapers: a self-hostable hub for research papers.

    Settings come from DAILYPAPERS_* environment variables (see docs/settings.md).
    """
    state = ctx.ensure_object(Context)
    ctx.call_on_close(state.close)


def main() -> None:
    """Run the command line (console script entry point)."""
    sys.exit(cli.main(prog_name="dailypapers", standalone_mode=True))
