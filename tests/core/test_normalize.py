"""Normalisation rules: ids, whitespace, LaTeX names, dates."""

from __future__ import annotations

import datetime as dt

import pytest

from dailypapers.ingest.normalize import (
    Rejected,
    clean_abstract,
    delatex_name,
    normalize,
    parse_arxiv_id,
    parse_datetime,
)
from tests.core.helpers import raw


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2410.17243", ("2410.17243", None)),
        ("2410.17243v2", ("2410.17243", 2)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("math.GT/0309136v1", ("math.GT/0309136", 1)),
        ("https://arxiv.org/abs/2410.17243v3", ("2410.17243", 3)),
        ("http://arxiv.org/pdf/2410.17243v1.pdf", ("2410.17243", 1)),
        ("arXiv:2410.17243", ("2410.17243", None)),
        ("  2410.17243 ", ("2410.17243", None)),
    ],
)
def test_arxiv_ids(value: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(value) == expected


@pytest.mark.parametrize(
    "value", ["abc", "2410.1724", "2410.172433", "../etc/passwd", "", "1234.5678v"]
)
def test_bad_ids(value: str) -> None:
    with pytest.raises(Rejected):
        parse_arxiv_id(value)


def test_abstract_unwrapping_keeps_paragraphs() -> None:
    text = "  First line\nwrapped here.\n\n  Second   paragraph\n"
    assert clean_abstract(text) == "First line wrapped here.\n\nSecond paragraph"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('M\\"uller', "Müller"),
        ("Fran{\\c c}ois", "François"),
        ("Jos\\'e", "José"),
        ("{\\O}stergaard", "Østergaard"),
        ("Plain Name", "Plain Name"),
        ("Erd\\H{o}s", "Erdős"),
    ],
)
def test_latex_names(name: str, expected: str) -> None:
    assert delatex_name(name) == expected


def test_dates() -> None:
    utc = dt.UTC
    assert parse_datetime("Mon, 2 Apr 2007 19:18:42 GMT") == dt.datetime(
        2007, 4, 2, 19, 18, 42, tzinfo=utc
    )
    assert parse_datetime("2026-06-01") == dt.datetime(2026, 6, 1, tzinfo=utc)
    assert parse_datetime("2024-10-24T01:00:00.000Z") == dt.datetime(2024, 10, 24, 1, tzinfo=utc)


def test_normalize_collapses_whitespace_and_primary_category() -> None:
    paper = normalize(
        raw(
            "2606.00001v2",
            title=" A\n  title ",
            categories=["stat.ML cs.LG"],
            primary_category="cs.LG",
            authors=["  Ada \n Lovelace ", ""],
        )
    )
    assert paper.title == "A title" and paper.version == 2
    assert paper.categories == ("cs.LG", "stat.ML") and paper.primary_category == "cs.LG"
    assert paper.authors == ("Ada Lovelace",)
