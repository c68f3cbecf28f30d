"""Title search: one in-memory index serving autocomplete, /search, not-found suggestions and the catalog CLI.

The index holds every title a show is known by (primary and alternative), normalised with `bot.common.text.normalise`,
in columns (arrays and lists indexed by entry number; entries are numbered in popularity order at load):

- the sorted normalised titles, for exact and prefix look-ups by bisection (the most popular titles under a very
  common prefix such as "t" are remembered until a title under it changes);
- an inverted index from each title word to the titles that contain it, and the sorted vocabulary, for words typed
  anywhere in a title and for the prefix of the word still being typed.

Misspellings are handled per word: the one-edit variants of a query word (missing, extra, swapped, wrong letter) are
looked up in the vocabulary (a few hundred set look-ups, no deletion dictionary to hold in memory); a word still
being typed also matches words that start with a variant ("strnag"); a longer word with no such neighbour is
compared by edit distance (rapidfuzz, transpositions count once) with the words of similar length; two words run
together ("breakingbad", "thegmodern") are split and a word typed in two pieces is joined. If no title then has every
word, a second pass lets correctly spelt words stand for their neighbours too ("strange things").

Only titles with the query's rarest words become candidates (capped, most popular first, plus the server's
favourites, plus the titles that are exactly the query with its words corrected), so the work per query stays near
half a millisecond at 100,000 titles (bench/autocomplete.py).

Ranking, best first: exact title, then title prefix, then closeness (query words not found, weighted by how rare
they are; edits; title words the query did not mention), then the server's boosts (its vote scores), then overall
popularity, then finer similarity and shorter titles.

The index is used from the event loop only: queries are synchronous and short; `refresh` reads the database first.
Shows added with `upsert_show` after the load rank by popularity everywhere except when thinning very large
candidate sets, where they count as least popular (entry numbers only grow).
"""

from __future__ import annotations

import heapq
import logging
import math
import re
import sqlite3
import string
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice, product
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import OSA
from rapidfuzz.fuzz import ratio

from bot.common.text import normalise

if TYPE_CHECKING:
    from bot.storage import Database

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200  # Discord caps option text at 100; anything longer is cut before any work is done
MAX_QUERY_WORDS = 12
AUTOCOMPLETE_LIMIT = 25
CHOICE_MAX_CHARS = 100
# A query word whose titles number more than this is too common to generate candidates from ("the", "of"); it is
# only checked on the candidates the rarer words produced.
ANCHOR_MAX_POSTINGS = 4000
# A last (still being typed) word that is the prefix of more vocabulary words than this is checked, not enumerated.
PREFIX_MAX_WORDS = 64
COMMON_WORD_SCAN = 1500  # titles walked (by popularity) when every query word is very common
# Candidates scored in full per query: the most popular ones (and the boosted shows') when there are more.
MAX_SCORED = 120
UNION_SCORED = 60  # ... and of those matching only some of the rarest words, when too few match them all
PREFIX_TOP = 64
# Title-prefix ranges up to this size are ranked exhaustively; larger ones are walked in popularity order.
PREFIX_SCAN_MAX = 200
# A one-edit variant of a one-letter word matches almost anything; two-letter words ("he" for "the") only help
# rank the candidates that other words found (their variants are too common to generate candidates).
MIN_FUZZY_WORD = 2
# Bounds on the typo work for one query, whatever is typed: no title word is longer, and nobody misspells six words.
MAX_FUZZY_WORD = 24
MAX_FUZZY_WORDS = 5
MIN_TWO_EDIT_WORD = 5  # two edits in a shorter word make it another word
MAX_WHOLE_TITLE_QUERY = 12  # the whole-title scan is for short titles typed badly (it costs about 1 ms)
CORRECTION_OPTIONS = 12  # corrections per word tried as exact titles ...
CORRECTED_TITLES = 48  # ... and combinations of them
TWO_EDIT_WORDS = 12
REFRESH_CHUNK = 500  # shows read back per query when the index learns of catalog changes
MAX_TWO_EDIT_SCANS = 2  # per query: each scans thousands of words (about 0.5 ms at 100,000 titles)
_ALPHABET = string.ascii_lowercase + string.digits

TIER_EXACT, TIER_PREFIX, TIER_WORDS = 0, 1, 2
_RankKey = tuple[int, int, float, int, int, float, float, float, int, bool, str, int]


@dataclass(frozen=True, slots=True)
class Match:
    """One show found by a search. `title` is the primary title; `matched_title` the alternative title that matched."""

    show_id: int
    title: str
    year: int | None
    score: float  # similarity of the query to the matched title, 0-100
    matched_title: str | None = None

    def label(self) -> str:
        """ "Title (2018)", with the alternative title that matched when it differs."""
        text = f"{self.title} ({self.year})" if self.year else self.title
        return f"{text} — {self.matched_title}" if self.matched_title else text


@dataclass(slots=True)
class _QueryWord:
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


def year_of(premiered: str | None) -> int | None:
    if premiered and len(premiered) >= 4 and premiered[:4].isdigit():
        return int(premiered[:4])
    return None


def edits1(word: str) -> set[str]:
    """Every string one deletion, adjacent transposition, substitution or insertion away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {left + right[1:] for left, right in splits if right}
    variants.update(left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1)
    variants.update(left + letter + right[1:] for left, right in splits if right for letter in _ALPHABET)
    variants.update(left + letter + right for left, right in splits for letter in _ALPHABET)
    variants.discard(word)
    return variants


class SearchIndex:
    """Every show title in memory, for typo-tolerant search in well under a millisecond.

    Storage is columnar (one array or list per attribute, indexed by entry number) because 100,000 small objects
    would cost several times the memory of the strings themselves.
    """

    def __init__(self) -> None:
        self._primary: dict[int, int] = {}  # show id -> entry of its primary title
        self._alternatives: dict[int, list[int]] = {}  # show id -> entries of its other titles (few shows have any)
        # Entries: one per (show, title). A removed entry keeps its number with show id -1.
        self._entry_show = array("q")
        self._entry_year = array("H")  # 0: unknown
        self._entry_popularity = array("d")
        self._entry_primary = bytearray()
        self._entry_norm: list[str] = []
        self._entry_title: list[str] = []
        self._entry_words: list[tuple[str, ...]] = []
        self._raw_exact: dict[str, list[int]] = {}  # casefolded titles with no Latin letters ("오징어 게임")
        self._sorted_keys: list[str] = []  # normalised titles, sorted: exact and prefix look-ups by bisection
        self._sorted_entries = array("q")
        self._by_popularity = array("q")
        self._postings: dict[str, array[int]] = {}  # title word -> entries, in increasing entry number
        self._vocabulary: list[str] = []
        self._words_of_length: dict[int, list[str]] = {}  # for the two-edit scan of the words of similar length
        # Normalised titles by (first letter, length): the whole-title scan for titles typed with spaces wrong.
        self._titles_by_shape: dict[tuple[str, int], list[str]] = {}
        self._words: dict[str, str] = {}  # interning: one string object per distinct word
        # The most popular entries under each very common prefix ("t", "th"), computed on first use and dropped
        # when a title under that prefix changes.
        self._prefix_top: dict[str, list[int]] = {}
        # Bumped whenever a show's entries change: what a `Boosts` derived from this index is valid for.
        self.generation = 0

    # ----------------------------------------------------------------------------------------------------------
    # Building and updating

    @classmethod
    async def load(cls, db: Database) -> SearchIndex:
        """Read every show's titles, premiere year and popularity once, in chunks (no second copy of the catalog)."""
        index = cls()
        alternatives: dict[int, list[str]] = {}
        for show_id, title in await db.fetchall("SELECT show_id, title FROM show_titles WHERE is_primary = 0"):
            alternatives.setdefault(show_id, []).append(title)
        # Entries are numbered in popularity order, so that posting lists (kept in entry order) list popular
        # titles first and a capped candidate set keeps the popular ones.
        async with db.reader.execute(
            "SELECT id, title, premiered, popularity FROM shows ORDER BY popularity DESC, id"
        ) as cursor:
            while rows := await cursor.fetchmany(5000):
                for show_id, title, premiered, popularity in rows:
                    index._add_show(show_id, [title, *alternatives.get(show_id, ())], year_of(premiered), popularity)
        index._finish_bulk_load()
        log.info("Search index: %d shows, %d titles", len(index), len(index._entry_norm))
        return index

    @classmethod
    def load_sync(cls, db_path: Path) -> SearchIndex:
        """What load() builds, read on a connection of the calling thread: a worker thread rebuilds the index (seconds
        at 90,000 shows) while the event loop keeps serving from the current one."""
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            alternatives = conn.execute("SELECT show_id, title FROM show_titles WHERE is_primary = 0").fetchall()
            shows = conn.execute("SELECT id, title, premiered, popularity FROM shows").fetchall()
        finally:
            conn.close()
        index = cls.from_rows(
            (
                (show_id, title, year_of(premiered), float(popularity or 0))
                for show_id, title, premiered, popularity in shows
            ),
            alternatives,
        )
        log.info("Search index rebuilt: %d shows", len(index))
        return index

    @classmethod
    def from_rows(
        cls,
        shows: Iterable[tuple[int, str, int | None, float]],
        alt_titles: Iterable[tuple[int, str]] = (),
    ) -> SearchIndex:
        """An index from (show id, primary title, year, popularity) rows and (show id, title) alternative titles."""
        index = cls()
        alternatives: dict[int, list[str]] = {}
        for show_id, title in alt_titles:
            alternatives.setdefault(show_id, []).append(title)
        for show_id, title, year, popularity in sorted(shows, key=lambda row: (-(row[3] or 0), row[0])):
            index._add_show(show_id, [title, *alternatives.get(show_id, ())], year, popularity)
        index._finish_bulk_load()
        return index

    def _add_show(self, show_id: int, titles: Sequence[str], year: int | None, popularity: float | None) -> list[int]:
        """Append the show's entries to the columns and posting lists; sorted structures are the caller's job."""
        if show_id in self._primary:
            self.remove_show(show_id)
        self.generation += 1
        added: list[int] = []
        seen: set[str] = set()
        for title in titles:
            norm = normalise(title)
            key = norm or " ".join(title.casefold().split())
            if not key or key in seen:
                continue  # the same title twice (as primary and as alternative), or nothing searchable
            seen.add(key)
            self._forget_prefixes(norm)
            words = tuple(self._words.setdefault(word, word) for word in norm.split())
            entry = self._append_entry(show_id, title, norm, words, year, popularity, primary=not added)
            for word in set(words):
                postings = self._postings.get(word)
                if postings is None:
                    self._postings[word] = array("q", (entry,))
                else:
                    postings.append(entry)  # entry numbers only grow: the array stays sorted
            if not norm:
                self._raw_exact.setdefault(key, []).append(entry)
            added.append(entry)
        if not added:
            # A show whose titles have nothing searchable still needs an entry to be shown by popular().
            title = titles[0] if titles else str(show_id)
            added.append(self._append_entry(show_id, title, "", (), year, popularity, primary=True))
        self._primary[show_id] = added[0]
        if len(added) > 1:
            self._alternatives[show_id] = added[1:]
        return added

    def _append_entry(
        self,
        show_id: int,
        title: str,
        norm: str,
        words: tuple[str, ...],
        year: int | None,
        popularity: float | None,
        *,
        primary: bool,
    ) -> int:
        """A new entry at the end of every column (they must stay the same length); its number."""
        entry = len(self._entry_norm)
        self._entry_show.append(show_id)
        self._entry_year.append(year if year and 0 < year < 65536 else 0)
        self._entry_popularity.append(float(popularity or 0))
        self._entry_primary.append(primary)
        self._entry_norm.append(norm)
        self._entry_title.append(title)
        self._entry_words.append(words)
        return entry

    def _finish_bulk_load(self) -> None:
        live = [entry for entry in range(len(self._entry_norm)) if self._entry_show[entry] >= 0]
        self._by_popularity = array("q", sorted(live, key=self._popularity_key))
        searchable = sorted((e for e in live if self._entry_norm[e]), key=self._entry_norm.__getitem__)
        self._sorted_keys = [self._entry_norm[entry] for entry in searchable]
        self._sorted_entries = array("q", searchable)
        self._vocabulary = sorted(self._postings)
        self._words_of_length = {}
        for word in self._vocabulary:
            self._words_of_length.setdefault(len(word), []).append(word)
        self._titles_by_shape = {}
        for norm in self._sorted_keys:
            self._titles_by_shape.setdefault((norm[0], len(norm)), []).append(norm)

    def _forget_prefixes(self, norm: str) -> None:
        if self._prefix_top:
            for end in range(1, len(norm) + 1):
                self._prefix_top.pop(norm[:end], None)

    def _popularity_key(self, entry: int) -> tuple[float, int, int]:
        return (-self._entry_popularity[entry], self._entry_show[entry], entry)

    def _show_entries(self, show_id: int) -> list[int]:
        primary = self._primary.get(show_id)
        if primary is None:
            return []
        return [primary, *self._alternatives.get(show_id, ())]

    def upsert_show(self, show_id: int, titles: Sequence[str], year: int | None, popularity: float) -> None:
        """Add a show or replace what the index knows of it. `titles[0]` is the primary title."""
        if not titles:
            raise ValueError("a show needs at least its primary title")
        self.remove_show(show_id)
        new_words = [word for title in titles for word in normalise(title).split() if word not in self._postings]
        for entry in self._add_show(show_id, titles, year, popularity):
            norm = self._entry_norm[entry]
            if norm:
                at = bisect_right(self._sorted_keys, norm)
                self._sorted_keys.insert(at, norm)
                self._sorted_entries.insert(at, entry)
                self._titles_by_shape.setdefault((norm[0], len(norm)), []).append(norm)
            insort(self._by_popularity, entry, key=self._popularity_key)
        for word in set(new_words):
            if word in self._postings:
                insort(self._vocabulary, word)
                self._words_of_length.setdefault(len(word), []).append(word)

    def remove_show(self, show_id: int) -> None:
        """Forget a show; unknown ids are ignored."""
        entries = self._show_entries(show_id)
        self.generation += 1
        self._primary.pop(show_id, None)
        self._alternatives.pop(show_id, None)
        for entry in entries:
            norm = self._entry_norm[entry]
            self._forget_prefixes(norm)
            if norm:
                low = bisect_left(self._sorted_keys, norm)
                high = bisect_right(self._sorted_keys, norm, low)
                for position in range(low, high):
                    if self._sorted_entries[position] == entry:
                        del self._sorted_keys[position]
                        del self._sorted_entries[position]
                        break
                self._titles_by_shape[(norm[0], len(norm))].remove(norm)
            else:
                raw = " ".join(self._entry_title[entry].casefold().split())
                if entry in self._raw_exact.get(raw, ()):
                    self._raw_exact[raw].remove(entry)
                    if not self._raw_exact[raw]:
                        del self._raw_exact[raw]
            self._by_popularity.remove(entry)
            for word in set(self._entry_words[entry]):
                postings = self._postings[word]
                postings.remove(entry)
                if not postings:
                    del self._postings[word]
                    self._vocabulary.pop(bisect_left(self._vocabulary, word))
                    self._words_of_length[len(word)].remove(word)
            self._entry_show[entry] = -1
            self._entry_words[entry] = ()

    async def refresh(self, db: Database, show_ids: Iterable[int]) -> None:
        """Bring the given shows up to date from the database (after an import): upsert or remove each. Read in
        chunks of a few hundred (a page of the TVmaze index is 250 shows), not two queries a show."""
        wanted = sorted(set(show_ids))
        for start in range(0, len(wanted), REFRESH_CHUNK):
            chunk = wanted[start : start + REFRESH_CHUNK]
            marks = ",".join("?" * len(chunk))  # only placeholders are formatted in
            rows = {
                int(row[0]): row
                for row in await db.fetchall(
                    f"SELECT id, title, premiered, popularity FROM shows WHERE id IN ({marks})", chunk
                )
            }
            alternatives: dict[int, list[str]] = {}
            for show_id, title in await db.fetchall(
                f"SELECT show_id, title FROM show_titles WHERE show_id IN ({marks}) AND is_primary = 0 ORDER BY id",
                chunk,
            ):
                alternatives.setdefault(int(show_id), []).append(title)
            for show_id in chunk:
                row = rows.get(show_id)
                if row is None:
                    self.remove_show(show_id)
                else:
                    titles = [row["title"], *alternatives.get(show_id, ())]
                    self.upsert_show(show_id, titles, year_of(row["premiered"]), float(row["popularity"] or 0))

    def __len__(self) -> int:
        return len(self._primary)

    def __contains__(self, show_id: object) -> bool:
        return show_id in self._primary

    # ----------------------------------------------------------------------------------------------------------
    # Queries

    def popular(self, *, limit: int = AUTOCOMPLETE_LIMIT, boosts: Mapping[int, float] | None = None) -> list[Match]:
        """The server's favourites (highest boost first), then the best known shows overall."""
        limit = max(0, limit)
        chosen: list[int] = []
        if boosts:
            chosen = list(Boosts.of(boosts).top(self, limit))
        seen = set(chosen)
        for entry in self._by_popularity:
            if len(chosen) >= limit:
                break
            show_id = self._entry_show[entry]
            if show_id not in seen:
                seen.add(show_id)
                chosen.append(show_id)
        return [self._match(self._primary[show_id], 100.0) for show_id in chosen]

    def search(
        self, query: str, *, limit: int = AUTOCOMPLETE_LIMIT, boosts: Mapping[int, float] | None = None
    ) -> list[Match]:
        """The shows whose titles best match `query`, best first; [] for an empty or unmatched query."""
        entries, norm = self._ranked(query, limit, boosts)
        return [
            self._match(
                entry, 100.0 if self._entry_norm[entry] == norm else round(ratio(norm, self._entry_norm[entry]), 1)
            )
            for entry in entries
        ]

    def choices(self, text: str | None, boosts: Mapping[int, float] | None = None) -> list[tuple[str, str]]:
        """Autocomplete (name, value) pairs: at most 25, each at most 100 characters, value = `choice_value`.

        Empty input lists the server's favourites and the popular shows. Built straight from the index's columns:
        this runs on every keystroke.
        """
        if text is None or not text.strip():
            entries = [self._primary[match.show_id] for match in self.popular(limit=AUTOCOMPLETE_LIMIT, boosts=boosts)]
        else:
            entries, _ = self._ranked(text, AUTOCOMPLETE_LIMIT, boosts)
        pairs = []
        for entry in entries:
            show_id = self._entry_show[entry]
            primary = self._primary[show_id]
            year = self._entry_year[primary]
            name = f"{self._entry_title[primary]} ({year})" if year else self._entry_title[primary]
            if entry != primary:
                name = f"{name} — {self._entry_title[entry]}"
            pairs.append((_choice_name(name, show_id), choice_value(show_id)))
        return pairs

    def _ranked(self, query: str, limit: int, boosts: Mapping[int, float] | None) -> tuple[list[int], str]:
        """The best entry of each of the best `limit` shows, best first, and the normalised query."""
        if limit <= 0:
            return [], ""
        text = query[:MAX_QUERY_CHARS]
        norm = normalise(text)
        favoured = Boosts.of(boosts)
        scores = favoured.scores
        keys: dict[int, _RankKey] = {}
        if not norm:
            raw = " ".join(text.casefold().split())
            for entry in self._raw_exact.get(raw, ()) if raw else ():
                keys[entry] = self._key(entry, TIER_EXACT, scores)
        else:
            self._prefix_candidates(norm, limit, scores, favoured, keys)
            if len({self._entry_show[e] for e in keys}) < limit:
                self._word_candidates(norm, scores, favoured, keys)
        best: dict[int, tuple[_RankKey, int]] = {}
        for entry, key in keys.items():
            show_id = self._entry_show[entry]
            current = best.get(show_id)
            if current is None or key < current[0]:
                best[show_id] = (key, entry)
        return [entry for _, entry in heapq.nsmallest(limit, best.values())], norm

    def resolve(self, text: str, boosts: Mapping[int, float] | None = None) -> Match | None:
        """The show a title typed without picking a choice means: an exact title (primary or alternative; among
        equal titles the server's favourite, then the most popular), else the best match when it is confidently close
        (`edits_allowed`) and strictly closer than the runner-up; otherwise None (the caller offers suggestions).
        """
        matches = self.search(text, limit=2, boosts=boosts)
        if not matches:
            return None
        best = matches[0]
        query = normalise(text[:MAX_QUERY_CHARS])
        if not query or best.score == 100.0:
            return best  # an exact title (text without letters or digits only ever matches one exactly)
        distance = title_distance(query, normalise(best.matched_title or best.title))
        if distance > edits_allowed(best.matched_title or best.title):
            return None
        if len(matches) > 1:
            runner_up = matches[1]
            if title_distance(query, normalise(runner_up.matched_title or runner_up.title)) <= distance:
                return None  # "the ofice" when two shows are called "The Office ...": ask, do not guess
        return best

    # ----------------------------------------------------------------------------------------------------------
    # Candidate generation

    def _key(
        self,
        entry: int,
        tier: int,
        boosts: Mapping[int, float],
        closeness: tuple[int, int, int] = (0, 0, 0),
    ) -> _RankKey:
        """The sort key: tier, closeness (unmatched query words, edit cost, extra title words), boost, popularity."""
        unmatched, cost, extra = closeness
        show_id = self._entry_show[entry]
        boost = boosts.get(show_id, 0.0) if boosts else 0.0
        norm = self._entry_norm[entry]
        # Shorter titles first ("The Office" before "The Office Party"); a show's primary title before its others.
        not_primary = not self._entry_primary[entry]
        popularity = self._entry_popularity[entry]
        return (tier, unmatched, 0.0, cost, extra, -boost, -popularity, 0.0, len(norm), not_primary, norm, show_id)

    def _prefix_candidates(
        self, norm: str, limit: int, boosts: Mapping[int, float], favoured: Boosts, keys: dict[int, _RankKey]
    ) -> None:
        """Exact titles and titles that start with the query."""
        low = bisect_left(self._sorted_keys, norm)
        high = bisect_left(self._sorted_keys, norm + "\uffff", low)
        if high - low <= PREFIX_SCAN_MAX:
            for position in range(low, high):
                entry = self._sorted_entries[position]
                tier = TIER_EXACT if self._sorted_keys[position] == norm else TIER_PREFIX
                keys[entry] = self._key(entry, tier, boosts)
            return
        # A short prefix shared by thousands of titles: the exact ones, the boosted shows, and the most popular of
        # the rest. Entries are numbered in popularity order at load, so the smallest numbers are the most popular
        # (shows added later by `upsert_show` rank here as if least popular; they still rank right below this size).
        position = low
        while position < high and self._sorted_keys[position] == norm:
            keys[self._sorted_entries[position]] = self._key(self._sorted_entries[position], TIER_EXACT, boosts)
            position += 1
        for entry in favoured.entries_under_prefix(self, norm):
            if entry not in keys:
                keys[entry] = self._key(entry, TIER_PREFIX, boosts)
        wanted = limit * 2
        top = self._prefix_top.get(norm) if wanted <= PREFIX_TOP else None
        if top is None:
            top = heapq.nsmallest(max(wanted, PREFIX_TOP), self._sorted_entries[position:high])
            if wanted <= PREFIX_TOP:
                self._prefix_top[norm] = top
        for entry in top[:wanted]:
            if entry not in keys:
                keys[entry] = self._key(entry, TIER_PREFIX, boosts)

    def _query_words(
        self, norm: str, memo: dict[str, tuple[dict[str, int], tuple[str, str] | None]], *, expand_exact: bool = False
    ) -> tuple[list[_QueryWord], int]:
        """The query's words with the vocabulary words each may stand for, and the cost of respacing the query.

        With `expand_exact`, a word that is itself in the vocabulary also stands for its one-edit neighbours
        ("strange" for "stranger"): the second pass, when no title matched every word. `memo` keeps the typo work
        on misspelt words from the first pass for the second.
        """
        texts, respaced = self._merge_split_words(norm.split()[:MAX_QUERY_WORDS])
        words: list[_QueryWord] = []
        two_edit_scans = fuzzy_words = 0
        for position, text in enumerate(texts):
            word = _QueryWord(text, is_last=position == len(texts) - 1)
            if text in self._postings:
                word.costs[text] = 0
            if word.is_last:
                low = bisect_left(self._vocabulary, text)
                high = bisect_left(self._vocabulary, text + "\uffff", low)
                if high - low > PREFIX_MAX_WORDS:
                    word.prefix_checked = True
                else:
                    word.costs.update((w, 0) for w in self._vocabulary[low:high])
            wants_fuzzy = not word.costs or (expand_exact and text in word.costs and len(text) >= MIN_TWO_EDIT_WORD)
            if not word.costs and text in memo:  # worked out by the first pass
                word.costs, split = memo[text]
                if split:
                    respaced += 1
                    words += [_QueryWord(part, is_last=False, costs={part: 0}) for part in split]
                    continue
            elif (
                wants_fuzzy
                and not word.prefix_checked
                and MIN_FUZZY_WORD <= len(text) <= MAX_FUZZY_WORD
                and fuzzy_words < MAX_FUZZY_WORDS
            ):
                fuzzy_words += 1
                for variant in edits1(text):
                    if variant in self._postings:
                        word.costs.setdefault(variant, 1)
                if not word.costs and word.is_last and len(text) >= 4:
                    word.costs.update(self._fuzzy_prefix(text))
                if not word.costs and len(text) >= 5:
                    split = self._split(text)
                    if split:  # "breakingbad", "thegmodern": two words with the space missing or mistyped
                        memo[text] = ({}, split)
                        respaced += 1
                        words += [_QueryWord(part, is_last=False, costs={part: 0}) for part in split]
                        continue
                if not word.costs and len(text) >= MIN_TWO_EDIT_WORD and two_edit_scans < MAX_TWO_EDIT_SCANS:
                    two_edit_scans += 1
                    word.costs.update(self._two_edits(text))
                if text not in word.costs:
                    memo[text] = (word.costs, None)
            words.append(word)
        if words and texts and words[-1].text != texts[-1]:
            words[-1].is_last = False  # the query's last word was split: both parts are complete words
        return words, respaced

    def _merge_split_words(self, texts: list[str]) -> tuple[list[str], int]:
        """Join two query words that make one known word: "stranger thin gs" -> "stranger things"."""
        known = self._postings
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

    def _corrected_titles(self, words: list[_QueryWord]) -> list[int]:
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
            low = bisect_left(self._sorted_keys, title)
            high = bisect_right(self._sorted_keys, title, low)
            found += self._sorted_entries[low:high]
        return found

    def _split(self, text: str) -> tuple[str, str] | None:
        """Two known words run together ("breakingbad"), or joined by a letter typed for the space ("thegmodern")."""
        known = self._postings
        # Parts of three letters or more: "dexer" is Dexter misspelt, not "de" and "er".
        for cut in range(3, len(text) - 2):
            if text[:cut] in known and text[cut:] in known:
                return text[:cut], text[cut:]
        for cut in range(3, len(text) - 3):
            if text[:cut] in known and text[cut + 1 :] in known:
                return text[:cut], text[cut + 1 :]
        return None

    def _two_edits(self, text: str) -> dict[str, int]:
        """Vocabulary words two edits away ("minhunaer"): the rare case, so a scan of the words of similar length."""
        found: dict[str, int] = {}
        for length in range(len(text) - 2, len(text) + 3):
            choices = self._words_of_length.get(length)
            if choices:
                for word, distance, _ in process.extract(
                    text, choices, scorer=OSA.distance, score_cutoff=2, limit=TWO_EDIT_WORDS
                ):
                    found[word] = int(distance)
        return found

    def _fuzzy_prefix(self, text: str) -> dict[str, int]:
        """Vocabulary words that start with a one-edit variant of a word still being typed ("strnag")."""
        found: dict[str, int] = {}
        for variant in edits1(text):
            if len(variant) < 3:
                continue
            low = bisect_left(self._vocabulary, variant)
            if low < len(self._vocabulary) and self._vocabulary[low].startswith(variant):
                high = min(bisect_left(self._vocabulary, variant + "\uffff", low), low + PREFIX_MAX_WORDS)
                for word in self._vocabulary[low:high]:
                    found.setdefault(word, 1)
        return found

    def _word_candidates(
        self, norm: str, boosts: Mapping[int, float], favoured: Boosts, keys: dict[int, _RankKey]
    ) -> None:
        """Titles containing the query's words anywhere, exactly, as prefixes or misspelt."""
        memo: dict[str, tuple[dict[str, int], tuple[str, str] | None]] = {}
        best = self._score_words(norm, boosts, favoured, keys, memo, expand_exact=False)
        expandable = any(len(text) >= MIN_TWO_EDIT_WORD and text in self._postings for text in norm.split())
        if (best is None or best > 0) and expandable:
            # No title has every word: some "correct" word may be a misspelling of another ("strange things").
            best = self._score_words(norm, boosts, favoured, keys, memo, expand_exact=True)
        if (best is None or best > 0) and len(norm) <= MAX_WHOLE_TITLE_QUERY:
            # Still no title with every word: compare the whole query with whole titles of its shape, for
            # mistakes across word boundaries ("thesbos": The Boys, "mpadfmen": Mad Men).
            self._whole_title_candidates(norm, boosts, keys)

    def _whole_title_candidates(self, norm: str, boosts: Mapping[int, float], keys: dict[int, _RankKey]) -> None:
        allowed = edits_for_length(len(norm))  # here the spaces count: the scan compares spaced titles
        for length in range(len(norm) - allowed, len(norm) + allowed + 1):
            choices = self._titles_by_shape.get((norm[0], length))
            if not choices:
                continue
            found = process.extract(norm, choices, scorer=OSA.distance, score_cutoff=allowed, limit=AUTOCOMPLETE_LIMIT)
            for title, distance, _ in found:
                low = bisect_left(self._sorted_keys, title)
                high = bisect_right(self._sorted_keys, title, low)
                for entry in self._sorted_entries[low:high]:
                    key = self._key(entry, TIER_WORDS, boosts, (0, int(distance), 0))
                    if entry not in keys or key < keys[entry]:
                        keys[entry] = key

    def _score_words(
        self,
        norm: str,
        boosts: Mapping[int, float],
        favoured: Boosts,
        keys: dict[int, _RankKey],
        memo: dict[str, tuple[dict[str, int], tuple[str, str] | None]],
        *,
        expand_exact: bool,
    ) -> int | None:
        """One pass of `_word_candidates`; returns the fewest query words any candidate missed (None: none found)."""
        words, respaced = self._query_words(norm, memo, expand_exact=expand_exact)
        if not words:
            return None
        anchors: list[dict[int, int]] = []
        for word in words:
            if word.prefix_checked or not word.costs:
                continue
            if sum(len(self._postings[w]) for w in word.costs) <= ANCHOR_MAX_POSTINGS:
                entry_costs: dict[int, int] = {}
                for vocabulary_word, cost in sorted(word.costs.items(), key=lambda item: -item[1]):
                    entry_costs.update(dict.fromkeys(self._postings[vocabulary_word], cost))  # cheapest cost wins
                word.entry_costs = entry_costs
                anchors.append(entry_costs)
        anchors.sort(key=len)
        if anchors:
            # Titles with all of the (up to three) rarest words first; if they are too few, titles with either of
            # the two rarest: a title with one word misspelt beyond recognition is still found by the other.
            every = set(anchors[0]).intersection(*anchors[1:3])
            favoured_entries = favoured.entries(self)
            candidates = _capped(every, favoured_entries)
            if len(anchors) > 1 and len(every) < AUTOCOMPLETE_LIMIT:
                either = set(anchors[0]).union(anchors[1])
                candidates += _capped(either - every, favoured_entries, UNION_SCORED)
        else:
            candidates = self._common_word_candidates(words)
        candidates += self._corrected_titles(words)
        fewest_missed: int | None = None
        # The hot loop: locals instead of attribute look-ups, the key built inline (see `_key`).
        entry_words, entry_show, entry_norm = self._entry_words, self._entry_show, self._entry_norm
        entry_popularity, entry_primary = self._entry_popularity, self._entry_primary
        word_count = len(words)
        # Missing a rare word ("killing") is worse than missing a common one ("he"): each word weighs its
        # inverse document frequency, and among candidates missing as many words, the lighter misses rank first.
        titles = len(self._sorted_keys) + 1
        weights = [math.log(titles / (self._titles_with(word) + 1)) for word in words]
        for entry in candidates:
            title_words = entry_words[entry]
            unmatched = 0
            missed = 0.0
            cost = respaced
            for word, weight in zip(words, weights, strict=True):
                word_cost = word.cost_of(entry, title_words)
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
            key = (
                TIER_WORDS,
                unmatched,
                round(missed, 3),
                cost,
                max(0, len(title_words) - word_count + unmatched),
                -boosts.get(entry_show[entry], 0.0),
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

    def _titles_with(self, word: _QueryWord) -> int:
        if word.entry_costs is not None:
            return len(word.entry_costs)
        if word.prefix_checked:
            return len(self._sorted_keys)  # a prefix of very many words: it tells little
        return sum(len(self._postings[w]) for w in word.costs)

    def _common_word_candidates(self, words: list[_QueryWord]) -> list[int]:
        """Every query word is very common ("the", "a"): the most popular titles containing them all."""
        checkable = [w for w in words if w.costs or w.prefix_checked]
        if not checkable:
            return []
        found: list[int] = []
        for entry in self._by_popularity[:COMMON_WORD_SCAN]:
            title_words = self._entry_words[entry]
            if all(word.cost_in(title_words) is not None for word in checkable):
                found.append(entry)
                if len(found) >= AUTOCOMPLETE_LIMIT:
                    break
        return found

    # ----------------------------------------------------------------------------------------------------------
    # Results

    def _match(self, entry: int, score: float) -> Match:
        show_id = self._entry_show[entry]
        primary = self._primary[show_id]
        title = self._entry_title[primary]
        matched = self._entry_title[entry] if entry != primary else None
        year = self._entry_year[primary] or None
        return Match(show_id, title, year, score, matched)


class Boosts(Mapping[int, float]):
    """A server's vote boosts (show id -> net votes) and what search derives from them, worked out once per snapshot
    rather than on every keystroke: the entries of the shows it likes (positive boost), which join any candidate
    list that had to be capped so that a server's favourites are never cut off, and its top favourites for the empty
    query. Boosts read with their vote counts (`from_tallies`) follow votes one change at a time (`apply`), keeping
    the derived parts in step; a plain mapping passed to a search is wrapped for that one query (`of`).
    """

    __slots__ = ("_by_norm", "_counts", "_entries", "_entries_of", "_favoured", "_top", "_top_of", "scores")

    def __init__(self, scores: Mapping[int, float] | None = None) -> None:
        self.scores: dict[int, float] = dict(scores or {})
        self._counts: dict[int, int] | None = None  # show id -> votes behind its score; None: read-only
        self._favoured: set[int] = {show_id for show_id, boost in self.scores.items() if boost > 0}
        # Derived from an index (valid for one `generation` of it), on first use:
        self._entries_of: tuple[SearchIndex, int] | None = None
        self._entries: set[int] = set()  # the favourites' entries
        self._by_norm: list[tuple[str, int]] = []  # (normalised title, entry) of those, sorted: prefix look-ups
        self._top_of: tuple[SearchIndex, int, int] | None = None  # (index, generation, limit)
        self._top: list[int] = []  # show ids, best first

    @classmethod
    def of(cls, boosts: Mapping[int, float] | None) -> Boosts:
        return boosts if isinstance(boosts, Boosts) else cls(boosts)

    @classmethod
    def from_tallies(cls, tallies: Mapping[int, tuple[int, int]]) -> Boosts:
        """From show id -> (net votes, number of votes), for the shows with votes (`bot.votes.vote_tallies`)."""
        boosts = cls({show_id: float(net) for show_id, (net, _) in tallies.items()})
        boosts._counts = {show_id: count for show_id, (_, count) in tallies.items()}
        return boosts

    def __getitem__(self, show_id: int) -> float:
        return self.scores[show_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self.scores)

    def __len__(self) -> int:
        return len(self.scores)

    def apply(self, show_id: int, old_value: int | None, new_value: int | None) -> None:
        """One member's vote on a show changed from `old_value` to `new_value` (None: no vote)."""
        if self._counts is None:
            raise ValueError("only boosts read with their vote counts can follow votes")
        count = self._counts.get(show_id, 0) + (new_value is not None) - (old_value is not None)
        was = self.scores.get(show_id, 0.0)
        if count > 0:
            now = was + (new_value or 0) - (old_value or 0)
            self._counts[show_id] = count
            self.scores[show_id] = now
        else:  # its last vote went: a fresh read would not list it
            now = 0.0
            self._counts.pop(show_id, None)
            self.scores.pop(show_id, None)
        if (was > 0) != (now > 0):
            self._favour(show_id, now > 0)
        if self._top_of is not None and now != was:
            index, generation, limit = self._top_of
            top = self._top
            if (
                generation != index.generation
                or show_id in top
                or (
                    now > 0
                    and show_id in index._primary
                    and (len(top) < limit or self._top_key(index, show_id) < self._top_key(index, top[-1]))
                )
            ):
                self._top_of = None  # it moved within, into or out of the top: worked out again when next asked

    def forget(self, show_id: int) -> None:
        """A show left the catalog, and its votes with it (they cascade; no vote change is announced)."""
        if self.scores.pop(show_id, 0.0) > 0:
            self._favour(show_id, False)
        if self._counts is not None:
            self._counts.pop(show_id, None)
        if show_id in self._top:
            self._top_of = None

    def _favour(self, show_id: int, favoured: bool) -> None:
        if favoured:
            self._favoured.add(show_id)
        else:
            self._favoured.discard(show_id)
        if self._entries_of is None:
            return
        index, generation = self._entries_of
        if generation != index.generation:
            self._entries_of = None
            return
        for entry in index._show_entries(show_id):
            if favoured:
                self._entries.add(entry)
                insort(self._by_norm, (index._entry_norm[entry], entry))
            else:
                self._entries.discard(entry)
                self._by_norm.remove((index._entry_norm[entry], entry))

    def _derive_entries(self, index: SearchIndex) -> None:
        if self._entries_of != (index, index.generation):
            entries = {entry for show_id in self._favoured for entry in index._show_entries(show_id)}
            self._entries = entries
            self._by_norm = sorted((index._entry_norm[entry], entry) for entry in entries)
            self._entries_of = (index, index.generation)

    def entries(self, index: SearchIndex) -> set[int]:
        """The entries (every title) of the shows the server likes."""
        self._derive_entries(index)
        return self._entries

    def entries_under_prefix(self, index: SearchIndex, norm: str) -> list[int]:
        """The favourites' entries whose normalised title starts with `norm` (not empty)."""
        self._derive_entries(index)
        low = bisect_left(self._by_norm, (norm,))
        high = bisect_left(self._by_norm, (norm + "\uffff",), low)
        return [entry for _, entry in self._by_norm[low:high]]

    def _top_key(self, index: SearchIndex, show_id: int) -> tuple[float, tuple[float, int, int]]:
        return (-self.scores[show_id], index._popularity_key(index._primary[show_id]))

    def top(self, index: SearchIndex, limit: int) -> list[int]:
        """The server's `limit` favourite shows in the index: highest boost first, then the most popular."""
        if self._top_of != (index, index.generation, limit):
            primary = index._primary
            in_index = (show_id for show_id in self._favoured if show_id in primary)
            self._top = heapq.nsmallest(limit, in_index, key=lambda show_id: self._top_key(index, show_id))
            self._top_of = (index, index.generation, limit)
        return self._top


def _capped(entries: set[int], favoured: set[int], cap: int = MAX_SCORED) -> list[int]:
    """At most `cap` of `entries` (plus the favoured ones): the most popular, whose entry numbers are smallest."""
    if len(entries) <= cap:
        return list(entries)
    chosen = heapq.nsmallest(cap, entries)
    last = chosen[-1]
    chosen += sorted(entry for entry in entries & favoured if entry > last)
    return chosen


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


def is_confident(query: str, title: str) -> bool:
    """Whether a typed (normalised) title is close enough to a (normalised) show title to act on without asking."""
    return title_distance(query, title) <= edits_allowed(title)


def autocomplete_choices(
    index: SearchIndex, text: str | None, boosts: Mapping[int, float] | None = None
) -> list[tuple[str, str]]:
    """(name, value) pairs for an autocomplete answer: at most 25, each at most 100 characters (`choice_value`)."""
    return index.choices(text, boosts)


CHOICE_VALUE_PREFIX = "id:"
_CHOICE_VALUE = re.compile(r"id:([0-9]{1,19})")
MAX_SHOW_ID = 2**63 - 1  # SQLite's largest integer: a larger number cannot be an id (nor a query parameter)


def choice_value(show_id: int) -> str:
    """What an autocomplete choice for a show sends back: `id:` and the show id. Never a bare number, which is read as
    a title ("24", "1883" and "911" are shows): a typed title cannot be mistaken for this, nor this for a title."""
    return f"{CHOICE_VALUE_PREFIX}{show_id}"


def show_id_of_choice(text: str) -> int | None:
    """The show id in a choice value (`id:24`, as `choice_value` writes it), or None for anything else."""
    matched = _CHOICE_VALUE.fullmatch(text.strip())
    if matched is None or int(matched.group(1)) > MAX_SHOW_ID:
        return None
    return int(matched.group(1))


def _choice_name(name: str, show_id: int) -> str:
    if len(name) > CHOICE_MAX_CHARS or not name.isprintable():
        name = " ".join(name.split())  # no newlines or control characters in a choice
        name = "".join(ch for ch in name if ch.isprintable())
        if len(name) > CHOICE_MAX_CHARS:
            name = name[: CHOICE_MAX_CHARS - 1].rstrip() + "…"
    return name or str(show_id)


def not_found_message(query: str, suggestions: Sequence[Match]) -> str:
    """One short line: no such show, and up to five suggestions. The query is shortened and made inert."""
    from bot.common.render import plain_line

    shown = plain_line(query, limit=60)
    if not shown:
        return "Give the title of a show."  # only spaces or invisible characters were typed
    if not suggestions:
        return f'No show called "{shown}".'
    names = ", ".join(plain_line(match.label(), limit=80) for match in suggestions[:5])
    return f'No show called "{shown}". Did you mean: {names}?'
