from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.common.text import normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Shōgun: Élite & Co.  ", "shogun elite and co"),
        ("It's Always Sunny in Philadelphia", "its always sunny in philadelphia"),
        ("Bron/Broen", "bron broen"),
        ("Ørnen", "ornen"),
        ("오징어 게임", "오징어 게임"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@given(st.text())
def test_normalise_is_idempotent_and_trimmed(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_synopsis_terms_of_ascii_text_are_those_of_its_normalised_form(text: str) -> None:
    from bot.recommend.content import _STOPWORDS, _TERMS_PER_SHOW, _WORD, synopsis_terms

    expected: list[str] = []
    for match in _WORD.findall(normalise(text)):
        word = match.strip("'")
        if len(word) >= 4 and word not in _STOPWORDS and word not in expected:
            expected.append(word)
    assert synopsis_terms(text) == expected[:_TERMS_PER_SHOW]
