"""A server's vote boosts for title search: its net votes per show, and what search derives from them (its
favourites' entries in the index and its top favourites), kept in step with every vote instead of being worked out
on every keystroke."""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.catalog.index import TitleIndex


class Boosts(Mapping[int, float]):
    """A server's vote boosts (show id -> net votes) and what search derives from them, worked out once per snapshot
    rather than on every keystroke: the entries of the shows it likes (positive boost), which join any candidate
    list that had to be capped so that a server's favourites are never cut off, and its top favourites for the empty
    query. Boosts read with their vote counts (`from_tallies`) follow votes one change at a time (`apply`), keeping
    the derived parts in step; a plain mapping passed to a search is wrapped for that one query (`of`).
    """

    __slots__ = (
        "_best_under",
        "_by_norm",
        "_counts",
        "_entries",
        "_entries_of",
        "_favoured",
        "_top",
        "_top_of",
        "scores",
    )

    def __init__(self, scores: Mapping[int, float] | None = None) -> None:
        self.scores: dict[int, float] = dict(scores or {})
        self._counts: dict[int, int] | None = None  # show id -> votes behind its score; None: read-only
        self._favoured: set[int] = {show_id for show_id, boost in self.scores.items() if boost > 0}
        # Derived from an index (valid for one `generation` of it), on first use:
        self._entries_of: tuple[TitleIndex, int] | None = None
        self._entries: set[int] = set()  # the favourites' entries
        self._by_norm: list[tuple[str, int]] = []  # (normalised title, entry) of those, sorted: prefix look-ups
        # prefix -> limit -> the best favourites under it (`best_under_prefix`); a vote drops its show's prefixes.
        self._best_under: dict[str, dict[int, list[int]]] = {}
        self._top_of: tuple[TitleIndex, int, int] | None = None  # (index, generation, limit)
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
        if now != was:
            self._forget_best_under(show_id)
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
        self._forget_best_under(show_id)
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

    def _forget_best_under(self, show_id: int) -> None:
        """The show's boost changed: the remembered best favourites under its titles' prefixes may have too."""
        if not self._best_under:
            return
        if self._entries_of is None or self._entries_of[1] != self._entries_of[0].generation:
            self._best_under.clear()  # derived from another index: recomputed anyway
            return
        index = self._entries_of[0]
        for entry in index._show_entries(show_id):
            norm = index._entry_norm[entry]
            for end in range(1, len(norm) + 1):
                self._best_under.pop(norm[:end], None)

    def _derive_entries(self, index: TitleIndex) -> None:
        if self._entries_of != (index, index.generation):
            entries = {entry for show_id in self._favoured for entry in index._show_entries(show_id)}
            self._entries = entries
            self._by_norm = sorted((index._entry_norm[entry], entry) for entry in entries)
            self._entries_of = (index, index.generation)
            self._best_under.clear()

    def entries(self, index: TitleIndex) -> set[int]:
        """The entries (every title) of the shows the server likes."""
        self._derive_entries(index)
        return self._entries

    def entries_under_prefix(self, index: TitleIndex, norm: str) -> list[int]:
        """The favourites' entries whose normalised title starts with `norm` (not empty)."""
        self._derive_entries(index)
        low = bisect_left(self._by_norm, (norm,))
        high = bisect_left(self._by_norm, (norm + "\uffff",), low)
        return [entry for _, entry in self._by_norm[low:high]]

    def best_under_prefix(
        self, index: TitleIndex, norm: str, limit: int, choose: Callable[[list[int]], list[int]]
    ) -> list[int]:
        """`choose(entries_under_prefix(index, norm))`, remembered per (prefix, limit) until the index changes or a
        vote changes the boost of a show with a title under the prefix: `choose` depends on nothing else."""
        self._derive_entries(index)
        by_limit = self._best_under.setdefault(norm, {})
        chosen = by_limit.get(limit)
        if chosen is None:
            chosen = by_limit[limit] = choose(self.entries_under_prefix(index, norm))
        return chosen

    def _top_key(self, index: TitleIndex, show_id: int) -> tuple[float, tuple[float, int, int]]:
        return (-self.scores[show_id], index._popularity_key(index._primary[show_id]))

    def top(self, index: TitleIndex, limit: int) -> list[int]:
        """The server's `limit` favourite shows in the index: highest boost first, then the most popular."""
        if self._top_of != (index, index.generation, limit):
            primary = index._primary
            in_index = (show_id for show_id in self._favoured if show_id in primary)
            self._top = heapq.nsmallest(limit, in_index, key=lambda show_id: self._top_key(index, show_id))
            self._top_of = (index, index.generation, limit)
        return self._top
