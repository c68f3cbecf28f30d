"""Typo-tolerant matching of the query's words: which vocabulary words each typed word may stand for, at what cost,
and how many mistakes a typed title may have.

Misspellings are handled per word: the one-edit variants of a query word (missing, extra, swapped, wrong letter) are
looked up in the vocabulary (a few hundred set look-ups, no deletion dictionary to hold in memory); a word still
being typed also matches words that start with a variant ("strnag"); a longer word with no such neighbour is
compared by edit distance (rapidfuzz, transpositions count once) with the words of similar length; two words run
together ("breakingbad", "thegmodern") are split and a word typed in two pieces is joined. Which titles then become
candidates, and in what order, is `bot.catalog.ranking`'s.
"""

from __future__ import annotations

import string
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.common.text import normalise

if TYPE_CHECKING:
    from bot.catalog.index import TitleIndex

MAX_QUERY_WORDS = 12
# A last (still being typed) word that is the prefix of more vocabulary words than this is checked, not enumerated.
PREFIX_MAX_WORDS = 64
# A one-edit variant of a one-letter word matches almost anything; two-letter words ("he" for "the") only help
# rank the candidates that other words found (their variants are too common to generate candidates).
MIN_FUZZY_WORD = 2
# Bounds on the typo work for one query, whatever is typed: no title word is longer, and nobody misspells six words.
MAX_FUZZY_WORD = 24
MAX_FUZZY_WORDS = 5
MIN_TWO_EDIT_WORD = 5  # two edits in a shorter word make it another word
TWO_EDIT_WORDS = 12
MAX_TWO_EDIT_SCANS = 2  # per query: each scans thousands of words (about 0.5 ms at 100,000 titles)
_ALPHABET = string.ascii_lowercase + string.digits
# The two-edit scan's filter counts each word's letters in these slots (a-z, 0-9, one for any other character).
_SLOT_OF = np.full(256, len(_ALPHABET), dtype=np.uint8)
_SLOT_OF[[ord(letter) for letter in _ALPHABET]] = np.arange(len(_ALPHABET), dtype=np.uint8)
LetterCounts = npt.NDArray[np.int8]  # one row per word of a length, one column per slot

# The typo work on each misspelt word of a query (its costs, or the two words it splits into), kept from the first
# pass of `ranking.word_candidates` for the second.
TypoMemo = dict[str, tuple[dict[str, int], tuple[str, str] | None]]


@dataclass(slots=True)
class QueryWord:
    """One word of the query and the vocabulary words it stands for, each with its edit cost."""

    text: str
    is_last: bool
    costs: dict[str, int] = field(default_factory=dict)
    prefix_checked: bool = False  # the word is a prefix of too many words to list: test titles with startswith
    entry_costs: dict[int, int] | None = None  # entry -> cost, built for words in few enough titles

    def cost_of(self, entry: int, title_words: Sequence[str]) -> int | None:
        if self.entry_costs is not None:
            return self.entry_costs.get(entry)
        return self.cost_in(title_words)

    def cost_in(self, words: Sequence[str]) -> int | None:
        best: int | None = None
        for word in words:
            if self.prefix_checked and word.startswith(self.text):
                return 0
            cost = self.costs.get(word)
            if cost is not None and (best is None or cost < best):
                best = cost
                if cost == 0:
                    return 0
        return best


def edits1(word: str) -> set[str]:
    """Every string one deletion, adjacent transposition, substitution or insertion away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {left + right[1:] for left, right in splits if right}
    variants.update(left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1)
    variants.update(left + letter + right[1:] for left, right in splits if right for letter in _ALPHABET)
    variants.update(left + letter + right for left, right in splits for letter in _ALPHABET)
    variants.discard(word)
    return variants


def edits_allowed(title: str) -> int:
    """How many typing mistakes a typed title may have and still be taken for `title`: one up to five letters,
    two up to eleven, three beyond. A prefix is not a mistake-free title: "breaking" is not Breaking Bad.
    """
    return edits_for_length(len(normalise(title).replace(" ", "")))


def edits_for_length(length: int) -> int:
    """The typing mistakes allowed in a title of `length` characters: one up to five, two up to eleven, three beyond."""
    return 1 if length <= 5 else 2 if length <= 11 else 3


def title_distance(query: str, title: str) -> int:
    """Edits between two normalised titles, spaces ignored, a swap of neighbours counting once."""
    return int(OSA.distance(query.replace(" ", ""), title.replace(" ", "")))


def query_words(
    index: TitleIndex, norm: str, memo: TypoMemo, *, expand_exact: bool = False
) -> tuple[list[QueryWord], int]:
    """The query's words with the vocabulary words each may stand for, and the cost of respacing the query.

    With `expand_exact`, a word that is itself in the vocabulary also stands for its one-edit neighbours
    ("strange" for "stranger"): the second pass, when no title matched every word. `memo` keeps the typo work
    on misspelt words from the first pass for the second.
    """
    texts, respaced = _merge_split_words(index, norm.split()[:MAX_QUERY_WORDS])
    words: list[QueryWord] = []
    two_edit_scans = fuzzy_words = 0
    for position, text in enumerate(texts):
        word = QueryWord(text, is_last=position == len(texts) - 1)
        if text in index._postings:
            word.costs[text] = 0
        if word.is_last:
            low = bisect_left(index._vocabulary, text)
            high = bisect_left(index._vocabulary, text + "\uffff", low)
            if high - low > PREFIX_MAX_WORDS:
                word.prefix_checked = True
            else:
                word.costs.update((w, 0) for w in index._vocabulary[low:high])
        wants_fuzzy = not word.costs or (expand_exact and text in word.costs and len(text) >= MIN_TWO_EDIT_WORD)
        if not word.costs and text in memo:  # worked out by the first pass
            word.costs, split = memo[text]
            if split:
                respaced += 1
                words += [QueryWord(part, is_last=False, costs={part: 0}) for part in split]
                continue
        elif (
            wants_fuzzy
            and not word.prefix_checked
            and MIN_FUZZY_WORD <= len(text) <= MAX_FUZZY_WORD
            and fuzzy_words < MAX_FUZZY_WORDS
        ):
            fuzzy_words += 1
            for variant in index._postings.keys() & edits1(text):  # a C-level intersection, not a loop of look-ups
                word.costs.setdefault(variant, 1)
            if not word.costs and word.is_last and len(text) >= 4:
                word.costs.update(_fuzzy_prefix(index, text))
            if not word.costs and len(text) >= 5:
                split = _split(index, text)
                if split:  # "breakingbad", "thegmodern": two words with the space missing or mistyped
                    memo[text] = ({}, split)
                    respaced += 1
                    words += [QueryWord(part, is_last=False, costs={part: 0}) for part in split]
                    continue
            if not word.costs and len(text) >= MIN_TWO_EDIT_WORD and two_edit_scans < MAX_TWO_EDIT_SCANS:
                two_edit_scans += 1
                word.costs.update(_two_edits(index, text))
            if text not in word.costs:
                memo[text] = (word.costs, None)
        words.append(word)
    if words and texts and words[-1].text != texts[-1]:
        words[-1].is_last = False  # the query's last word was split: both parts are complete words
    return words, respaced


def _merge_split_words(index: TitleIndex, texts: list[str]) -> tuple[list[str], int]:
    """Join two query words that make one known word: "stranger thin gs" -> "stranger things"."""
    known = index._postings
    fixes = 0
    result: list[str] = []
    position = 0
    while position < len(texts):
        text = texts[position]
        following = texts[position + 1] if position + 1 < len(texts) else None
        if following is not None and (text not in known or following not in known) and text + following in known:
            result.append(text + following)
            fixes += 1
            position += 2
            continue
        result.append(text)
        position += 1
    return result, fixes


def _split(index: TitleIndex, text: str) -> tuple[str, str] | None:
    """Two known words run together ("breakingbad"), or joined by a letter typed for the space ("thegmodern")."""
    known = index._postings
    # Parts of three letters or more: "dexer" is Dexter misspelt, not "de" and "er".
    for cut in range(3, len(text) - 2):
        if text[:cut] in known and text[cut:] in known:
            return text[:cut], text[cut:]
    for cut in range(3, len(text) - 3):
        if text[:cut] in known and text[cut + 1 :] in known:
            return text[:cut], text[cut + 1 :]
    return None


def _two_edits(index: TitleIndex, text: str) -> dict[str, int]:
    """Vocabulary words two edits away ("minhunaer"): the rare case, so a scan of the words of similar length.

    Each edit changes the counts of at most two letters by one (a swap none), so a word two edits away differs from
    `text` by at most 4 in its letter counts: a NumPy pass over the words' counts keeps only those (a few percent)
    for the edit distance, which finds exactly what it would find among all of them, in the same order."""
    found: dict[str, int] = {}
    wanted = _letter_counts_of([text], len(text))[0]
    for length in range(len(text) - 2, len(text) + 3):
        choices = index._words_of_length.get(length)
        if choices:
            counts = index._letter_counts.get(length)
            if counts is None:
                counts = index._letter_counts[length] = _letter_counts_of(choices, length)
            close = np.flatnonzero(np.abs(counts - wanted).sum(axis=1) <= 4)
            for word, distance, _ in process.extract(
                text, [choices[row] for row in close], scorer=OSA.distance, score_cutoff=2, limit=TWO_EDIT_WORDS
            ):
                found[word] = int(distance)
    return found


def _letter_counts_of(words: Sequence[str], length: int) -> LetterCounts:
    """How often each slot's letters occur in each of `words` (all `length` characters long), a row per word.
    Characters beyond Latin-1 become "?" (one slot for every other character): merging letters into one slot can
    only make two words' counts closer, so the filter above never drops a word within two edits."""
    codes = np.frombuffer("".join(words).encode("latin-1", "replace"), dtype=np.uint8).reshape(len(words), length)
    slots = _SLOT_OF[codes]
    counts = np.zeros((len(words), len(_ALPHABET) + 1), dtype=np.int8)
    rows = np.arange(len(words))
    for column in range(length):
        counts[rows, slots[:, column]] += 1  # one cell per row in each column: no repeated index within a step
    return counts


def _fuzzy_prefix(index: TitleIndex, text: str) -> dict[str, int]:
    """Vocabulary words that start with a one-edit variant of a word still being typed ("strnag")."""
    found: dict[str, int] = {}
    for variant in edits1(text):
        if len(variant) < 3:
            continue
        low = bisect_left(index._vocabulary, variant)
        if low < len(index._vocabulary) and index._vocabulary[low].startswith(variant):
            high = min(bisect_left(index._vocabulary, variant + "\uffff", low), low + PREFIX_MAX_WORDS)
            for word in index._vocabulary[low:high]:
                found.setdefault(word, 1)
    return found
