"""``dailypapers ingest ...`` (one command per source) and ``dailypapers export``."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.export import write_export
from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.ingest.pipeline import FeatureRule, IngestReport, run_ingest
from dailypapers.records import RawPaper
from dailypapers.sources import arxiv_api, hf_daily, oai, rss, snapshot
from dailypapers.sources.categories import unknown_category
from dailypapers.sources.http import Fetcher
from dailypapers.sources.jsonl import read_jsonl
from dailypapers.storage import runs

DATE = click.DateTime(formats=["%Y-%m-%d"])
OAI_SET = re.compile(r"^[a-z][a-z-]*(?::[a-z][a-z-]*)?$")


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _check_window(first: dt.date | None, last: dt.date | None, names: str) -> None:
    """Refuse a reversed date window before anything is fetched."""
    if first is not None and last is not None and first > last:
        raise click.UsageError(f"the date window is reversed: {names} ({first} > {last})")


def _check_categories(categories: Iterable[str]) -> None:
    """Refuse a category arXiv does not have before anything is fetched."""
    for name in categories:
        if (reason := unknown_category(name)) is not None:
            raise click.UsageError(reason)


def _check_ids(ids: Iterable[str]) -> list[str]:
    """The ids without version or URL prefix; refuses a malformed one before any fetch."""
    try:
        return [parse_arxiv_id(value)[0] for value in ids]
    except Rejected as exc:
        raise click.UsageError(f"{exc} (like 2410.17243 or hep-th/9901001)") from None


def _file_key(path: Path) -> dict[str, Any]:
    """Identify a file by path, size and mtime so a changed file is not resumed mid-way."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)}


def _run(
    ctx: Context,
    source: str,
    params: dict[str, Any],
    records: Callable[[str | None], Iterable[RawPaper]],
    *,
    feature: bool = True,
    explicit_days: bool = False,
    restart: bool = False,
) -> IngestReport:
    settings = ctx.settings
    if restart:
        params = {**params, "restart": dt.datetime.now(dt.UTC).isoformat()}
    rule = (
        FeatureRule(frozenset(settings.feed_categories), settings.feed_cross_lists)
        if feature
        else None
    )
    report = run_ingest(
        engine=ctx.engine,
        source=source,
        params=params,
        records=records,
        rule=rule,
        explicit_days=explicit_days,
        batch_size=settings.ingest_batch_size,
    )
    for ref, reason in report.rejects[:20]:
        click.echo(f"rejected {ref}: {reason}", err=True)
    if report.rejected > 20:
        click.echo(f"... and {report.rejected - 20} more rejected records", err=True)
    click.echo(report.summary())
    if report.rejected and not (report.new or report.updated or report.unchanged):
        # A cron job must be able to tell a garbage file (or feed) from a good one.
        raise click.ClickException(
            f"nothing was accepted: all {report.rejected} records were rejected"
        )
    return report


restart_option = click.option(
    "--restart", is_flag=True, help="Ignore the checkpoint of an unfinished earlier run."
)
feature_option = click.option(
    "--feature/--no-feature",
    default=True,
    show_default=True,
    help="Put newly announced papers of DAILYPAPERS_FEED_CATEGORIES on their day's list.",
)


@click.group()
def ingest() -> None:
    """Load papers from a source into the database (idempotent, resumable).

    Every run prints and stores a report: new / updated / unchanged / rejected.
    """


@ingest.command("arxiv-api")
@click.option(
    "--category", "categories", multiple=True, help="arXiv category, e.g. cs.LG (repeatable)."
)
@click.option("--id", "ids", multiple=True, help="arXiv id (repeatable).")
@click.option("--from", "date_from", type=DATE, help="First submission day (YYYY-MM-DD).")
@click.option("--to", "date_to", type=DATE, help="Last submission day (YYYY-MM-DD).")
@click.option("--query", help="Free arXiv search_query, e.g. 'ti:transformer'.")
@click.option("--max", "max_results", type=click.IntRange(min=1), help="Stop after this many.")
@feature_option
@restart_option
@pass_context
@one_line_errors
def ingest_api(
    ctx: Context,
    categories: tuple[str, ...],
    ids: tuple[str, ...],
    date_from: dt.datetime | None,
    date_to: dt.datetime | None,
    query: str | None,
    max_results: int | None,
    feature: bool,
    restart: bool,
) -> None:
    """Fetch papers from the arXiv API by categories, date window, query or ids."""
    if not (categories or ids or query or date_from or date_to):
        raise click.UsageError("give --category, --id, --query or a --from/--to window")
    _check_categories(categories)
    ids = tuple(_check_ids(ids))
    _check_window(_day(date_from), _day(date_to) or dt.date.today(), "--from is after --to")
    params = {
        "categories": sorted(categories),
        "ids": sorted(ids),
        "from": str(_day(date_from)),
        "to": str(_day(date_to) or dt.date.today()),
        "query": query,
        "max": max_results,
    }
    with Fetcher.from_settings(ctx.settings) as fetcher:
        _run(
            ctx,
            "arxiv-api",
            params,
            lambda resume: arxiv_api.fetch_api(
                fetcher,
                base_url=ctx.settings.arxiv_api_url,
                categories=categories,
                id_list=ids,
                date_from=_day(date_from),
                date_to=_day(date_to),
                query=query,
                max_results=max_results,
                resume=resume,
            ),
            feature=feature,
            restart=restart,
        )


@ingest.command("oai")
@click.option("--from", "date_from", type=DATE, help="Harvest records changed from this day.")
@click.option("--until", "date_until", type=DATE, help="... until this day.")
@click.option("--set", "set_spec", help="OAI set, e.g. cs or physics:hep-th.")
@feature_option
@restart_option
@pass_context
@one_line_errors
def ingest_oai(
    ctx: Context,
    date_from: dt.datetime | None,
    date_until: dt.datetime | None,
    set_spec: str | None,
    feature: bool,
    restart: bool,
) -> None:
    """Backfill through OAI-PMH ListRecords (metadataPrefix arXiv), following resumption tokens."""
    _check_window(_day(date_from), _day(date_until), "--from is after --until")
    if set_spec is not None and not OAI_SET.match(set_spec):
        raise click.UsageError(
            f"not an arXiv OAI set: {set_spec[:80]!r} (like cs or physics:hep-th)"
        )
    params = {"from": str(_day(date_from)), "until": str(_day(date_until)), "set": set_spec}
    with Fetcher.from_settings(ctx.settings) as fetcher:
        _run(
            ctx,
            "oai",
            params,
            lambda resume: oai.fetch_oai(
                fetcher,
                base_url=ctx.settings.arxiv_oai_url,
                date_from=_day(date_from),
                date_until=_day(date_until),
                set_spec=set_spec,
                resume=resume,
            ),
            feature=feature,
            restart=restart,
        )


@ingest.command("rss")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Listing to read (repeatable). Default: DAILYPAPERS_FEED_CATEGORIES.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read a saved feed instead.",
)
@feature_option
@restart_option
@pass_context
@one_line_errors
def ingest_rss(
    ctx: Context, categories: tuple[str, ...], path: Path | None, feature: bool, restart: bool
) -> None:
    """Today's arXiv announcements (new, cross-lists, replacements) from the listing feeds."""
    if path is not None:
        text = path.read_text(encoding="utf-8", errors="replace")
        _run(
            ctx,
            "rss",
            _file_key(path),
            lambda resume: rss.parse_listing(text, resume=resume),
            feature=feature,
            restart=restart,
        )
        return
    cats = list(categories) or ctx.settings.feed_categories
    if not cats:
        raise click.UsageError("give --category or set DAILYPAPERS_FEED_CATEGORIES")
    _check_categories(cats)
    params = {"categories": sorted(cats), "day": dt.date.today().isoformat()}
    with Fetcher.from_settings(ctx.settings) as fetcher:
        _run(
            ctx,
            "rss",
            params,
            lambda resume: rss.fetch_listing(
                fetcher, base_url=ctx.settings.arxiv_rss_url, categories=cats, resume=resume
            ),
            feature=feature,
            restart=restart,
        )


@ingest.command("snapshot")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@feature_option
@restart_option
@pass_context
@one_line_errors
def ingest_snapshot(ctx: Context, path: Path, progress: bool, feature: bool, restart: bool) -> None:
    """The Kaggle arXiv metadata snapshot (JSON lines, plain or .gz), streamed."""
    _run(
        ctx,
        "snapshot",
        _file_key(path),
        lambda resume: snapshot.read_snapshot(path, resume=resume, progress=progress),
        feature=feature,
        restart=restart,
    )


@ingest.command("hf-daily")
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--date", "day", type=DATE, help="Fetch this day from Hugging Face instead of a file."
)
@click.option(
    "--url", default=hf_daily.DEFAULT_URL, show_default=True, help="daily_papers API URL."
)
@restart_option
@pass_context
@one_line_errors
def ingest_hf_daily(
    ctx: Context, path: Path | None, day: dt.datetime | None, url: str, restart: bool
) -> None:
    """Hugging Face /api/daily_papers JSON: keeps each paper's day, upvotes and submitter."""
    if (path is None) == (day is None):
        raise click.UsageError("give either a saved JSON file or --date")
    if path is not None:
        text = path.read_bytes()
        _run(
            ctx,
            "hf-daily",
            _file_key(path),
            lambda resume: hf_daily.parse_hf_daily(text, resume=resume),
            explicit_days=True,
            feature=False,
            restart=restart,
        )
        return
    assert day is not None
    with Fetcher.from_settings(ctx.settings) as fetcher:
        _run(
            ctx,
            "hf-daily",
            {"url": url, "day": day.date().isoformat()},
            lambda resume: hf_daily.fetch_hf_daily(
                fetcher, base_url=url, day=day.date(), resume=resume
            ),
            explicit_days=True,
            feature=False,
            restart=restart,
        )


@ingest.command("jsonl")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@restart_option
@pass_context
@one_line_errors
def ingest_jsonl(ctx: Context, path: Path, restart: bool) -> None:
    """Our own export format (``dailypapers export``): papers, days, submitters, upvotes."""
    _run(
        ctx,
        "jsonl",
        _file_key(path),
        lambda resume: read_jsonl(path, resume=resume),
        explicit_days=True,
        feature=False,
        restart=restart,
    )


@ingest.command("runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@pass_context
@one_line_errors
def ingest_runs(ctx: Context, limit: int) -> None:
    """List recent ingest runs with their reports."""
    with ctx.engine.connect() as conn:
        for run in runs.list_runs(conn=conn, limit=limit):
            click.echo(
                f"{run['id']:>5} {run['source']:<10} {run['status']:<8} "
                f"{run['started_at']:%Y-%m-%d %H:%M} new={run['new']} updated={run['updated']} "
                f"unchanged={run['unchanged']} rejected={run['rejected']} "
                f"featured={run['featured']}" + (f"  error: {run['error']}" if run["error"] else "")
            )


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="File to write (.gz compresses). Default: standard output.",
)
@pass_context
@one_line_errors
def export(ctx: Context, output: Path | None) -> None:
    """Export every paper as JSON lines (read back by ``ingest jsonl``)."""
    count = write_export(ctx.engine, output, None if output else sys.stdout.buffer)
    click.echo(f"exported {count} papers" + (f" to {output}" if output else ""), err=True)
