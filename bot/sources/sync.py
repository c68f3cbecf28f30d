"""Syncing the catalog from the live sources (TVmaze, TMDB): fetch, then import each show in its own transaction.

Every function returns an `ImportSummary` whose `skipped` names each show that could not be fetched or imported,
with the reason; a failed show is never half written (`import_each` rolls it back) and never stops the others.
Used by `python -m bot catalog sync ...` and the bot's background sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bot.catalog import ImportSummary, ShowRecord, connect_sync
from bot.sources.base import SourceError, import_each
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
    progress: Progress | None = None,
    total: Total | None = None,
) -> ImportSummary:
    """Refresh the catalog's shows that TVmaze changed in the last `period` (day, week or month)."""
    skipped: list[str] = []
    records: list[ShowRecord] = []
    async with TvmazeClient(base_url) as client:
        changed = await client.updated_since(period)
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
