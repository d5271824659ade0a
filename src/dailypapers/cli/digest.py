"""``dailypapers digest`` (send, preview) and ``dailypapers subscriber`` (add, list)."""

from __future__ import annotations

import datetime as dt

import click

from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.email import subscribers
from dailypapers.email.preview import next_digest
from dailypapers.email.render import preview_html, render
from dailypapers.email.send import run
from dailypapers.email.subscribers import SubscriptionError
from dailypapers.storage import subscriptions as repo

period_option = click.option(
    "--period", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True
)
date_option = click.option(
    "--date",
    "date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Build the digest as of this day (UTC; default today), for catch-up and re-sends.",
)


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.datetime.now(dt.UTC).date()


@click.group()
def digest() -> None:
    """Email digests of trending papers (see docs/email.md)."""


@digest.command("send")
@period_option
@date_option
@click.option("--dry-run", is_flag=True, help="Build the digests and report; send nothing.")
@click.option(
    "--resend-stuck",
    is_flag=True,
    help="Also send to subscribers whose delivery was left 'sending' by an interrupted run "
    "(they may get the digest twice; check the SMTP log first).",
)
@pass_context
@one_line_errors
def digest_send(
    ctx: Context, period: str, date: dt.datetime | None, dry_run: bool, resend_stuck: bool
) -> None:
    """Send the digest to every active subscriber of PERIOD, at most once each (for cron)."""
    report = run(
        ctx.engine,
        ctx.settings,
        period=period,
        date=_day(date),
        dry_run=dry_run,
        resend_stuck=resend_stuck,
    )
    for line in report.errors[:20]:
        click.echo(f"failed {line}", err=True)
    click.echo(("dry run: " if dry_run else "") + report.summary())
    if report.failed:
        raise SystemExit(1)


@digest.command("preview")
@click.argument("email")
@date_option
@click.option("--html", "as_html", is_flag=True, help="Print the HTML body instead of the text.")
@pass_context
@one_line_errors
def digest_preview(ctx: Context, email: str, date: dt.datetime | None, as_html: bool) -> None:
    """Print the next digest of the subscriber EMAIL."""
    try:
        address = subscribers.check_email(email)
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from None
    with ctx.engine.connect() as conn:
        sub = repo.by_email(conn=conn, email=address)
    if sub is None:
        raise click.ClickException(f"no subscriber {address}")
    content = next_digest(ctx.engine, sub, date=_day(date))
    if content.empty:
        click.echo("(empty: this digest would not be sent)")
        return
    if as_html:
        click.echo(preview_html(ctx.settings, content, sub))
    else:
        click.echo(render(ctx.settings, content).text)


@click.group()
def subscriber() -> None:
    """Digest subscribers, for operators."""


@subscriber.command("add")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Active at once (no confirmation link).")
@period_option
@pass_context
@one_line_errors
def subscriber_add(ctx: Context, email: str, confirmed: bool, period: str) -> None:
    """Subscribe EMAIL (pending until confirmed unless --confirmed)."""
    try:
        prefs = subscribers.preferences(
            period=period, trending_count=ctx.settings.digest_trending_default
        )
        row = subscribers.add(
            ctx.engine, email=email, confirmed=confirmed, prefs=prefs, settings=ctx.settings
        )
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{row['email']}: {row['status']}, {row['period']}")


@subscriber.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "suspended"]))
@pass_context
@one_line_errors
def subscriber_list(ctx: Context, status: str | None) -> None:
    """List subscribers: email, status, period, trending count, follows."""
    with ctx.engine.connect() as conn:
        rows = repo.list_all(conn=conn, status=status)
    for row in rows:
        follows = ", ".join([*row["categories"], *row["keywords"], *row["authors"]])
        click.echo(
            f"{row['email']}\t{row['status']}\t{row['period']}\t{row['trending_count']}"
            + (f"\t{follows}" if follows else "")
        )
    click.echo(f"{len(rows)} subscriber{'' if len(rows) == 1 else 's'}", err=True)
