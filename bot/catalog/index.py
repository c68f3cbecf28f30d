"""The title index's storage: every title a show is known by, in memory, loaded from the database and kept up to date.

The index holds every title a show is known by (primary and alternative), normalised with `bot.common.text.normalise`,
in columns (arrays and lists indexed by entry number; entries are numbered in popularity order at load):

- the sorted normalised titles, for exact and prefix look-ups by bisection (the most popular titles under a very
  common prefix such as "t" are remembered until a title under it changes);
- an inverted index from each title word to the titles that contain it, and the sorted vocabulary, for words typed
  anywhere in a title and for the prefix of the word still being typed.

Shows added with `upsert_show` after the load rank by popularity everywhere except when thinning very large
candidate sets, where they count as least popular (entry numbers only grow).

This module only fills and updates the columns. Searching them is `bot.catalog.search.SearchIndex`'s, with
`typos`, `ranking`, `boosts` and `choices`: those modules read the columns directly (a query touches them
thousands of times; accessors would cost), so the underscored names are private to `bot.catalog`, not to the class.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Self

from bot.common.text import normalise
from bot.storage import Location, connect_sync

if TYPE_CHECKING:
    from bot.catalog.typos import LetterCounts
    from bot.storage import Database

log = logging.getLogger(__name__)

REFRESH_CHUNK = 500  # shows read back per query when the index learns of catalog changes


def year_of(premiered: str | None) -> int | None:
    if premiered and len(premiered) >= 4 and premiered[:4].isdigit():
        return int(premiered[:4])
    return None


class TitleIndex:
    """Every show title in memory, in the columns typo-tolerant search reads (`SearchIndex` adds the queries).

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
        self._letter_counts: dict[int, LetterCounts] = {}  # of those words, per length: `typos`' filter
        # Normalised titles by (first letter, length): the whole-title scan for titles typed with spaces wrong.
        self._titles_by_shape: dict[tuple[str, int], list[str]] = {}
        self._words: dict[str, str] = {}  # interning: one string object per distinct word
        # The most popular entries under each very common prefix ("t", "th"), computed on first use and dropped
        # when a title under that prefix changes.
        self._prefix_top: dict[str, list[int]] = {}
        # Bumped whenever a show's entries change: what a `Boosts` derived from this index is valid for.
        self.generation = 0

    @classmethod
    async def load(cls, db: Database) -> Self:
        """Read every show's titles, premiere year and popularity once, in chunks (no second copy of the catalog)."""
        index = cls()
        alternatives: dict[int, list[str]] = {}
        for show_id, title in await db.fetchall("SELECT show_id, title FROM show_titles WHERE is_primary = 0"):
            alternatives.setdefault(show_id, []).append(title)
        # Entries are numbered in popularity order, so that posting lists (kept in entry order) list popular
        # titles first and a capped candidate set keeps the popular ones.
        async for rows in db.fetch_chunks(
            "SELECT id, title, premiered, popularity FROM shows ORDER BY popularity DESC, id"
        ):
            for show_id, title, premiered, popularity in rows:
                index._add_show(show_id, [title, *alternatives.get(show_id, ())], year_of(premiered), popularity)
        index._finish_bulk_load()
        log.info("Search index: %d shows, %d titles", len(index), len(index._entry_norm))
        return index

    @classmethod
    def load_sync(cls, location: Location) -> Self:
        """What load() builds, read on a connection of the calling thread: a worker thread rebuilds the index (seconds
        at 90,000 shows) while the event loop keeps serving from the current one."""
        conn = connect_sync(location, read_only=True)
        try:
            alternatives = [
                (int(show_id), str(title))
                for show_id, title in conn.execute("SELECT show_id, title FROM show_titles WHERE is_primary = 0")
            ]
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
    ) -> Self:
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
        self._letter_counts = {}
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
                    self._letter_counts.pop(len(word), None)
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
