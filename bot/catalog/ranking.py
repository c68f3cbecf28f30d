"""Candidates and their order: which titles a query considers, and the key that ranks them.

Only titles with the query's rarest words become candidates (capped, most popular first, plus the server's
favourites, plus the titles that are exactly the query with its words corrected), so the work per query stays near
half a millisecond at 100,000 titles (bench/autocomplete.py). If no title then has every word, a second pass lets
correctly spelt words stand for their neighbours too ("strange things"); if still none does, short queries are
compared with whole titles of their shape ("thesbos": The Boys).

Ranking, best first: exact title, then title prefix, then closeness (query words not found, weighted by how rare
they are; edits; title words the query did not mention), then the server's boosts (its vote scores), then overall
popularity, then finer similarity and shorter titles. What a typed word may stand for is `bot.catalog.typos`'s.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from itertools import islice, product
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import OSA
from rapidfuzz.fuzz import ratio

from bot.catalog.typos import MIN_TWO_EDIT_WORD, QueryWord, TypoMemo, edits_for_length, query_words

if TYPE_CHECKING:
    from bot.catalog.boosts import Boosts
    from bot.catalog.index import TitleIndex

AUTOCOMPLETE_LIMIT = 25
# A query word whose titles number more than this is too common to generate candidates from ("the", "of"); it is
# only checked on the candidates the rarer words produced.
ANCHOR_MAX_POSTINGS = 4000
COMMON_WORD_SCAN = 1500  # titles walked (by popularity) when every query word is very common
# Candidates scored in full per query: the most popular ones (and the boosted shows') when there are more.
MAX_SCORED = 120
UNION_SCORED = 60  # ... and of those matching only some of the rarest words, when too few match them all
PREFIX_TOP = 64
# Title-prefix ranges up to this size are ranked exhaustively; larger ones are walked in popularity order.
PREFIX_SCAN_MAX = 200
MAX_WHOLE_TITLE_QUERY = 12  # the whole-title scan is for short titles typed badly (it costs about 1 ms)
CORRECTION_OPTIONS = 12  # corrections per word tried as exact titles ...
CORRECTED_TITLES = 48  # ... and combinations of them

TIER_EXACT, TIER_PREFIX, TIER_WORDS = 0, 1, 2
RankKey = tuple[int, int, float, int, int, float, float, float, int, bool, str, int]


def rank_key(
    index: TitleIndex,
    entry: int,
    tier: int,
    boosts: Mapping[int, float],
    closeness: tuple[int, int, int] = (0, 0, 0),
) -> RankKey:
    """The sort key: tier, closeness (unmatched query words, edit cost, extra title words), boost, popularity."""
    unmatched, cost, extra = closeness
    show_id = index._entry_show[entry]
    boost = boosts.get(show_id, 0.0) if boosts else 0.0
    norm = index._entry_norm[entry]
    # Shorter titles first ("The Office" before "The Office Party"); a show's primary title before its others.
    not_primary = not index._entry_primary[entry]
    popularity = index._entry_popularity[entry]
    return (tier, unmatched, 0.0, cost, extra, -boost, -popularity, 0.0, len(norm), not_primary, norm, show_id)


def prefix_candidates(
    index: TitleIndex, norm: str, limit: int, boosts: Mapping[int, float], favoured: Boosts, keys: dict[int, RankKey]
) -> None:
    """Exact titles and titles that start with the query."""
    low = bisect_left(index._sorted_keys, norm)
    high = bisect_left(index._sorted_keys, norm + "\uffff", low)
    if high - low <= PREFIX_SCAN_MAX:
        for position in range(low, high):
            entry = index._sorted_entries[position]
            tier = TIER_EXACT if index._sorted_keys[position] == norm else TIER_PREFIX
            keys[entry] = rank_key(index, entry, tier, boosts)
        return
    # A short prefix shared by thousands of titles: the exact ones, the boosted shows, and the most popular of
    # the rest. Entries are numbered in popularity order at load, so the smallest numbers are the most popular
    # (shows added later by `upsert_show` rank here as if least popular; they still rank right below this size).
    position = low
    while position < high and index._sorted_keys[position] == norm:
        keys[index._sorted_entries[position]] = rank_key(index, index._sorted_entries[position], TIER_EXACT, boosts)
        position += 1
    best = favoured.best_under_prefix(index, norm, limit, lambda under: _best_favoured(index, under, boosts, limit))
    for entry in best:
        if entry not in keys:
            keys[entry] = rank_key(index, entry, TIER_PREFIX, boosts)
    wanted = limit * 2
    top = index._prefix_top.get(norm) if wanted <= PREFIX_TOP else None
    if top is None:
        top = heapq.nsmallest(max(wanted, PREFIX_TOP), index._sorted_entries[position:high])
        if wanted <= PREFIX_TOP:
            index._prefix_top[norm] = top
    for entry in top[:wanted]:
        if entry not in keys:
            keys[entry] = rank_key(index, entry, TIER_PREFIX, boosts)


def _best_favoured(index: TitleIndex, entries: list[int], boosts: Mapping[int, float], limit: int) -> list[int]:
    """Of the favourites' entries under a prefix (thousands under "t" in a server with many votes), those that can
    reach the best `limit` shows: in the prefix tier the key orders by boost, then popularity (`rank_key`), so once
    `limit` shows are covered, an entry whose (boost, popularity) is strictly worse than the last taken one ranks
    below all of them and cannot change the answer. Ties with the last one are kept; the full keys decide them."""
    if len(entries) <= limit * 2:
        return entries
    show, popularity = index._entry_show, index._entry_popularity
    ordered = sorted((-boosts.get(show[entry], 0.0), -popularity[entry], entry) for entry in entries)
    chosen: list[int] = []
    shows: set[int] = set()
    last: tuple[float, float] | None = None
    for boost, popular, entry in ordered:
        if len(shows) >= limit and (boost, popular) != last:
            break
        chosen.append(entry)
        shows.add(show[entry])
        last = (boost, popular)
    return chosen


def word_candidates(
    index: TitleIndex, norm: str, boosts: Mapping[int, float], favoured: Boosts, keys: dict[int, RankKey]
) -> None:
    """Titles containing the query's words anywhere, exactly, as prefixes or misspelt."""
    memo: TypoMemo = {}
    first = query_words(index, norm, memo, expand_exact=False)
    best = _score_words(index, norm, first, boosts, favoured, keys)
    expandable = any(len(text) >= MIN_TWO_EDIT_WORD and text in index._postings for text in norm.split())
    if (best is None or best > 0) and expandable:
        # No title has every word: some "correct" word may be a misspelling of another ("strange things").
        second = query_words(index, norm, memo, expand_exact=True)
        if _readings(second) != _readings(first):  # the same readings would score the same candidates the same
            best = _score_words(index, norm, second, boosts, favoured, keys)
    if (best is None or best > 0) and len(norm) <= MAX_WHOLE_TITLE_QUERY:
        # Still no title with every word: compare the whole query with whole titles of its shape, for
        # mistakes across word boundaries ("thesbos": The Boys, "mpadfmen": Mad Men).
        _whole_title_candidates(index, norm, boosts, keys)


def _whole_title_candidates(
    index: TitleIndex, norm: str, boosts: Mapping[int, float], keys: dict[int, RankKey]
) -> None:
    allowed = edits_for_length(len(norm))  # here the spaces count: the scan compares spaced titles
    for length in range(len(norm) - allowed, len(norm) + allowed + 1):
        choices = index._titles_by_shape.get((norm[0], length))
        if not choices:
            continue
        found = process.extract(norm, choices, scorer=OSA.distance, score_cutoff=allowed, limit=AUTOCOMPLETE_LIMIT)
        for title, distance, _ in found:
            low = bisect_left(index._sorted_keys, title)
            high = bisect_right(index._sorted_keys, title, low)
            for entry in index._sorted_entries[low:high]:
                key = rank_key(index, entry, TIER_WORDS, boosts, (0, int(distance), 0))
                if entry not in keys or key < keys[entry]:
                    keys[entry] = key


def _readings(query: tuple[list[QueryWord], int]) -> tuple[list[tuple[str, bool, dict[str, int], bool]], int]:
    """What `_score_words` reads of the query's words: equal readings give equal candidates and keys."""
    words, respaced = query
    return [(word.text, word.is_last, word.costs, word.prefix_checked) for word in words], respaced


def _score_words(
    index: TitleIndex,
    norm: str,
    query: tuple[list[QueryWord], int],
    boosts: Mapping[int, float],
    favoured: Boosts,
    keys: dict[int, RankKey],
) -> int | None:
    """One pass of `word_candidates` over the query's words as `query_words` read them; returns the fewest query
    words any candidate missed (None: none found)."""
    words, respaced = query
    if not words:
        return None
    anchors: list[dict[int, int]] = []
    for word in words:
        if word.prefix_checked or not word.costs:
            continue
        if sum(len(index._postings[w]) for w in word.costs) <= ANCHOR_MAX_POSTINGS:
            entry_costs: dict[int, int] = {}
            for vocabulary_word, cost in sorted(word.costs.items(), key=lambda item: -item[1]):
                entry_costs.update(dict.fromkeys(index._postings[vocabulary_word], cost))  # cheapest cost wins
            word.entry_costs = entry_costs
            anchors.append(entry_costs)
    anchors.sort(key=len)
    if anchors:
        # Titles with all of the (up to three) rarest words first; if they are too few, titles with either of
        # the two rarest: a title with one word misspelt beyond recognition is still found by the other.
        every = set(anchors[0]).intersection(*anchors[1:3])
        favoured_entries = favoured.entries(index)
        candidates = _capped(every, favoured_entries)
        if len(anchors) > 1 and len(every) < AUTOCOMPLETE_LIMIT:
            either = set(anchors[0]).union(anchors[1])
            candidates += _capped(either - every, favoured_entries, UNION_SCORED)
    else:
        candidates = _common_word_candidates(index, words)
    candidates += _corrected_titles(index, words)
    fewest_missed: int | None = None
    # The hot loop: locals instead of attribute look-ups, the key built inline (see `_key`).
    entry_words, entry_show, entry_norm = index._entry_words, index._entry_show, index._entry_norm
    entry_popularity, entry_primary = index._entry_popularity, index._entry_primary
    word_count = len(words)
    # Missing a rare word ("killing") is worse than missing a common one ("he"): each word weighs its
    # inverse document frequency, and among candidates missing as many words, the lighter misses rank first.
    titles = len(index._sorted_keys) + 1
    weights = [math.log(titles / (_titles_with(index, word) + 1)) for word in words]
    # Each word's cost look-up, bound once: a dict's get for the words whose titles are listed (`QueryWord.cost_of`).
    lookups = [
        (word.entry_costs.get if word.entry_costs is not None else None, word.cost_in, weight)
        for word, weight in zip(words, weights, strict=True)
    ]
    boost_of = boosts.get
    for entry in candidates:
        title_words = entry_words[entry]
        unmatched = 0
        missed = 0.0
        cost = respaced
        for listed, cost_in, weight in lookups:
            word_cost = listed(entry) if listed is not None else cost_in(title_words)
            if word_cost is None:
                unmatched += 1
                missed += weight
            else:
                cost += word_cost
        if unmatched == word_count:
            continue
        if fewest_missed is None or unmatched < fewest_missed:
            fewest_missed = unmatched
        norm_of_entry = entry_norm[entry]
        extra = len(title_words) - word_count + unmatched
        key = (
            TIER_WORDS,
            unmatched,
            round(missed, 3),
            cost,
            extra if extra > 0 else 0,
            -boost_of(entry_show[entry], 0.0),
            -entry_popularity[entry],
            -ratio(norm, norm_of_entry),  # the finest closeness, for otherwise equal matches ("zark": Ozark)
            len(norm_of_entry),
            not entry_primary[entry],
            norm_of_entry,
            entry_show[entry],
        )
        if entry not in keys or key < keys[entry]:
            keys[entry] = key
    return fewest_missed


def _titles_with(index: TitleIndex, word: QueryWord) -> int:
    if word.entry_costs is not None:
        return len(word.entry_costs)
    if word.prefix_checked:
        return len(index._sorted_keys)  # a prefix of very many words: it tells little
    return sum(len(index._postings[w]) for w in word.costs)


def _common_word_candidates(index: TitleIndex, words: list[QueryWord]) -> list[int]:
    """Every query word is very common ("the", "a"): the most popular titles containing them all."""
    checkable = [w for w in words if w.costs or w.prefix_checked]
    if not checkable:
        return []
    found: list[int] = []
    for entry in index._by_popularity[:COMMON_WORD_SCAN]:
        title_words = index._entry_words[entry]
        if all(word.cost_in(title_words) is not None for word in checkable):
            found.append(entry)
            if len(found) >= AUTOCOMPLETE_LIMIT:
                break
    return found


def _corrected_titles(index: TitleIndex, words: list[QueryWord]) -> list[int]:
    """Titles that are exactly the query with its words corrected ("the cown" -> "the crown"): these could be
    missing from a capped candidate list, yet they are the closest matches there are.
    """
    options = []
    for word in words:
        if word.costs and len(word.costs) <= CORRECTION_OPTIONS:
            options.append([w for w, _ in sorted(word.costs.items(), key=lambda item: (item[1], item[0]))])
        else:
            options.append([word.text])
    found: list[int] = []
    for combination in islice(product(*options), CORRECTED_TITLES):
        title = " ".join(combination)
        low = bisect_left(index._sorted_keys, title)
        high = bisect_right(index._sorted_keys, title, low)
        found += index._sorted_entries[low:high]
    return found


def _capped(entries: set[int], favoured: set[int], cap: int = MAX_SCORED) -> list[int]:
    """At most `cap` of `entries` (plus the favoured ones): the most popular, whose entry numbers are smallest."""
    if len(entries) <= cap:
        return list(entries)
    chosen = sorted(entries)[:cap]  # what heapq.nsmallest gives, sorted in C: faster for the few thousand here
    last = chosen[-1]
    chosen += sorted(entry for entry in entries & favoured if entry > last)
    return chosen
