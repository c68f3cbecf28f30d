"""Looking up a show the catalog does not have, while a Discord interaction waits (it must be deferred first).

Only when a live source is configured (CATALOG_SYNC=tvmaze); otherwise the bot answers from the catalog alone.
"""

from __future__ import annotations

import asyncio
import logging
from difflib import SequenceMatcher
from functools import partial

from bot.catalog.records import ShowRecord
from bot.catalog.sources.base import SourceError, import_each
from bot.catalog.sources.tvmaze import TvmazeClient
from bot.common.config import Settings
from bot.common.text import normalise
from bot.storage import Database

log = logging.getLogger(__name__)

# An interaction may be answered for 15 minutes after deferring; a lookup that takes longer than this is given up
# so that the user hears "not found" rather than nothing.
LOOKUP_TIMEOUT_SECONDS = 20.0
# TVmaze's single search always returns its best guess; a guess this unlike the asked title is not the show.
MIN_TITLE_SIMILARITY = 0.8


def resembles(asked: str, record: ShowRecord) -> bool:
    key = normalise(asked)
    if not key:
        return False
    for title in (record.title, *record.alt_titles):
        found = normalise(title)
        contained = len(key) >= 4 and f" {key} " in f" {found} "  # "jessica jones" -> "Marvel's Jessica Jones"
        if found == key or contained or SequenceMatcher(None, key, found).ratio() >= MIN_TITLE_SIMILARITY:
            return True
    return False


async def lookup_and_add(
    settings: Settings, db: Database, title: str, *, timeout_seconds: float = LOOKUP_TIMEOUT_SECONDS
) -> int | None:
    """Find `title` on the configured source, add it to the catalog and return its show id; None when no source is
    configured, the source has no such show, or it failed (logged, never raised)."""
    if settings.catalog_sync != "tvmaze":
        return None
    try:
        async with asyncio.timeout(timeout_seconds):
            async with TvmazeClient(settings.tvmaze_base_url, backoff_seconds=0.5) as client:
                record = await client.show_by_name(title)
    except (SourceError, TimeoutError) as exc:
        log.warning("Lookup of %r on TVmaze failed: %s", title, exc or "timed out")
        return None
    if record is None or not resembles(title, record):
        log.info("Lookup of %r on TVmaze: no such show", title)
        return None
    # The member is waiting: only the found show's popularity is derived now, against the catalog (not everyone's).
    summary = await asyncio.to_thread(partial(import_each, derive_popularity="changed"), db.location, [record])
    if summary.skipped:
        return None
    show_id = await db.fetchval("SELECT id FROM shows WHERE tvmaze_id = ?", (record.ids["tvmaze"],))
    log.info("Lookup of %r on TVmaze added or updated show %s", title, show_id)
    return int(show_id) if show_id is not None else None
