"""Syncing the catalog from the live sources (TVmaze, TMDB): fetch, then import each show in its own transaction.

Every function returns an `ImportSummary` whose `skipped` names each show that could not be fetched or imported,
with the reason; a failed show is never half written (`import_each` rolls it back) and never stops the others.
Used by `python -m bot catalog sync ...` and the bot's background sync (`bot.catalog.sources.background`); TVmaze's
whole show index, read page by page, is `bot.catalog.sources.tvmaze_index`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date

from bot.catalog.importer import ImportSummary
from bot.catalog.matching import find_show
from bot.catalog.records import ID_FIELDS, ShowRecord, Translation
from bot.catalog.sources.base import SourceError, import_each
from bot.catalog.sources.progress import Meter
from bot.catalog.sources.tmdb import SOURCE as TMDB
from bot.catalog.sources.tmdb import TmdbClient, airing_record, listed_show
from bot.catalog.sources.tvmaze import TvmazeClient
from bot.common.text import normalise
from bot.storage import Location, connect_sync

log = logging.getLogger(__name__)

ON_THE_AIR_PAGES = 3  # TMDB's "on the air", most popular first: 60 shows, 3 calls and one per show in the catalog


async def import_in_thread(location: Location, records: list[ShowRecord], meter: Meter | None) -> ImportSummary:
    progress = None if meter is None else meter.update
    return await asyncio.to_thread(import_each, location, records, progress=progress)


async def import_fetched(location: Location, records: list[ShowRecord], skipped: list[str]) -> ImportSummary:
    """Import what an API sync fetched; the shows it could not fetch are reported first among the skipped."""
    summary = await import_in_thread(location, records, None)
    summary.skipped = skipped + summary.skipped
    return summary


def known_tvmaze_ids(location: Location) -> set[int]:
    conn = connect_sync(location)
    try:
        return {int(row[0]) for row in conn.execute("SELECT tvmaze_id FROM shows WHERE tvmaze_id IS NOT NULL")}
    finally:
        conn.close()


async def tvmaze_show(base_url: str, location: Location, name: str) -> tuple[ImportSummary, ShowRecord | None]:
    """Look `name` up on TVmaze and import the best match (with cast and creators)."""
    async with TvmazeClient(base_url) as client:
        record = await client.show_by_name(name)
    if record is None:
        summary = ImportSummary()
        summary.skipped.append(f"{name!r}: TVmaze knows no such show")
        return summary, None
    return await import_in_thread(location, [record], None), record


async def tvmaze_schedule(
    base_url: str,
    location: Location,
    start: date,
    days: int,
    *,
    country: str | None = None,
    web: bool = True,
    meter: Meter | None = None,
) -> ImportSummary:
    """The streaming (unless not `web`) and broadcast schedules of `days` days from `start` as release events."""
    async with TvmazeClient(base_url) as client:
        records = await client.schedules(start, days, country=country, web=web)
    if meter is not None:
        meter.set_total(len(records))
    return await import_in_thread(location, records, meter)


async def tvmaze_updates(
    base_url: str, location: Location, *, period: str = "day", newer_than: int | None = None, meter: Meter | None = None
) -> ImportSummary:
    """Refresh the catalog's shows that TVmaze changed in the last `period` (day, week or month), and after the
    Unix time `newer_than` when given (the last run, so an hourly refresh does not fetch a show twice)."""
    skipped: list[str] = []
    records: list[ShowRecord] = []
    async with TvmazeClient(base_url) as client:
        changed = {
            show: stamp
            for show, stamp in (await client.updated_since(period)).items()
            if newer_than is None or stamp > newer_than
        }
        wanted = sorted(set(changed) & await asyncio.to_thread(known_tvmaze_ids, location))
        if meter is not None:
            meter.set_total(len(wanted))
        for count, tvmaze_id in enumerate(wanted, start=1):
            try:
                record = await client.show_by_id(tvmaze_id)
            except SourceError as exc:
                skipped.append(f"TVmaze show {tvmaze_id}: {exc}")
            else:
                if record is None:
                    skipped.append(f"TVmaze show {tvmaze_id}: no longer on TVmaze (404)")
                else:
                    records.append(record)
            if meter is not None:
                meter.update(count)
    return await import_fetched(location, records, skipped)


# --------------------------------------------------------------------------------------------------------------------
# TMDB


@dataclass(frozen=True, slots=True)
class CatalogShow:
    """What a sync needs to know of a show already in the catalog, to fetch for it and to match it back."""

    title: str
    premiered: str | None
    ids: dict[str, int | str]
    ambiguous: bool  # no id and no date, and another show has the same title: an update could not find it again


def catalog_shows(location: Location, *, without_trailer: bool, limit: int) -> list[CatalogShow]:
    """Shows to enrich from TMDB: those with a TMDB id first, then the best known; `without_trailer` keeps only
    shows with no trailer yet."""
    columns = ", ".join(f"s.{key}_id" for key in ID_FIELDS)
    where = (
        "WHERE NOT EXISTS (SELECT 1 FROM videos v WHERE v.show_id = s.id AND v.kind = 'trailer')"
        if without_trailer
        else ""
    )
    conn = connect_sync(location)
    try:
        rows = conn.execute(
            f"""SELECT s.title, s.premiered, {columns},
                       (SELECT COUNT(*) FROM shows o WHERE o.title_norm = s.title_norm) AS same_title
                FROM shows s {where}
                ORDER BY s.tmdb_id IS NULL, s.popularity DESC, s.id LIMIT ?""",
            (limit,),
        ).fetchall()
    finally:
        conn.close()
    shows = []
    for row in rows:
        ids = {key: row[f"{key}_id"] for key in ID_FIELDS if row[f"{key}_id"] is not None}
        ambiguous = not ids and not row["premiered"] and row["same_title"] > 1
        shows.append(CatalogShow(row["title"], row["premiered"], ids, ambiguous))
    return shows


def enrichment(show: CatalogShow, tmdb_id: int) -> ShowRecord:
    """A TMDB record that matches `show` again on import: its own ids, else its title and premiere date."""
    return ShowRecord(title=show.title, premiered=show.premiered, ids={**show.ids, "tmdb": tmdb_id}, source=TMDB)


async def _resolve_tmdb_id(client: TmdbClient, show: CatalogShow) -> int | None:
    known = show.ids.get("tmdb")
    if isinstance(known, int):
        return known
    year = int(show.premiered[:4]) if show.premiered else None
    return await client.find_show(show.title, year)


async def tmdb_enrich(
    base_url: str,
    api_key: str,
    location: Location,
    *,
    region: str | None = None,
    limit: int = 100,
    meter: Meter | None = None,
) -> ImportSummary:
    """Trailers and posters (no `region`: shows without a trailer yet), or watch providers in `region` (every show),
    for up to `limit` shows; shows without a TMDB id are looked up by title and first-air year."""
    shows = await asyncio.to_thread(catalog_shows, location, without_trailer=region is None, limit=limit)
    if meter is not None:
        meter.set_total(len(shows))
    skipped: list[str] = []
    records: list[ShowRecord] = []
    async with TmdbClient(base_url, api_key) as client:
        for count, show in enumerate(shows, start=1):
            try:
                if show.ambiguous:
                    skipped.append(f"{show.title}: several shows have this title and none has an id or date")
                    continue
                tmdb_id = await _resolve_tmdb_id(client, show)
                if tmdb_id is None:
                    skipped.append(f"{show.title}: no single match on TMDB")
                    continue
                record = enrichment(show, tmdb_id)
                if region is None:
                    record.videos = await client.trailers(tmdb_id)
                    record.poster_url, record.source_popularity = await client.poster_and_popularity(tmdb_id)
                else:
                    record.availability, known = await client.watch_providers(tmdb_id, region)
                    if not known:
                        skipped.append(f"{show.title}: TMDB has no show {tmdb_id} (404)")
                        continue
                records.append(record)
            except SourceError as exc:
                skipped.append(f"{show.title}: {exc}")
            finally:
                if meter is not None:
                    meter.update(count)
    return await import_fetched(location, records, skipped)


def shows_to_translate(location: Location, limit: int) -> list[CatalogShow]:
    """Shows with a TMDB id (the trailers run finds it) to read translations for: those without any yet first, then
    the longest unread, the best known first among equals."""
    columns = ", ".join(f"s.{key}_id" for key in ID_FIELDS)
    conn = connect_sync(location)
    try:  # the alias `translated` is ordered on outside: PostgreSQL orders by an alias only when it stands alone
        rows = conn.execute(
            f"""SELECT * FROM (
                    SELECT s.id, s.popularity, s.title, s.premiered, {columns},
                           (SELECT MAX(t.updated_at) FROM show_translations t WHERE t.show_id = s.id) AS translated
                    FROM shows s WHERE s.tmdb_id IS NOT NULL) AS candidates
                ORDER BY CASE WHEN translated IS NULL THEN 0 ELSE 1 END, translated, popularity DESC, id LIMIT ?""",
            (limit,),
        ).fetchall()
    finally:
        conn.close()
    return [
        CatalogShow(row["title"], row["premiered"], {k: row[f"{k}_id"] for k in ID_FIELDS if row[f"{k}_id"]}, False)
        for row in rows
    ]


async def tmdb_translations(
    base_url: str, api_key: str, location: Location, *, limit: int = 100, meter: Meter | None = None
) -> ImportSummary:
    """Titles and synopses in other languages for up to `limit` shows with a TMDB id: stored per language, and each
    title that differs from the show's also as an alternative title (autocomplete finds the show by it)."""
    shows = await asyncio.to_thread(shows_to_translate, location, limit)
    if meter is not None:
        meter.set_total(len(shows))
    skipped: list[str] = []
    records: list[ShowRecord] = []
    async with TmdbClient(base_url, api_key) as client:
        for count, show in enumerate(shows, start=1):
            tmdb_id = int(show.ids["tmdb"])
            try:
                translations = await client.translations(tmdb_id)
            except SourceError as exc:
                skipped.append(f"{show.title}: {exc}")
            else:
                if translations is None:
                    skipped.append(f"{show.title}: TMDB has no show {tmdb_id} (404)")
                else:
                    record = enrichment(show, tmdb_id)
                    record.translations = translations
                    record.alt_titles = alternative_titles(show.title, translations)
                    records.append(record)
            if meter is not None:
                meter.update(count)
    return await import_fetched(location, records, skipped)


def alternative_titles(title: str, translations: list[Translation]) -> list[str]:
    """The translated titles that differ from `title` (and from each other) once normalised, in language order."""
    seen = {normalise(title)}
    titles = []
    for text in sorted(translations, key=lambda t: t.language):
        if text.title and (key := normalise(text.title)) and key not in seen:
            seen.add(key)
            titles.append(text.title)
    return titles


def shows_in_catalog(location: Location, records: list[ShowRecord]) -> list[ShowRecord]:
    """The records an import would match to a show the catalog already has (by ids, else title and years)."""
    conn = connect_sync(location)
    try:
        return [record for record in records if find_show(conn, record) is not None]
    finally:
        conn.close()


async def tmdb_on_the_air(
    base_url: str, api_key: str, location: Location, *, pages: int = ON_THE_AIR_PAGES, meter: Meter | None = None
) -> ImportSummary:
    """The next episode of each show on TMDB's "on the air" (`pages` pages, 20 shows each, most popular first) as a
    release event of the show in the catalog. Only shows the catalog already has (matched by TMDB id, else title and
    first-air year) are read further, so that a title spelt differently never becomes a second show; the others
    are counted in the log, not skipped."""
    skipped: list[str] = []
    records: list[ShowRecord] = []
    async with TmdbClient(base_url, api_key) as client:
        entries = [entry for page in range(1, pages + 1) for entry in await client.on_the_air(page)]
        candidates = [listed_show(entry) for entry in entries]
        known = {int(record.ids["tmdb"]) for record in await asyncio.to_thread(shows_in_catalog, location, candidates)}
        wanted = [entry for entry in entries if entry["id"] in known]
        log.info("TMDB on the air: %d of %d shows are in the catalog", len(wanted), len(entries))
        if meter is not None:
            meter.set_total(len(wanted))
        for count, entry in enumerate(wanted, start=1):
            try:
                record = airing_record(entry, await client.details(entry["id"]))
            except SourceError as exc:
                skipped.append(f"{entry['name']}: {exc}")
            else:
                if record is not None:
                    records.append(record)
            if meter is not None:
                meter.update(count)
    return await import_fetched(location, records, skipped)
