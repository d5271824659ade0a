"""``dailypapers user`` and ``dailypapers token``: accounts and API tokens for operators."""

from __future__ import annotations

import click

from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.community import accounts as account_actions
from dailypapers.community.accounts import AccountError
from dailypapers.storage import accounts
from dailypapers.storage.engine import write_transaction


@click.group()
def user() -> None:
    """Manage user accounts."""


@user.command("create")
@click.argument("email")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 chars."
)
@click.option("--admin", is_flag=True, help="Make the user a moderator (admin page, bans).")
@click.option("--username", default="", help="Username (default: from the email address).")
@pass_context
@one_line_errors
def create(ctx: Context, email: str, password: str, admin: bool, username: str) -> None:
    """Create a verified account (no confirmation email is sent)."""
    try:
        with write_transaction(ctx.engine) as conn:  # reads, then writes
            row = account_actions.create_user(
                conn, email=email, password=password, admin=admin, username=username
            )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    role = "admin" if admin else "user"
    click.echo(f"created {role} {row['username']} <{row['email']}> (id {row['id']})")


@user.command("list")
@pass_context
@one_line_errors
def list_users(ctx: Context) -> None:
    """List accounts: id, username, email, flags."""
    from sqlalchemy import select

    from dailypapers.storage.schema import users

    with ctx.engine.connect() as conn:
        rows = conn.execute(select(*accounts.USER_COLUMNS).order_by(users.c.id)).mappings().all()
    for row in rows:
        flags = [
            name
            for name, on in (
                ("admin", row["is_admin"]),
                ("unverified", row["email_verified_at"] is None),
                ("banned", row["banned_at"] is not None),
            )
            if on
        ]
        click.echo(f"{row['id']}\t{row['username']}\t{row['email']}\t{','.join(flags)}")


@click.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option(
    "--expires-days",
    type=click.IntRange(0, account_actions.MAX_TOKEN_DAYS),
    default=0,
    show_default=True,
    help="Refuse the token after this many days (0: valid until revoked).",
)
@pass_context
@one_line_errors
def create_token(ctx: Context, email: str, name: str, expires_days: int) -> None:
    """Print a new API token for the user with EMAIL (it is stored hashed; save it now).
    Changing or resetting the user's password revokes it."""
    try:
        address = account_actions.normalize_email(email)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    with write_transaction(ctx.engine) as conn:  # reads, then writes
        row = accounts.user_by_email(conn=conn, email=address)
        if row is None:
            raise click.ClickException(f"no user with email {address}")
        if row["banned_at"] is not None:
            raise click.ClickException(f"{address} is banned")
        try:
            value = account_actions.create_api_token(
                conn, user_id=row["id"], name=name, days=expires_days
            )
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(value)
