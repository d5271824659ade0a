"""The author-name rule (ingest/author_names.py, docs/authors.md) on hand-made cases."""

from __future__ import annotations

import pytest

from dailypapers.ingest.author_names import compatible, fold, group, name_key, surname_key


def key(name: str):  # type: ignore[no-untyped-def]
    found = name_key(name)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jan Müller", "Jan Muller"),  # accents folded
        ("Jan Müller", "Müller, Jan"),  # "Last, First"
        ("Jan Müller", "J. Müller"),  # an initial
        ("Jan Karl Müller", "Jan Müller"),  # a middle name left out
        ("Jean-Pierre Dupont", "J.-P. Dupont"),  # hyphenated initials
        ("Łukasz Kaiser", "Lukasz Kaiser"),  # letters NFKD keeps whole
        ("Jan van der Berg", "J. van der Berg"),  # particles belong to the surname
        ("Martin Luther King Jr.", "Martin L. King"),  # suffixes dropped
        ("José ÁLVAREZ", "Jose Alvarez"),  # case
    ],
)
def test_spellings_of_one_name_are_compatible(a: str, b: str) -> None:
    assert compatible(key(a), key(b)) and compatible(key(b), key(a))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jan Müller", "Jens Müller"),
        ("Jan Müller", "Jan Mueller"),  # transliterations are not guessed
        ("Jan Müller", "Karl Jan Müller"),  # given names compared in order
        ("Jan van der Berg", "Jan Berg"),
        ("Müller", "Jan Müller"),  # a bare surname matches only a bare surname
        ("Jan K. Müller", "Jan P. Müller"),
    ],
)
def test_different_people_are_not(a: str, b: str) -> None:
    assert not compatible(key(a), key(b))


def test_an_initial_is_grouped_only_when_unambiguous() -> None:
    alone = [key("Jan Müller"), key("J. Müller"), key("Jan K. Müller")]
    assert group(key("J. Müller"), alone) == set(alone)
    assert group(key("Jan Müller"), alone) == set(alone)
    crowded = [*alone, key("Jens Müller")]
    # J. could be Jan or Jens: it stands alone, and Jan's page leaves it out.
    assert group(key("J. Müller"), crowded) == {key("J. Müller")}
    assert group(key("Jan Müller"), crowded) == {key("Jan Müller"), key("Jan K. Müller")}
    assert group(key("Jens Müller"), crowded) == {key("Jens Müller")}


def test_groups_are_the_same_from_every_member() -> None:
    names = ["Jan Müller", "J. Müller", "Jan K. Müller", "J. K. Müller", "Jan P. Müller"]
    keys = [key(n) for n in names]
    for k in keys:
        for member in group(k, keys):
            assert group(member, keys) == group(k, keys)


def test_names_without_letters_and_hostile_text() -> None:
    assert name_key("") is None and name_key("  ") is None and name_key("%_%_") is None
    assert name_key("1234") is None
    assert key("Robert'); DROP TABLE papers;--").surname == "papers"
    assert key("x" * 10_000).surname == "x" * 200  # read up to 200 characters


def test_the_stored_surname_is_folded_and_bounded() -> None:
    for spelling in ("Jan Müller", "J. Muller", "Müller, Jan", "MÜLLER, J.", "Jan Müller Jr."):
        assert surname_key(spelling) == "muller"
    assert surname_key("Jan van der Berg") == "van der berg"
    assert surname_key("Łukasz Kaiser") == "kaiser" and fold("Ørsted") == "orsted"
    assert surname_key("1234") is None
    assert surname_key("Jan " + "ß" * 150) == "ss" * 100  # folding may lengthen: cut at 200


def test_the_one_pass_agreement_is_every_pair_compatible() -> None:
    import random

    from dailypapers.ingest.author_names import NameKey, _agree

    rng = random.Random(5)
    words = ["j", "jan", "jens", "k", "karl", "p"]
    for _ in range(2000):
        keys = [
            NameKey("muller", tuple(rng.choice(words) for _ in range(rng.randint(1, 3))))
            for _ in range(rng.randint(2, 5))
        ]
        pairwise = all(compatible(a, b) for a in keys for b in keys)
        assert _agree(keys) == pairwise, keys
