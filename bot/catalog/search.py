"""Title search: one in-memory index serving autocomplete, /search, not-found suggestions and the catalog CLI.

`SearchIndex` answers the queries: the best matches for a typed title (`search`), the show a typed title means
(`resolve`), and the server's favourites then the most popular shows for an empty query (`popular`). Its parts:

- `bot.catalog.index`: the titles in memory, in columns, loaded from the database and kept up to date;
- `bot.catalog.typos`: what each typed word may stand for (misspelt, run together, still being typed);
- `bot.catalog.ranking`: which titles become candidates, and the key that orders them;
- `bot.catalog.boosts`: a server's vote boosts and what search derives from them;
- `bot.catalog.choices`: the autocomplete answer, its `id:` values, and the not-found line.

The index is used from the event loop only: queries are synchronous and short; `refresh` reads the database first.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz.fuzz import ratio

from bot.catalog.boosts import Boosts
from bot.catalog.index import TitleIndex
from bot.catalog.ranking import (
    AUTOCOMPLETE_LIMIT,
    TIER_EXACT,
    RankKey,
    prefix_candidates,
    rank_key,
    word_candidates,
)
from bot.catalog.typos import edits_allowed, title_distance
from bot.common.text import normalise

MAX_QUERY_CHARS = 200  # Discord caps option text at 100; anything longer is cut before any work is done


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


class SearchIndex(TitleIndex):
    """Every show title in memory, for typo-tolerant search in well under a millisecond."""

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

    def _ranked(self, query: str, limit: int, boosts: Mapping[int, float] | None) -> tuple[list[int], str]:
        """The best entry of each of the best `limit` shows, best first, and the normalised query."""
        if limit <= 0:
            return [], ""
        text = query[:MAX_QUERY_CHARS]
        norm = normalise(text)
        favoured = Boosts.of(boosts)
        scores = favoured.scores
        keys: dict[int, RankKey] = {}
        if not norm:
            raw = " ".join(text.casefold().split())
            for entry in self._raw_exact.get(raw, ()) if raw else ():
                keys[entry] = rank_key(self, entry, TIER_EXACT, scores)
        else:
            prefix_candidates(self, norm, limit, scores, favoured, keys)
            if len({self._entry_show[e] for e in keys}) < limit:
                word_candidates(self, norm, scores, favoured, keys)
        best: dict[int, tuple[RankKey, int]] = {}
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

    def _match(self, entry: int, score: float) -> Match:
        show_id = self._entry_show[entry]
        primary = self._primary[show_id]
        title = self._entry_title[primary]
        matched = self._entry_title[entry] if entry != primary else None
        year = self._entry_year[primary] or None
        return Match(show_id, title, year, score, matched)
