"""``dailypapers serve`` and ``dailypapers demo``."""

from __future__ import annotations

import os
import socket

import click
import uvicorn

from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.demo import load_sample
from dailypapers.logs import configure_logging
from dailypapers.storage.papers import count_papers

WILDCARDS = ("", "0.0.0.0", "::")  # noqa: S104 - names of "every interface", compared only
RUNNER_SECONDS = 10.0  # how often the runner looks for new papers to embed and index


def served_base_url(host: str, port: int) -> str:
    """The URL of the address ``serve`` binds: the machine's name for every interface."""
    name = socket.gethostname() if host in WILDCARDS else host
    if ":" in name:  # an IPv6 literal
        name = f"[{name}]"
    return f"http://{name}:{port}"


def _serve(ctx: Context, host: str, port: int, workers: int, jobs: bool = True) -> None:
    ctx.engine  # noqa: B018 - migrate before the workers start
    configure_logging(level=ctx.settings.log_level, fmt=ctx.settings.log_format)
    click.echo(f"serving {ctx.settings.site_name} on http://{host}:{port} ({workers} workers)")
    running = None
    if jobs:
        # One runner per `serve` (not per worker): when it holds the index lease, it embeds
        # new papers and rebuilds the search index as they accumulate (jobs/runner.py).
        from dailypapers.jobs.runner import Runner

        running = Runner(ctx.engine, ctx.settings, isolate_builds=True).start(
            seconds=RUNNER_SECONDS
        )
        click.echo("index upkeep: on (this node runs it when it holds the lease; --no-jobs: off)")
    if "base_url" not in ctx.settings.model_fields_set:
        # Links in mail and feeds follow the address served (never a request's Host header);
        # the workers read it from the environment they inherit.
        os.environ["DAILYPAPERS_BASE_URL"] = url = served_base_url(host, port)
        note = " (set DAILYPAPERS_BASE_URL to the address people use)" if host in WILDCARDS else ""
        click.echo(f"links in emails and feeds point to {url}{note}")
    service = None
    if workers > 1 and ctx.settings.semantic_search:
        # One model for the node: the workers ask this process (index/embed_service.py).
        from dailypapers.index.embed_service import SOCKET_ENV, EmbeddingService
        from dailypapers.index.embedder import default_embedder

        service = EmbeddingService(default_embedder(ctx.settings.embedding_engine)).start()
        os.environ[SOCKET_ENV] = str(service.path)
        click.echo("query embeddings: one model in this process for all workers")
    try:
        _run_uvicorn(host, port, workers)
    finally:
        if service is not None:
            service.stop()
        if running is not None:
            running[1].set()
            running[0].join(timeout=60)


def _run_uvicorn(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "dailypapers.web.asgi:app",
        host=host,
        port=port,
        workers=workers,
        # Logging is the app's (dailypapers/logs.py: level, text or JSON, access lines with
        # request ids); uvicorn's records go through the same handler.
        log_config=None,
        access_log=False,
        # The app reads X-Forwarded-* itself, from `forwarded_allow_ips` only (web/middleware.py).
        proxy_headers=False,
    )


host_option = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind."
)
port_option = click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
workers_option = click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes."
)


jobs_option = click.option(
    "--jobs/--no-jobs",
    default=True,
    show_default=True,
    help="Take part in index upkeep (embed new papers, rebuild and publish the search index; "
    "one node at a time, elected in the database). --no-jobs: a pure web node.",
)


@click.command()
@host_option
@port_option
@workers_option
@jobs_option
@pass_context
@one_line_errors
def serve(ctx: Context, host: str, port: int, workers: int, jobs: bool) -> None:
    """Run the web site and JSON API (migrates the database first)."""
    _serve(ctx, host, port, workers, jobs)


@click.command()
@click.option(
    "--serve/--no-serve",
    "then_serve",
    default=True,
    show_default=True,
    help="Start the site after loading.",
)
@host_option
@port_option
@workers_option
@pass_context
@one_line_errors
def demo(ctx: Context, then_serve: bool, host: str, port: int, workers: int) -> None:
    """Load the bundled sample of real arXiv papers and index it (idempotent), then serve."""
    report = load_sample(ctx.engine, ctx.settings, progress=True)
    click.echo(report.ingest.summary())
    click.echo(report.activity)
    if report.imported_vectors:
        click.echo(f"imported {report.imported_vectors} precomputed embeddings of the sample")
    click.echo(report.index.summary())
    with ctx.engine.connect() as conn:
        click.echo(f"{count_papers(conn=conn)} papers in {ctx.settings.effective_database_url}")
    if then_serve:
        if report.as_of is not None and "demo_as_of" not in ctx.settings.model_fields_set:
            os.environ["DAILYPAPERS_DEMO_AS_OF"] = report.as_of.isoformat()
            click.echo(f"trending, submissions and digest previews count from {report.as_of}")
        _serve(ctx, host, port, workers)
