"""``dailypapers index`` and ``dailypapers search``."""

from __future__ import annotations

import json

import click

from dailypapers.api.shapes import daily_entry_json
from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.index.build import run_index
from dailypapers.index.embedder import default_embedder
from dailypapers.index.snapshot import IndexUnavailable, SnapshotStore
from dailypapers.queries.search import Searcher


@click.command("index")
@click.option(
    "--embed/--no-embed",
    default=None,
    help="Embed new and changed papers (default: DAILYPAPERS_SEMANTIC_SEARCH).",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@pass_context
@one_line_errors
def index(ctx: Context, embed: bool | None, progress: bool) -> None:
    """Embed new or changed papers, then rebuild the search index (resumable).

    ``--no-embed`` computes no new vectors but keeps the stored ones in the index.
    """
    settings = ctx.settings
    use_embeddings = settings.semantic_search if embed is None else embed
    # Its key names the stored vectors; the model is loaded only to embed.
    embedder = default_embedder(settings.embedding_engine)
    try:
        report = run_index(
            engine=ctx.engine,
            root=settings.index_dir,
            embedder=embedder if use_embeddings else None,
            batch_size=settings.embed_batch_size,
            progress=progress,
            model=embedder.key,
        )
    except IndexUnavailable as exc:
        raise click.ClickException(
            f"the new search index could not be opened ({exc}); the current one is kept"
        ) from None
    click.echo(report.summary())


@click.command("search")
@click.argument("query")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "keyword", "semantic"]),
    default="hybrid",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's shape).")
@pass_context
@one_line_errors
def search(ctx: Context, query: str, mode: str, limit: int, as_json: bool) -> None:
    """Search the papers, as the site does."""
    settings = ctx.settings
    embedder = (
        default_embedder(settings.embedding_engine)
        if settings.semantic_search and mode != "keyword"
        else None
    )
    searcher = Searcher(SnapshotStore(settings.index_dir), embedder, settings.vector_search)
    with ctx.engine.connect() as conn:
        result = searcher.search(conn=conn, q=query, mode=mode, limit=limit)  # type: ignore[arg-type]
    if result.unavailable is not None:
        raise click.ClickException(f"{result.message} ({result.unavailable})")
    if result.message and not result.hits:
        raise click.ClickException(result.message)
    if as_json:
        base = settings.base_url.rstrip("/")
        items = [{**daily_entry_json(h.row, base=base), "score": h.score} for h in result.hits]
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for rank, hit in enumerate(result.hits, start=1):
        row = hit.row
        authors = ", ".join(row["authors"][:3]) + (" et al." if len(row["authors"]) > 3 else "")
        click.echo(f"{rank:>3}. {row['id']}  {row['title']}")
        click.echo(f"     {authors} · {row['published_at']:%Y-%m-%d} · score {hit.score:.3f}")
    click.echo(f"{result.total} results in {result.milliseconds:.0f} ms", err=True)
