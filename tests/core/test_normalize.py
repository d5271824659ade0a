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
    strip_controls,
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("title\x1b]0;window title\x07", "title"),
        ("link \x1b]8;;http://x.example\x1b\\text\x1b]8;;\x1b\\", "link text"),
        ("bell\x07 nul\x00 del\x7f c1\x85\x9b2J", "bell nul del c1"),
        ("cut \x1b[3", "cut "),
        ("tab\tnew\nline\r", "tab\tnew\nline\r"),
        ("Ünïcödé ≠ control", "Ünïcödé ≠ control"),
    ],
)
def test_strip_controls(value: str, expected: str) -> None:
    assert strip_controls(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+01:00",
        "Fri, 31 Dec 9999 23:59:59 -0500",
        "1899-12-31",
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.date(1, 1, 1),
    ],
)
def test_dates_outside_plausible_years_are_rejected(value: str | dt.date) -> None:
    with pytest.raises(Rejected, match="out of range"):
        parse_datetime(value)


def test_normalize_rejects_wrong_types_instead_of_raising() -> None:
    for fields in ({"title": 3}, {"authors": [None]}, {"version": "2"}, {"published": 1.5}):
        with pytest.raises(Rejected):
            normalize(raw(**fields))


def test_normalize_bounds_every_field() -> None:
    with pytest.raises(Rejected, match="author name too long"):
        normalize(raw(authors=["A" * 6000]))
    with pytest.raises(Rejected, match="comment, journal reference or DOI too long"):
        normalize(raw(comment="c" * 6000))
