"""The query parser accepts anything and takes apart what people type."""

from __future__ import annotations

import pytest

from dailypapers.ranking.query import parse_query


def test_parts() -> None:
    q = parse_query(
        'transformers "long context" -vision -"image generation" author:"Yann LeCun" '
        "cat:cs.LG category:stat.ML title:attention"
    )
    assert q.words == ["transformers"]
    assert q.phrases == ["long context"]
    assert q.excluded == ["vision", "image generation"]
    assert q.authors == ["Yann LeCun"]
    assert q.categories == ["cs.LG", "stat.ML"]
    assert q.title == ["attention"]
    assert q.text == "transformers long context attention"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "the of and",
        "!!! ??? ...",
        'unbalanced "quote',
        "NEAR(a b) * ^ : OR AND",
        "'; DROP TABLE papers; --",
        "x' OR 1=1",
        "🙂🚀 ünïcødé 数学",
        "a" * 10_000,
        '""',
        "-",
        "::",
        "author:",
        "cat:",
        "foo:bar",
        "\x00\x01",
        'title:""',
        '-"" -- - -',
    ],
)
def test_any_input_parses(raw: str) -> None:
    parsed = parse_query(raw)
    assert len(parsed.text) <= 1000


def test_unbalanced_quotes_are_words() -> None:
    assert parse_query('deep "learning').words == ["deep", "learning"]


def test_unknown_field_is_text() -> None:
    assert parse_query("foo:bar").words == ["foo bar"]
