"""``ingest`` arguments are checked before anything is fetched, and a run that accepted
nothing from a non-empty input fails, so a cron job can tell garbage from a good file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dailypapers.cli import cli
from dailypapers.sources.categories import unknown_category
from dailypapers.sources.http import Fetcher

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any request to arXiv fails the test."""

    def refuse(self: Fetcher, url: str, *args: object, **kwargs: object) -> str:
        raise AssertionError(f"contacted {url} although the arguments were invalid")

    monkeypatch.setattr(Fetcher, "get", refuse)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("arxiv-api", "--from", "2026-06-10", "--to", "2026-06-01"), "date window is reversed"),
        (("arxiv-api", "--from", "2999-01-01"), "date window is reversed"),
        (("arxiv-api", "--id", "2606.1"), "not an arXiv id"),
        (("arxiv-api", "--id", "2410.17243", "--id", "nonsense"), "not an arXiv id"),
        (("arxiv-api", "--category", "cs.ML"), "unknown arXiv category 'cs.ML'"),
        (("arxiv-api", "--category", "cs.lg"), "did you mean cs.LG"),
        (("oai", "--from", "2026-06-10", "--until", "2026-06-01"), "date window is reversed"),
        (("oai", "--set", "cs:<script>"), "not an arXiv OAI set"),
        (("rss", "--category", "cs.XX"), "unknown arXiv category"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    cli_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    code, output = invoke("ingest", *args)
    assert code == 2, output  # a usage error
    assert message in output and "Traceback" not in output


def test_known_categories_pass() -> None:
    for name in ("cs.LG", "stat.ML", "hep-th", "math", "cond-mat.mes-hall", "astro-ph.CO"):
        assert unknown_category(name) is None, name


def test_a_file_whose_every_record_is_rejected_fails(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('{not json\n[1, 2]\n{"id": "2607.00002"}\n')
    code, output = invoke("ingest", "jsonl", str(garbage))
    assert code == 1, output
    assert "3 rejected" in output
    assert "nothing was accepted: all 3 records were rejected" in output


def test_an_empty_file_or_one_good_record_succeeds(cli_env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, output = invoke("ingest", "jsonl", str(empty))
    assert code == 0 and "0 new" in output, output
    mixed = tmp_path / "mixed.jsonl"
    good = {
        "id": "2607.00001",
        "title": "T",
        "abstract": "A",
        "authors": ["X"],
        "categories": ["cs.LG"],
        "published": "2026-07-01",
        "day": "2026-07-01",
    }
    mixed.write_text("{not json\n" + json.dumps(good) + "\n")
    code, output = invoke("ingest", "jsonl", str(mixed))
    assert code == 0 and "1 new" in output and "1 rejected" in output, output
    # The same good record again is "unchanged", which is accepted too.
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps(good) + "\n{broken\n")
    code, output = invoke("ingest", "jsonl", str(again))
    assert code == 0 and "1 unchanged" in output, output
