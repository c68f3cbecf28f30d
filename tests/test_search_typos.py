"""The typo work's shortcuts find exactly what the plain computation finds (bot.catalog.typos)."""

from __future__ import annotations

import random

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.catalog.search import SearchIndex
from bot.catalog.typos import TWO_EDIT_WORDS, _two_edits


def test_the_two_edit_scan_finds_what_comparing_every_word_of_similar_length_finds() -> None:
    """Its letter-count filter only skips words that cannot be two edits away: accented, non-Latin and digit-bearing
    words included, before and after the index learns and forgets shows (each change drops the counts it kept)."""
    rng = random.Random(9)
    letters = "abcdeilnorst" + "0123456789" + "ßøжяω"

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))

    index = SearchIndex.from_rows((n, f"{word()} {word()}", None, float(n)) for n in range(1, 1500))

    def every_word(text: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for length in range(len(text) - 2, len(text) + 3):
            choices = index._words_of_length.get(length, [])
            for match, distance, _ in process.extract(
                text, choices, scorer=OSA.distance, score_cutoff=2, limit=TWO_EDIT_WORDS
            ):
                found[match] = int(distance)
        return found

    def misspelt(text: str) -> str:
        for _ in range(2):
            at = rng.randrange(len(text))
            replacement = rng.choice(letters) if rng.random() < 0.5 else ""  # a wrong letter, or a missing one
            text = text[:at] + replacement + text[at + 1 :]
        return text

    nonempty = 0
    for round_ in range(3):
        vocabulary = index._vocabulary
        for _ in range(150):
            text = misspelt(rng.choice(vocabulary))
            expected = every_word(text)
            assert _two_edits(index, text) == expected, text
            nonempty += bool(expected)
        for show_id in rng.sample(range(1, 1500), 40):  # the index changes: new words, words gone
            if round_ % 2 == 0:
                index.upsert_show(show_id, [f"{word()} {word()}"], None, 1.0)
            else:
                index.remove_show(show_id)
    assert nonempty > 300
