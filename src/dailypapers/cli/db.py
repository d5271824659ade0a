"""``dailypapers db``: migrations."""

from __future__ import annotations

import click

from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.storage import migrate


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@pass_context
@one_line_errors
def upgrade(ctx: Context) -> None:
    """Apply pending migrations (a no-op when the schema is current)."""
    engine = ctx.plain_engine
    before, after = migrate.upgrade(engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@db.command("current")
@pass_context
@one_line_errors
def current(ctx: Context) -> None:
    """Show the schema revision of the database and of the code."""
    engine = ctx.plain_engine
    click.echo(f"database: {migrate.current_revision(engine) or 'empty'}")
    click.echo(f"code:     {migrate.head_revision()}")
