"""Syncing the catalog from the live sources (TVmaze, TMDB): fetch, then import each show in its own transaction.

Every function returns an `ImportSummary` whose `skipped` names each show that could not be fetched or imported,
with the reason; a failed show is never half written (`import_each` rolls it back) and never stops the others.
Used by `python -m bot catalog sync ...` and the bot's background sync.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.catalog import ID_FIELDS, ImportSummary, ShowRecord, connect_sync
from bot.clock import utc_iso
from bot.config import Settings
from bot.db import Database
from bot.sources.base import SourceError, import_each
from bot.sources.tmdb import SOURCE as TMDB
from bot.sources.tmdb import TmdbClient
from bot.sources.tvmaze import TvmazeClient

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
Total = Callable[[int], None]


async def import_in_thread(db_path: Path, records: list[ShowRecord], progress: Progress | None) -> ImportSummary:
    return await asyncio.to_thread(import_each, db_path, records, progress=progress)


def known_tvmaze_ids(db_path: Path) -> set[int]:
    conn = connect_sync(db_path)
    try:
        return {int(row[0]) for row in conn.execute("SELECT tvmaze_id FROM shows WHERE tvmaze_id IS NOT NULL")}
    finally:
        conn.close()


async def tvmaze_show(base_url: str, db_path: Path, name: str) -> tuple[ImportSummary, ShowRecord | None]:
    """Look `name` up on TVmaze and import the best match (with cast and creators)."""
    async with TvmazeClient(base_url) as client:
        record = await client.show_by_name(name)
    if record is None:
        summary = ImportSummary()
        summary.skipped.append(f"{name!r}: TVmaze knows no such show")
        return summary, None
    return await import_in_thread(db_path, [record], None), record


async def tvmaze_schedule(
    base_url: str,
    db_path: Path,
    start: date,
    days: int,
    *,
    country: str | None = None,
    progress: Progress | None = None,
    total: Total | None = None,
) -> ImportSummary:
    """The streaming and broadcast schedules of `days` days from `start` as release events."""
    async with TvmazeClient(base_url) as client:
        records = await client.schedules(start, days, country=country)
    if total is not None:
        total(len(records))
    return await import_in_thread(db_path, records, progress)


async def tvmaze_updates(
    base_url: str,
    db_path: Path,
    *,
    period: str = "day",
    newer_than: int | None = None,
    progress: Progress | None = None,
    total: Total | None = None,
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
        wanted = sorted(set(changed) & await asyncio.to_thread(known_tvmaze_ids, db_path))
        if total is not None:
            total(len(wanted))
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
            if progress is not None:
                progress(count)
    summary = await import_in_thread(db_path, records, None)
    summary.skipped = skipped + summary.skipped
    return summary


# --------------------------------------------------------------------------------------------------------------------
# TMDB


@dataclass(frozen=True, slots=True)
class CatalogShow:
    """What a sync needs to know of a show already in the catalog, to fetch for it and to match it back."""

    title: str
    premiered: str | None
    ids: dict[str, int | str]
    ambiguous: bool  # no id and no date, and another show has the same title: an update could not find it again


def catalog_shows(db_path: Path, *, without_trailer: bool, limit: int) -> list[CatalogShow]:
    """Shows to enrich from TMDB: those with a TMDB id first, then the best known; `without_trailer` keeps only
    shows with no trailer yet."""
    columns = ", ".join(f"s.{key}_id" for key in ID_FIELDS)
    where = (
        "WHERE NOT EXISTS (SELECT 1 FROM videos v WHERE v.show_id = s.id AND v.kind = 'trailer')"
        if without_trailer
        else ""
    )
    conn = connect_sync(db_path)
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
    db_path: Path,
    *,
    region: str | None = None,
    limit: int = 100,
    progress: Progress | None = None,
    total: Total | None = None,
) -> ImportSummary:
    """Trailers and posters (no `region`: shows without a trailer yet), or watch providers in `region` (every show),
    for up to `limit` shows; shows without a TMDB id are looked up by title and first-air year."""
    shows = await asyncio.to_thread(catalog_shows, db_path, without_trailer=region is None, limit=limit)
    if total is not None:
        total(len(shows))
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
                    record.poster_url = await client.poster_url(tmdb_id)
                else:
                    record.availability, known = await client.watch_providers(tmdb_id, region)
                    if not known:
                        skipped.append(f"{show.title}: TMDB has no show {tmdb_id} (404)")
                        continue
                records.append(record)
            except SourceError as exc:
                skipped.append(f"{show.title}: {exc}")
            finally:
                if progress is not None:
                    progress(count)
    summary = await import_in_thread(db_path, records, None)
    summary.skipped = skipped + summary.skipped
    return summary


# --------------------------------------------------------------------------------------------------------------------
# Background sync in the bot (CATALOG_SYNC=tvmaze)

BACKGROUND_JOBS = ("schedule", "updates")
SCHEDULE_DAYS = 7


async def run_background_job(settings: Settings, db: Database, job: str, now: datetime) -> str:
    """Run one background job and return its outcome line; never raises (cancellation aside): a failure is logged,
    and the outcome is kept in bot_state (`catalog_sync:<job>`) for operators."""
    if job not in BACKGROUND_JOBS:
        raise ValueError(f"job must be one of {', '.join(BACKGROUND_JOBS)}")
    since_key = "catalog_sync:updates_after"
    try:
        if job == "schedule":
            summary = await tvmaze_schedule(settings.tvmaze_base_url, db.path, now.date(), SCHEDULE_DAYS)
        else:
            after = await db.get_state(since_key)
            summary = await tvmaze_updates(
                settings.tvmaze_base_url, db.path, newer_than=int(after) if after is not None else None
            )
        for skipped in summary.skipped:
            log.warning("Catalog sync (%s): skipped %s", job, skipped)
        outcome = summary.line()
        log.info("Catalog sync (%s): %s", job, outcome)
        if job == "updates":
            await db.set_state((since_key, str(int(now.timestamp()))))
    except Exception as exc:
        log.exception("Catalog sync (%s) failed", job)
        outcome = f"failed: {exc}"
    try:
        await db.set_state((f"catalog_sync:{job}", json.dumps({"at": utc_iso(now), "outcome": outcome})))
    except Exception:
        log.exception("Catalog sync (%s): could not record the outcome", job)
    return outcome


async def shows_to_refresh(db: Database, since: str, today: date, days: int = SCHEDULE_DAYS) -> list[int]:
    """Shows a background job may have changed: rows updated at or after `since` (an import stamp,
    `bot.catalog.now_iso()` taken before the job), and every show with a release within `days` of `today` (a schedule
    adds releases without touching the show's row). What the bot's title index and recommender re-read afterwards."""
    low, high = (today - timedelta(days=days)).isoformat(), (today + timedelta(days=days)).isoformat()
    rows = await db.fetchall(
        """SELECT id FROM shows WHERE updated_at >= ?
           UNION SELECT show_id FROM releases WHERE substr(date, 1, 10) BETWEEN ? AND ?""",
        (since, low, high),
    )
    return sorted(int(row[0]) for row in rows)
