"""Syncing the catalog from the live sources (TVmaze, TMDB): fetch, then import each show in its own transaction.

Every function returns an `ImportSummary` whose `skipped` names each show that could not be fetched or imported,
with the reason; a failed show is never half written (`import_each` rolls it back) and never stops the others.
Used by `python -m bot catalog sync ...` and the bot's background sync.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.catalog.records import ID_FIELDS, ImportSummary, ShowRecord, connect_sync, find_show, import_records
from bot.catalog.sources.base import SourceError, import_each
from bot.catalog.sources.tmdb import SOURCE as TMDB
from bot.catalog.sources.tmdb import TmdbClient, airing_record, listed_show
from bot.catalog.sources.tvmaze import IndexPage, TvmazeClient
from bot.common.clock import utc_iso
from bot.common.config import Settings
from bot.storage import SET_STATE_SQL, Database

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
Total = Callable[[int], None]


async def import_in_thread(db_path: Path, records: list[ShowRecord], progress: Progress | None) -> ImportSummary:
    return await asyncio.to_thread(import_each, db_path, records, progress=progress)


async def import_fetched(db_path: Path, records: list[ShowRecord], skipped: list[str]) -> ImportSummary:
    """Import what an API sync fetched; the shows it could not fetch are reported first among the skipped."""
    summary = await import_in_thread(db_path, records, None)
    summary.skipped = skipped + summary.skipped
    return summary


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
    web: bool = True,
    progress: Progress | None = None,
    total: Total | None = None,
) -> ImportSummary:
    """The streaming (unless not `web`) and broadcast schedules of `days` days from `start` as release events."""
    async with TvmazeClient(base_url) as client:
        records = await client.schedules(start, days, country=country, web=web)
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
    return await import_fetched(db_path, records, skipped)


# --------------------------------------------------------------------------------------------------------------------
# TVmaze's whole show index

INDEX_STATE_KEY = "catalog_sync:tvmaze_index"
# After the bot's title index learned this many shows page by page, it is rebuilt whole (ShowBot.rebuild_title_index).
REBUILD_INDEX_AFTER_SHOWS = 5000
PageHook = Callable[[list[int]], Awaitable[None]]
ON_THE_AIR_PAGES = 3  # TMDB's "on the air", most popular first: 60 shows, 3 calls and one per show in the catalog


@dataclass(frozen=True, slots=True)
class IndexPosition:
    """How far the index bootstrap got, kept in bot_state with each page's shows (in the same transaction).

    Until the end of the index is reached, `page` is the next page to read. Once it is (`complete`), `page` is the
    last page that had shows: TVmaze appends new shows at the end, so a later run re-reads that page and any after it.
    """

    page: int = 0
    complete: bool = False
    shows: int = 0  # shows read from the index so far, over every run

    def to_json(self) -> str:
        return json.dumps({"page": self.page, "complete": self.complete, "shows": self.shows})

    @classmethod
    def from_json(cls, text: str | None) -> IndexPosition:
        """The stored position; a missing or unreadable one starts from page 0 (re-reading a page changes nothing)."""
        try:
            data = json.loads(text) if text else {}
            return cls(int(data.get("page", 0)), bool(data.get("complete", False)), int(data.get("shows", 0)))
        except (ValueError, TypeError, AttributeError):
            log.warning("TVmaze index: unreadable position %r in bot_state; starting from page 0", text)
            return cls()


@dataclass(slots=True)
class IndexRun:
    """What one run of the index bootstrap did."""

    summary: ImportSummary
    position: IndexPosition
    pages: int = 0  # pages read in this run
    first_page: int = 0


def read_index_position(db_path: Path) -> IndexPosition:
    conn = connect_sync(db_path)
    try:
        row = conn.execute("SELECT value FROM bot_state WHERE key = ?", (INDEX_STATE_KEY,)).fetchone()
    finally:
        conn.close()
    return IndexPosition.from_json(None if row is None else str(row[0]))


def import_index_page(db_path: Path, page: IndexPage, after: IndexPosition) -> tuple[ImportSummary, list[int]]:
    """The page's shows in one transaction together with the position `after` it; the catalog ids of its shows.

    A page whose transaction fails (one show the database refuses) is imported show by show instead, so that the
    others are kept and the failing one is named; the position is written after them."""
    conn = connect_sync(db_path)
    try:
        try:
            summary = import_records(conn, page.records, state=(INDEX_STATE_KEY, after.to_json()))
        except sqlite3.Error as exc:
            log.warning("TVmaze index page %d: its transaction failed (%s); importing show by show", page.number, exc)
            summary = import_each(db_path, page.records)
            conn.execute(SET_STATE_SQL, (INDEX_STATE_KEY, after.to_json()))
        tvmaze_ids = [record.ids["tvmaze"] for record in page.records]
        show_ids = [
            int(row[0])
            for row in conn.execute(
                f"SELECT id FROM shows WHERE tvmaze_id IN ({','.join('?' * len(tvmaze_ids))})", tvmaze_ids
            )
        ]
    finally:
        conn.close()
    summary.skipped = page.skipped + summary.skipped
    return summary, show_ids


async def tvmaze_index(
    base_url: str,
    db_path: Path,
    *,
    on_page: PageHook | None = None,
    progress: Progress | None = None,
    client: TvmazeClient | None = None,
) -> IndexRun:
    """Read TVmaze's show index (`/shows?page=N`) into the catalog, page by page, from where the last run stopped,
    until a 404 says the index has ended. After each page lands, `on_page(show ids)` (the bot's title index and
    recommender learn of them then, not at the end). `progress(shows read in this run)`.

    A failure (TVmaze down after retries) raises SourceError; the pages before it are kept, and the next run
    continues from the page that failed."""
    position = await asyncio.to_thread(read_index_position, db_path)
    run = IndexRun(ImportSummary(), position, first_page=position.page)
    async with AsyncExitStack() as stack:
        api = client if client is not None else await stack.enter_async_context(TvmazeClient(base_url))
        page_number = position.page
        read_this_run = 0
        # Three stages overlap, each in page order: page N+1 is fetched while page N is imported (in a worker
        # thread, where SQLite runs without the GIL), and page N-1's hook runs on the event loop meanwhile.
        fetching = asyncio.ensure_future(api.index_page(page_number))
        hook: asyncio.Future[None] | None = None
        try:
            while True:
                try:
                    page = await fetching
                except SourceError as exc:
                    raise SourceError(
                        f"{exc}; {run.pages} pages read in this run, the next run continues from page {page_number}"
                    ) from exc
                if page is None:
                    # The end of the index: remember the last page that had shows (re-read for new shows next time).
                    last = page_number - 1 if run.pages or not position.complete else position.page
                    run.position = IndexPosition(max(last, 0), True, run.position.shows)
                    await _set_state_sync(db_path, INDEX_STATE_KEY, run.position.to_json())
                    return run
                fetching = asyncio.ensure_future(api.index_page(page_number + 1))
                after = IndexPosition(page_number + 1, False, run.position.shows + len(page.records))
                summary, show_ids = await asyncio.to_thread(import_index_page, db_path, page, after)
                run.position = after
                run.pages += 1
                _add_summary(run.summary, summary)
                read_this_run += len(page.records)
                if progress is not None:
                    progress(read_this_run)
                if hook is not None:
                    await hook
                    hook = None
                if on_page is not None and show_ids:
                    hook = asyncio.ensure_future(on_page(show_ids))
                page_number += 1
        finally:
            if not fetching.done():
                fetching.cancel()
            await asyncio.gather(fetching, return_exceptions=True)  # a prefetch past a failure is not awaited
            if hook is not None:
                await hook  # the last page's shows are learned before this returns
    raise AssertionError("unreachable")  # the loop returns or raises


async def _set_state_sync(db_path: Path, key: str, value: str) -> None:
    def write() -> None:
        conn = connect_sync(db_path)
        try:
            conn.execute(SET_STATE_SQL, (key, value))
        finally:
            conn.close()

    await asyncio.to_thread(write)


def _add_summary(total: ImportSummary, part: ImportSummary) -> None:
    total.added += part.added
    total.updated += part.updated
    total.unchanged += part.unchanged
    total.skipped += part.skipped


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
    return await import_fetched(db_path, records, skipped)


def shows_in_catalog(db_path: Path, records: list[ShowRecord]) -> list[ShowRecord]:
    """The records an import would match to a show the catalog already has (by ids, else title and years)."""
    conn = connect_sync(db_path)
    try:
        return [record for record in records if find_show(conn, record) is not None]
    finally:
        conn.close()


async def tmdb_on_the_air(
    base_url: str,
    api_key: str,
    db_path: Path,
    *,
    pages: int = ON_THE_AIR_PAGES,
    progress: Progress | None = None,
    total: Total | None = None,
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
        known = {int(record.ids["tmdb"]) for record in await asyncio.to_thread(shows_in_catalog, db_path, candidates)}
        wanted = [entry for entry in entries if entry["id"] in known]
        log.info("TMDB on the air: %d of %d shows are in the catalog", len(wanted), len(entries))
        if total is not None:
            total(len(wanted))
        for count, entry in enumerate(wanted, start=1):
            try:
                record = airing_record(entry, await client.details(entry["id"]))
            except SourceError as exc:
                skipped.append(f"{entry['name']}: {exc}")
            else:
                if record is not None:
                    records.append(record)
            if progress is not None:
                progress(count)
    return await import_fetched(db_path, records, skipped)


# --------------------------------------------------------------------------------------------------------------------
# Background sync in the bot (CATALOG_SYNC=tvmaze)

BACKGROUND_JOBS = ("schedule", "updates", "index", "tmdb")
TMDB_SHOWS_PER_RUN = 100  # trailers and posters for this many shows a day (the best known without a trailer first)
SCHEDULE_DAYS = 7
DEFAULT_BROADCAST_COUNTRY = "US"  # TVmaze's /schedule without a country is the US one


async def run_background_job(
    settings: Settings, db: Database, job: str, now: datetime, *, on_page: PageHook | None = None
) -> str:
    """Run one background job and return its outcome line; never raises (cancellation aside): a failure is logged,
    and the outcome is kept in bot_state (`catalog_sync:<job>`) for operators. `tmdb` adds trailers and posters from
    TMDB (with TMDB_API_KEY) to the best known shows that have no trailer yet. `index` reads TVmaze's whole show
    index (resuming where it stopped; once complete, only its last page, for new shows), calling `on_page` with each
    page's show ids as they land."""
    if job not in BACKGROUND_JOBS:
        raise ValueError(f"job must be one of {', '.join(BACKGROUND_JOBS)}")
    since_key = "catalog_sync:updates_after"
    try:
        if job == "schedule":
            # The streaming schedule (every country) and the US broadcast one, then the broadcast schedule of every
            # other country a server's weekly post lists.
            summary = await tvmaze_schedule(settings.tvmaze_base_url, db.path, now.date(), SCHEDULE_DAYS)
            for country in await weekly_countries(db):
                if country != DEFAULT_BROADCAST_COUNTRY:
                    _add_summary(
                        summary,
                        await tvmaze_schedule(
                            settings.tvmaze_base_url, db.path, now.date(), SCHEDULE_DAYS, country=country, web=False
                        ),
                    )
        elif job == "tmdb":
            if not settings.tmdb_api_key:
                raise SourceError("TMDB needs TMDB_API_KEY")
            summary = await tmdb_enrich(
                settings.tmdb_base_url, settings.tmdb_api_key, db.path, limit=TMDB_SHOWS_PER_RUN
            )
            # The week's episodes of the shows on the air, beside TVmaze's schedules, for the weekly post.
            _add_summary(summary, await tmdb_on_the_air(settings.tmdb_base_url, settings.tmdb_api_key, db.path))
        elif job == "index":
            run = await tvmaze_index(settings.tvmaze_base_url, db.path, on_page=on_page)
            summary = run.summary
            if run.first_page == 0 and run.position.complete and await db.get_state(since_key) is None:
                # A fresh bootstrap just read every show: the updates job need only re-read those changed since.
                await db.set_state((since_key, str(int(now.timestamp()))))
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


async def weekly_countries(db: Database) -> list[str]:
    """The countries (ISO codes) whose releases servers' weekly posts list."""
    rows = await db.fetchall(
        "SELECT DISTINCT region FROM guild_settings WHERE weekly_enabled = 1 AND region IS NOT NULL ORDER BY region"
    )
    return [str(row[0]) for row in rows if len(str(row[0])) == 2]


async def shows_to_refresh(db: Database, since: str, today: date, days: int = SCHEDULE_DAYS) -> list[int]:
    """Shows a background job may have changed: rows updated at or after `since` (an import stamp,
    `bot.catalog.records.now_iso()` taken before the job), and every show with a release within `days` of `today` (a
    schedule adds releases without touching the show's row). What the bot's title index and recommender re-read
    afterwards."""
    low, high = (today - timedelta(days=days)).isoformat(), (today + timedelta(days=days)).isoformat()
    rows = await db.fetchall(
        """SELECT id FROM shows WHERE updated_at >= ?
           UNION SELECT show_id FROM releases WHERE substr(date, 1, 10) BETWEEN ? AND ?""",
        (since, low, high),
    )
    return sorted(int(row[0]) for row in rows)
