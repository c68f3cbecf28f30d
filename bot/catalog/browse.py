"""Browsing the catalog: /search with filters (genre, service, year, status), and the values those filters take."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.catalog.index import year_of
from bot.catalog.search import SearchIndex
from bot.storage import Database
from bot.votes import NET_VOTES_SQL

SEARCH_CANDIDATES = 200  # title matches considered before the filters narrow them down
LEARN_MAX_SHOWS = 5000  # more changed shows than this: the facets are read again whole (and within SQLite's limits)


@dataclass(frozen=True, slots=True)
class Filters:
    genre: str | None = None
    service: str | None = None
    year: int | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ShowSummary:
    show_id: int
    title: str
    year: int | None
    network: str | None
    synopsis: str | None


def _filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    parameters: list[Any] = []
    if filters.genre:
        clauses.append(
            """EXISTS (SELECT 1 FROM show_genres sg JOIN genres g ON g.id = sg.genre_id
                       WHERE sg.show_id = s.id AND g.name = ? COLLATE NOCASE)"""
        )
        parameters.append(filters.genre)
    if filters.service:
        clauses.append(
            """(s.network = ? COLLATE NOCASE
                OR EXISTS (SELECT 1 FROM availability a WHERE a.show_id = s.id AND a.service = ? COLLATE NOCASE)
                OR EXISTS (SELECT 1 FROM releases r WHERE r.show_id = s.id AND r.service = ? COLLATE NOCASE))"""
        )
        parameters += [filters.service] * 3
    if filters.year:
        clauses.append("substr(s.premiered, 1, 4) = ?")
        parameters.append(f"{filters.year:04d}")
    if filters.status:
        clauses.append("s.status = ?")
        parameters.append(filters.status)
    return (" AND ".join(clauses) or "1 = 1"), parameters


def _summary(row: Any) -> ShowSummary:
    return ShowSummary(row["id"], row["title"], year_of(row["premiered"]), row["network"], row["synopsis"])


async def find_shows(
    db: Database,
    index: SearchIndex,
    query: str | None,
    filters: Filters,
    *,
    guild_id: int | None = None,
    boosts: Mapping[int, float] | None = None,
    limit: int = 100,
) -> list[ShowSummary]:
    """Shows matching the query (best match first) and every filter; without a query, the server's favourites and
    then the best-known shows."""
    where, parameters = _filter_sql(filters)
    if query and query.strip():
        ranked = [match.show_id for match in index.search(query, limit=SEARCH_CANDIDATES, boosts=boosts)]
        if not ranked:
            return []
        rows = await db.fetchall(
            f"""SELECT s.id, s.title, s.premiered, s.network, s.synopsis FROM shows s
                WHERE s.id IN ({",".join("?" * len(ranked))}) AND {where}""",
            [*ranked, *parameters],
        )
        by_id = {row["id"]: _summary(row) for row in rows}
        return [by_id[show_id] for show_id in ranked if show_id in by_id][:limit]
    rows = await db.fetchall(
        f"""SELECT s.id, s.title, s.premiered, s.network, s.synopsis
            FROM shows s LEFT JOIN ({NET_VOTES_SQL}) AS n ON n.show_id = s.id WHERE {where}
            ORDER BY COALESCE(n.net, 0) DESC, s.popularity DESC, s.title COLLATE NOCASE LIMIT ?""",
        [guild_id or 0, *parameters, limit],
    )
    return [_summary(row) for row in rows]


async def genre_names(db: Database) -> list[str]:
    return [row[0] for row in await db.fetchall("SELECT name FROM genres ORDER BY name COLLATE NOCASE")]


async def service_names(db: Database) -> list[str]:
    rows = await db.fetchall(
        """SELECT name FROM (
               SELECT network AS name FROM shows WHERE network IS NOT NULL
               UNION SELECT service FROM availability
               UNION SELECT service FROM releases WHERE service != ''
           ) AS names ORDER BY name COLLATE NOCASE"""
    )
    return [row[0] for row in rows]


def matching_names(names: Sequence[str], current: str, limit: int = 25) -> list[str]:
    """Names starting with what was typed first, then names containing it; case-insensitive."""
    typed = current.strip().casefold()
    starts = [name for name in names if name.casefold().startswith(typed)]
    contains = [name for name in names if typed in name.casefold() and name not in starts]
    return [name[:100] for name in (starts + contains)[:limit]]


class Facets:
    """The genre and service names the filters of /search, /recommend and /top offer, loaded once and refreshed
    when the catalog changes."""

    def __init__(self, genres: list[str], services: list[str]) -> None:
        self.genres = genres
        self.services = services

    @classmethod
    async def load(cls, db: Database) -> Facets:
        return cls(await genre_names(db), await service_names(db))

    async def learn(self, db: Database, show_ids: Sequence[int]) -> Facets:
        """The facets once `show_ids` were added or changed: their names merged in, read from those shows only (a
        page of the TVmaze index must not rescan 90,000 shows). If one of them is gone, its names may be too: then
        everything is read again. A name a changed show dropped stays offered until the next full load."""
        wanted = sorted(set(show_ids))
        if not wanted:
            return self
        if len(wanted) > LEARN_MAX_SHOWS:
            return await Facets.load(db)
        marks = ",".join("?" * len(wanted))  # only placeholders are formatted in
        if await db.fetchval(f"SELECT COUNT(*) FROM shows WHERE id IN ({marks})", wanted) != len(wanted):
            return await Facets.load(db)
        genres = await db.fetchall(
            f"""SELECT DISTINCT g.name FROM show_genres sg JOIN genres g ON g.id = sg.genre_id
                WHERE sg.show_id IN ({marks})""",
            wanted,
        )
        services = await db.fetchall(
            f"""SELECT network FROM shows WHERE id IN ({marks}) AND network IS NOT NULL
                UNION SELECT service FROM availability WHERE show_id IN ({marks})
                UNION SELECT service FROM releases WHERE show_id IN ({marks}) AND service != ''""",
            wanted * 3,
        )
        return Facets(_merged(self.genres, genres), _merged(self.services, services))

    def genres_matching(self, current: str) -> list[str]:
        return matching_names(self.genres, current)

    def services_matching(self, current: str) -> list[str]:
        return matching_names(self.services, current)


_NOCASE = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # SQLite's NOCASE folds ASCII only


def _merged(names: list[str], rows: Iterable[Any]) -> list[str]:
    """`names` (in NOCASE order) with the first column of `rows` added, in the same order, without duplicates."""
    new = {str(row[0]) for row in rows} - set(names)
    if not new:
        return names
    return sorted([*names, *new], key=lambda name: name.translate(_NOCASE))
