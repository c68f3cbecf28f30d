"""The bot's background catalog sync (CATALOG_SYNC=tvmaze; scheduled by cogs/catalog_sync.py): one job at a time,
its failure contained and its outcome kept in bot_state, and which shows a job may have changed."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

from bot.catalog.sources.base import SourceError
from bot.catalog.sources.sync import (
    tmdb_enrich,
    tmdb_on_the_air,
    tmdb_translations,
    tvmaze_schedule,
    tvmaze_updates,
)
from bot.catalog.sources.tvmaze_index import PageHook, tvmaze_index
from bot.common.clock import utc_iso
from bot.common.config import Settings
from bot.storage import Database

log = logging.getLogger(__name__)

BACKGROUND_JOBS = ("schedule", "updates", "index", "tmdb")
TMDB_SHOWS_PER_RUN = 100  # trailers and posters (the best known without a trailer first), and translations, a day
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
            summary = await tvmaze_schedule(settings.tvmaze_base_url, db.location, now.date(), SCHEDULE_DAYS)
            for country in await weekly_countries(db):
                if country != DEFAULT_BROADCAST_COUNTRY:
                    summary.add(
                        await tvmaze_schedule(
                            settings.tvmaze_base_url, db.location, now.date(), SCHEDULE_DAYS, country=country, web=False
                        )
                    )
        elif job == "tmdb":
            if not settings.tmdb_api_key:
                raise SourceError("TMDB needs TMDB_API_KEY")
            summary = await tmdb_enrich(
                settings.tmdb_base_url, settings.tmdb_api_key, db.location, limit=TMDB_SHOWS_PER_RUN
            )
            # The week's episodes of the shows on the air, beside TVmaze's schedules, for the weekly post.
            summary.add(await tmdb_on_the_air(settings.tmdb_base_url, settings.tmdb_api_key, db.location))
            # Titles and synopses in other languages, for cards in the member's language and autocomplete.
            summary.add(
                await tmdb_translations(
                    settings.tmdb_base_url, settings.tmdb_api_key, db.location, limit=TMDB_SHOWS_PER_RUN
                )
            )
        elif job == "index":
            run = await tvmaze_index(settings.tvmaze_base_url, db.location, on_page=on_page)
            summary = run.summary
            if run.first_page == 0 and run.position.complete and await db.get_state(since_key) is None:
                # A fresh bootstrap just read every show: the updates job need only re-read those changed since.
                await db.set_state((since_key, str(int(now.timestamp()))))
        else:
            after = await db.get_state(since_key)
            summary = await tvmaze_updates(
                settings.tvmaze_base_url, db.location, newer_than=int(after) if after is not None else None
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
    `bot.catalog.importer.now_iso()` taken before the job), and every show with a release within `days` of `today` (a
    schedule adds releases without touching the show's row). What the bot's title index and recommender re-read
    afterwards."""
    low, high = (today - timedelta(days=days)).isoformat(), (today + timedelta(days=days)).isoformat()
    rows = await db.fetchall(
        """SELECT id FROM shows WHERE updated_at >= ?
           UNION SELECT show_id FROM releases WHERE substr(date, 1, 10) BETWEEN ? AND ?""",
        (since, low, high),
    )
    return sorted(int(row[0]) for row in rows)
